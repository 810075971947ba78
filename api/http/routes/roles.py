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
    computed once and served from memory until the store changes (any write of
    events, users or roles) or for at most 10 minutes (its `at` says when it was
    computed)."""

    def compute() -> dict[str, Any]:
        with store_view(store) as view:
            return role_view(view, role, run_id=run, limit=limit, config=settings.scoring_config)

    bucket = int(time.time() // ROLE_VIEW_TTL_S)  # effective roles move with the clock
    cache_key = ("roles", role, run, limit, store.revision(), bucket)
    return request.app.state.page_cache.get_or_compute(cache_key, compute)  # type: ignore[no-any-return]
