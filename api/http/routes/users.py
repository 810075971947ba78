"""``GET /v1/users/{id}``, ``/users/{id}/referrals`` and ``/users/{id}/reach``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request

from api.http.deps import StoreDep, in_read_lane
from api.http.errors import ERROR_RESPONSES, error_responses
from api.http.routes.leaderboard import ID_PATTERN
from api.http.schemas.referrals import ReferralsPublic
from api.http.schemas.users import ReachPublic, UserProfile
from api.http.security import ReadKey
from api.services.profiles import referral_tree, user_view
from api.services.reach import MAX_HOPS, user_reach

__all__ = ["router"]

router = APIRouter(prefix="/users", tags=["users"])

UserId = Annotated[str, Path(pattern=ID_PATTERN, description="The user's id.", examples=["u42"])]


@router.get(
    "/{user_id}",
    response_model=UserProfile,
    summary="A user's profile: score, breakdown, role, rank history, referrals",
    responses={**ERROR_RESPONSES, **error_responses(404)},
)
async def get_user(
    request: Request,
    user_id: UserId,
    store: StoreDep,
    key: ReadKey,
    run: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
) -> dict[str, Any]:
    """404 `not_found` when the user is not in the run (or there is no run yet).

    Role, rank history and referral counts come from an in-memory index of all
    users; after a write they may lag by up to `api_profile_max_stale_s` seconds
    while it rebuilds (`/users/{id}/referrals` always reads the store)."""

    def view() -> dict[str, Any]:
        return user_view(store, user_id, run, facts=request.app.state.facts.get(store))

    return await in_read_lane(request, view)


@router.get(
    "/{user_id}/referrals",
    response_model=ReferralsPublic,
    summary="Referral upline and downline per level, with counts and GMV",
    responses={**ERROR_RESPONSES, **error_responses(404)},
)
def get_referrals(
    user_id: UserId,
    store: StoreDep,
    key: ReadKey,
    levels: Annotated[int, Query(ge=1, le=3, description="Levels up and down.")] = 3,
) -> dict[str, Any]:
    """Who referred the user (level 1 = direct referrer) and, per level below, how many
    users they brought in, how many bought, and their GMV net of refunds."""
    return referral_tree(store, user_id, levels)


@router.get(
    "/{user_id}/reach",
    response_model=ReachPublic,
    summary="Exact k-hop reach of a user, computed on demand",
    responses={**ERROR_RESPONSES, **error_responses(404, 503)},
)
def get_reach(
    request: Request,
    user_id: UserId,
    store: StoreDep,
    key: ReadKey,
    hops: Annotated[int, Query(ge=1, le=MAX_HOPS)] = 3,
) -> dict[str, Any]:
    """Breadth-first search over views, forwards and referrals. Answers 503
    `deadline_exceeded` with `Retry-After` when it cannot finish within the budget."""
    state = request.app.state
    return user_reach(store, state.snapshot_cache, user_id, hops, state.reach_budget_s)
