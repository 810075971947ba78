"""``/v1/segments`` (saved audiences, their members as pages or CSV) and ``/v1/tags``."""

from __future__ import annotations

import io
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response, status

from api.http.deps import StoreDep, WritableDep, in_read_lane
from api.http.errors import ERROR_RESPONSES, error_responses
from api.http.routes.leaderboard import ID_PATTERN
from api.http.schemas.segments import (
    MembersPage,
    SegmentCreate,
    SegmentDetail,
    SegmentPublic,
    SegmentsPublic,
    TagChanges,
    TagsPublic,
    TagWriteResult,
    UserTagPublic,
)
from api.http.security import IngestKey, ReadKey
from api.services import segments, tags

__all__ = ["router"]

router = APIRouter(tags=["segments"])
NAME = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_\-]{0,63}$")]
RUN = Annotated[str | None, Query(pattern=ID_PATTERN, description="Run id (default: the latest).")]


@router.get(
    "/segments",
    response_model=SegmentsPublic,
    summary="Saved and built-in segments with their members in the latest run",
    responses=ERROR_RESPONSES,
)
async def list_segments(request: Request, store: StoreDep, key: ReadKey) -> dict[str, Any]:
    rows = await in_read_lane(request, segments.list_segments, store)
    return {"data": rows, "count": len(rows)}


@router.post(
    "/segments",
    response_model=SegmentPublic,
    status_code=status.HTTP_201_CREATED,
    summary="Save a segment (a new version when the name exists)",
    responses={**ERROR_RESPONSES, **error_responses(400, 404, 422)},
)
def create_segment(
    body: SegmentCreate, store: StoreDep, key: IngestKey, writable: WritableDep
) -> dict[str, Any]:
    """Checks the expression against the latest run: a syntax error, an unknown name or a
    type mismatch is 422 `invalid_segment` with `details.position` and `details.caret`."""
    return segments.create_segment(
        store,
        body.name,
        body.expression,
        description=body.description,
        created_by=f"api:{key.name}",
    )


@router.get(
    "/segments/{name}",
    response_model=SegmentDetail,
    summary="One segment: versions, members now and in the previous run",
    responses={**ERROR_RESPONSES, **error_responses(404)},
)
async def show_segment(
    request: Request, name: NAME, store: StoreDep, key: ReadKey, run: RUN = None
) -> dict[str, Any]:
    return await in_read_lane(request, segments.show_segment, store, name, run_id=run)


@router.get(
    "/segments/{name}/members",
    response_model=MembersPage,
    summary="A segment's members, paged (or every member as CSV)",
    responses={
        **ERROR_RESPONSES,
        **error_responses(400, 404),
        200: {"content": {"text/csv": {}}, "description": "JSON page, or CSV with format=csv"},
    },
)
async def segment_members(
    request: Request,
    name: NAME,
    store: StoreDep,
    key: ReadKey,
    run: RUN = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
    format: Annotated[
        Literal["json", "csv"],
        Query(description="`csv`: every member (limit and offset ignored), as a download."),
    ] = "json",
) -> Any:
    """Members in rank order with `rank`, `user_id`, `score`, `role`, `community`,
    `stage`, `tier`, `channel_pref`; page on with `offset=next_offset`."""
    if format == "csv":
        buffer = io.BytesIO()
        await in_read_lane(request, segments.export_members, store, name, buffer, run_id=run)
        return Response(
            buffer.getvalue(),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    return await in_read_lane(
        request, segments.members, store, name, run_id=run, limit=limit, offset=offset
    )


@router.get(
    "/tags",
    response_model=TagsPublic,
    summary="User tags in effect (users per tag) and the fact tags of every run",
    responses=ERROR_RESPONSES,
)
def list_tags(store: StoreDep, key: ReadKey) -> dict[str, Any]:
    return tags.list_tags(store)


@router.post(
    "/tags",
    response_model=TagWriteResult,
    summary="Set or remove user tags",
    responses={**ERROR_RESPONSES, **error_responses(400, 422)},
)
def post_tags(
    body: TagChanges, store: StoreDep, key: IngestKey, writable: WritableDep
) -> dict[str, Any]:
    """All or nothing: one bad change (a fact tag's name, control characters) is 422 and
    stores nothing. Each change is kept with source `api:<key name>` and its time."""
    return tags.set_tags(store, [c.model_dump() for c in body.changes], source=f"api:{key.name}")


@router.get(
    "/tags/{user_id}",
    response_model=list[UserTagPublic],
    summary="One user's tags (user and fact tags), each with its source and time",
    responses={**ERROR_RESPONSES, **error_responses(404)},
)
async def user_tags(
    request: Request,
    user_id: Annotated[str, Path(pattern=ID_PATTERN)],
    store: StoreDep,
    key: ReadKey,
    run: RUN = None,
) -> list[dict[str, Any]]:
    """User tags (source: the file or `api:<key name>`) and the fact tags of the run
    (default: the latest; source `run:<run id>` with the rule, or `ledger:<entry id>`
    for `fraud_held`)."""
    return await in_read_lane(request, tags.user_tags, store, user_id, run_id=run)
