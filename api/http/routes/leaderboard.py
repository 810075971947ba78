"""``GET /v1/leaderboard``: filtered, sorted, cursor-paginated leaderboard of a run."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from api.http.deps import StoreDep, in_read_lane
from api.http.errors import ERROR_RESPONSES, error_responses
from api.http.schemas.leaderboard import LeaderboardPage
from api.http.security import ReadKey
from api.services import ranking
from api.services.cache import FINISHED, PageCache
from api.services.pagination import Cursor, decode_cursor, encode_cursor, query_digest
from api.services.segments import segment_row_mask
from graph.events import Role
from graph.store import GraphStore

__all__ = ["router", "MAX_LIMIT", "leaderboard_page"]

router = APIRouter(tags=["leaderboard"])

MAX_LIMIT = 500
ID_PATTERN = r"^[A-Za-z0-9._:@+-]{1,128}$"
#: sort keys the ranking service offers
SortKey = StrEnum("SortKey", {key: key for key in ranking.SORT_KEYS})  # type: ignore[misc]
DEFAULT_SORT = SortKey("score")
RoleQuery = Annotated[Role | None, Query(description="Only users with this role.")]


def leaderboard_page(
    store: GraphStore,
    *,
    run_id: str | None,
    role: str | None,
    community: int | None,
    min_score: float | None,
    sort: str,
    include_staff: bool,
    limit: int,
    cursor: str | None,
    cache: PageCache | None = None,
    segment: str | None = None,
) -> dict[str, Any]:
    """One page of :func:`api.services.ranking.leaderboard` with an opaque next cursor.

    Pages of finished runs are kept in ``cache`` (they never change; a ``segment``'s
    pages are keyed by its mask's key, which moves with its version and the tags).
    """
    digest = query_digest(
        run=run_id,
        role=role,
        community=community,
        min_score=min_score,
        sort=sort,
        staff=include_staff,
        **({"segment": segment} if segment is not None else {}),
    )
    after = 0
    if cursor is not None:
        position = decode_cursor(cursor, digest)
        run_id, after = position.run_id, position.after
    run = ranking.resolve_run(store, run_id)
    resolved = run.run_id
    mask = None if segment is None else segment_row_mask(store, segment, resolved)

    def compute() -> list[dict[str, Any]]:
        return ranking.leaderboard(
            store,
            run_id=resolved,
            role=role,
            community=community,
            min_score=min_score,
            sort=sort,
            limit=limit + 1,
            after_rank=after,
            include_staff=include_staff,
            mask=mask,
        )

    if cache is not None and run.status in FINISHED:
        key = (
            "leaderboard",
            resolved,
            role,
            community,
            min_score,
            sort,
            include_staff,
            limit,
            after,
            None if mask is None else mask.key,
        )
        rows = cache.get_or_compute(key, compute)
    else:
        rows = compute()
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = (
        encode_cursor(Cursor(resolved, digest, int(rows[-1]["rank"]))) if more and rows else None
    )
    return {
        "run_id": resolved,
        "sort": sort,
        "count": len(rows),
        "data": rows,
        "next_cursor": next_cursor,
    }


@router.get(
    "/leaderboard",
    response_model=LeaderboardPage,
    summary="The KOC leaderboard of a ranking run",
    responses={**ERROR_RESPONSES, **error_responses(400, 404)},
)
async def get_leaderboard(
    request: Request,
    store: StoreDep,
    key: ReadKey,
    run: Annotated[
        str | None, Query(pattern=ID_PATTERN, description="Run id (default: the latest).")
    ] = None,
    role: RoleQuery = None,
    community: Annotated[int | None, Query(ge=0, le=2**31 - 1)] = None,
    min_score: Annotated[float | None, Query(ge=0.0, le=1.0)] = None,
    sort: Annotated[
        SortKey,
        Query(
            description="`score` (best first), `rank_change` (risers first) or a score "
            "component such as `pagerank` or `conversion` (highest raw value first)."
        ),
    ] = DEFAULT_SORT,
    include_staff: Annotated[
        bool, Query(description="Keep employees and KOLs when no role is given.")
    ] = False,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    cursor: Annotated[
        str | None, Query(max_length=512, description="`next_cursor` of the previous page.")
    ] = None,
    segment: Annotated[
        str | None,
        Query(
            pattern=r"^[a-z0-9][a-z0-9_\-]{0,63}$",
            description="Only members of this saved or built-in segment (`GET /v1/segments`).",
        ),
    ] = None,
) -> dict[str, Any]:
    """Users of a run ranked by KOC score (or by rank change), best first.

    Filters combine with AND. Staff (employees, KOLs) are left out unless a `role`
    is given or `include_staff=true`. Each row carries the user's contribution per
    score component. Pass `next_cursor` back as `cursor` for the next page.
    """
    return await in_read_lane(
        request,
        leaderboard_page,
        store,
        run_id=run,
        role=role.value if role else None,
        community=community,
        min_score=min_score,
        sort=sort.value,
        include_staff=include_staff,
        limit=limit,
        cursor=cursor,
        cache=request.app.state.page_cache,
        segment=segment,
    )
