"""``GET /v1/roles/{role}``: the employee, KOL and consumer views."""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request

from api.http.deps import SettingsDep, StoreDep
from api.http.errors import ERROR_RESPONSES, error_responses
from api.http.routes.leaderboard import ID_PATTERN
from api.http.schemas.roles import RoleView
from api.http.security import ReadKey
from api.services.roles import role_view
from api.services.store_view import store_view

__all__ = ["router"]

router = APIRouter(prefix="/roles", tags=["roles"])
#: Longest a role view is served from memory (it is recomputed sooner after any write).
ROLE_VIEW_TTL_S = 600


@router.get(
    "/{role}",
    response_model=RoleView,
    summary="Summary measures and top members of a role",
    responses={**ERROR_RESPONSES, **error_responses(400, 404)},
)
def get_role(
    request: Request,
    role: Literal["employee", "kol", "consumer"],
    store: StoreDep,
    settings: SettingsDep,
    key: ReadKey,
    run: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> dict[str, Any]:
    """Employees: customers they connect; KOLs: reach, engagement, conversion and GMV
    per fee; consumers: the KOC leaderboard, risers and communities. A view is
    computed once per ranking run (and at most every 10 minutes, as effective roles
    move with the clock) and served from memory; after a write of events, users or
    roles the last view is still answered while the new one is computed in the
    background (its `at` says when it was computed), so no request waits for one."""

    def compute() -> dict[str, Any]:
        with store_view(store) as view:
            return role_view(view, role, run_id=run, limit=limit, config=settings.scoring_config)

    bucket = int(time.time() // ROLE_VIEW_TTL_S)  # effective roles move with the clock
    latest = None if run is not None else store.latest_run("succeeded")
    cache_key = ("roles", role, run, limit, None if latest is None else latest.run_id, bucket)
    views = request.app.state.role_views
    return views.get(cache_key, store.revision(), compute)  # type: ignore[no-any-return]
