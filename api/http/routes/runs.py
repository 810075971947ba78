"""``POST /v1/runs`` (start a ranking run), ``GET /v1/runs`` and ``GET /v1/runs/{id}``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request, status

from api.http.deps import RunSlotDep, StoreDep, WritableDep
from api.http.errors import ERROR_RESPONSES, error_responses
from api.http.routes.leaderboard import ID_PATTERN
from api.http.schemas.runs import RunCreate, RunPublic, RunsPublic
from api.http.security import AdminKey, ReadKey
from api.services.runs import run_status, start_run

__all__ = ["router"]

router = APIRouter(prefix="/runs", tags=["runs"])


@router.post(
    "",
    response_model=RunPublic,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Start a ranking run in the background",
    responses={**ERROR_RESPONSES, **error_responses(400, 409, 503)},
)
def post_run(
    request: Request,
    store: StoreDep,
    slot: RunSlotDep,
    key: AdminKey,
    writable: WritableDep,
    window: Annotated[RunCreate | None, Body()] = None,
) -> dict[str, Any]:
    """Scores every user over the window (default: all data) with the configured
    weights. Returns 202 with the `running` run; poll `GET /v1/runs/{id}`. One run at
    a time: a second request while one runs gets 409 `conflict`."""
    window = window or RunCreate(start=None, end=None)
    run = start_run(
        store,
        slot,
        config=request.app.state.settings.scoring_config,
        start=window.start,
        end=window.end,
    )
    return run_status(store, slot, run.run_id)


@router.get(
    "",
    response_model=RunsPublic,
    summary="Recent ranking runs, newest first",
    responses=ERROR_RESPONSES,
)
def list_runs(
    store: StoreDep,
    key: ReadKey,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict[str, Any]:
    runs = [r.__dict__ for r in store.list_runs(limit=limit)]
    return {"data": runs, "count": len(runs)}


@router.get(
    "/{run_id}",
    response_model=RunPublic,
    summary="One ranking run: status, timings, row counts",
    responses={**ERROR_RESPONSES, **error_responses(404)},
)
def get_run(
    run_id: Annotated[str, Path(pattern=ID_PATTERN)],
    store: StoreDep,
    slot: RunSlotDep,
    key: ReadKey,
) -> dict[str, Any]:
    """404 `not_found` for an unknown id."""
    return run_status(store, slot, run_id)
