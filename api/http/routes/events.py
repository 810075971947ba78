"""``POST /v1/events``: batch ingestion over HTTP (JSON array or NDJSON)."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from api.http.deps import StoreDep, WritableDep
from api.http.errors import ERROR_RESPONSES, ApiError, error_responses
from api.http.schemas.events import EVENTS_EXAMPLE, IngestResult
from api.http.security import IngestKey
from graph.events import EventType
from graph.ingest import IngestOptions, IngestSummary, ingest_records
from graph.ingest.readers import parse_json

__all__ = ["router", "read_body", "parse_records", "ingest_result", "MAX_BAD_LINES", "MAX_FIELDS"]

router = APIRouter(tags=["events"])

MAX_BAD_LINES = 20
_JSON_TYPES = ("application/json", "")
_NDJSON_TYPES = (
    "application/x-ndjson",
    "application/ndjson",
    "application/jsonl",
    "application/x-jsonlines",
)
#: A record as documented: ``type`` names its record type (or pass ``?type=``), the
#: other fields are those of :data:`graph.events.RECORD_SPECS` (strings, numbers).
RECORD_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type"],
    "properties": {
        "type": {"type": "string", "enum": [t.value for t in EventType]},
        "event_id": {"type": "string", "maxLength": 128},
    },
    "propertyNames": {"pattern": r"^[a-z_][a-z0-9_]{0,63}$"},
    "maxProperties": 64,
}
MAX_FIELDS = 64
_FIELD = re.compile(r"^[a-z_][a-z0-9_]{0,63}$")


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing (413) anything over ``limit`` bytes without reading it all."""
    too_big = ApiError(
        413,
        "payload_too_large",
        f"The request body exceeds {limit} bytes; split the batch.",
        details={"max_bytes": limit},
    )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_big
    size, chunks = 0, []
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_big
        chunks.append(chunk)
    return b"".join(chunks)


def _bad_json(message: str, details: list[dict[str, Any]]) -> ApiError:
    return ApiError(422, "invalid_json", message, details=details)


def _check_unicode(records: list[Any]) -> list[Any]:
    """Refuse text with unpaired UTF-16 surrogates (valid JSON escapes, invalid Unicode)."""
    try:
        json.dumps(records, ensure_ascii=False, default=str).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise _bad_json(
            "The body contains unpaired UTF-16 surrogate escapes (e.g. \\ud800); "
            "send valid Unicode text.",
            [{"field": "body", "message": str(exc)[:200], "type": "unicode_invalid"}],
        ) from exc
    return records


def _check_fields(records: list[Any]) -> list[Any]:
    """Refuse records whose field names are not plain identifiers (or too many fields)."""
    bad = []
    for n, record in enumerate(records):
        if isinstance(record, dict) and (
            len(record) > MAX_FIELDS or not all(_FIELD.match(k) for k in record)
        ):
            bad.append(
                {
                    "field": f"body.{n}",
                    "message": f"field names must match {_FIELD.pattern} (at most "
                    f"{MAX_FIELDS} fields per record)",
                    "type": "field_name_invalid",
                }
            )
    if bad:
        raise ApiError(
            422,
            "invalid_field_name",
            f"{len(bad)} record(s) have invalid field names; nothing was ingested.",
            details=bad[:MAX_BAD_LINES],
        )
    return records


def parse_records(body: bytes, content_type: str) -> list[Any]:
    """Decode a JSON array or NDJSON body into a list (non-objects are refused per row later).

    Raises
    ------
    ApiError
        415 for another media type; 422 for invalid JSON, invalid Unicode, or field
        names that are not identifiers.
    """
    return _check_fields(_check_unicode(_decode(body, content_type)))


def _decode(body: bytes, content_type: str) -> list[Any]:
    kind = content_type.split(";")[0].strip().lower()
    if kind in _NDJSON_TYPES:
        records, bad = [], []
        for n, line in enumerate(body.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                records.append(parse_json(line))
            except (ValueError, UnicodeDecodeError) as exc:
                bad.append({"field": f"body.line.{n}", "message": str(exc), "type": "json_invalid"})
        if bad:
            raise _bad_json(
                f"{len(bad)} NDJSON line(s) are not valid JSON; nothing was ingested.",
                bad[:MAX_BAD_LINES],
            )
        return records
    if kind not in _JSON_TYPES:
        raise ApiError(
            415,
            "unsupported_media_type",
            "Send application/json (an array of records) or application/x-ndjson.",
        )
    try:
        data = parse_json(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _bad_json(
            "The body is not valid JSON.",
            [{"field": "body", "message": str(exc), "type": "json_invalid"}],
        ) from exc
    if not isinstance(data, list):
        raise _bad_json(
            "The body must be a JSON array of records.",
            [{"field": "body", "message": "expected an array", "type": "list_type"}],
        )
    return data


def ingest_result(summary: IngestSummary) -> dict[str, Any]:
    """The response body of a batch: counts and the first refused rows."""
    data = summary.to_dict()
    errors = [{"row": r.row, "message": r.detail} for r in summary.reject_samples]
    return {
        "read": data["read"],
        "inserted": data["inserted"],
        "duplicates": data["duplicates"],
        "rejected": data["rejected"],
        "by_type": data["by_type"],
        "errors": errors,
        "warnings": data["warnings"],
    }


@router.post(
    "/events",
    response_model=IngestResult,
    summary="Ingest a batch of records (JSON array or NDJSON)",
    responses={**ERROR_RESPONSES, **error_responses(413, 415, 503)},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"type": "array", "items": RECORD_SCHEMA, "maxItems": 100000},
                    "example": EVENTS_EXAMPLE,
                },
                "application/x-ndjson": {
                    "schema": {"type": "string"},
                    "example": "\n".join(json.dumps(r) for r in EVENTS_EXAMPLE),
                },
            },
        }
    },
)
async def post_events(
    request: Request,
    store: StoreDep,
    key: IngestKey,
    writable: WritableDep,
    type: Annotated[
        EventType | None,
        Query(description="Record type of every row; otherwise each record's `type` field."),
    ] = None,
) -> dict[str, Any]:
    """Validate and load records with the same rules as `koc ingest`: refused rows are
    quarantined and listed in `errors`, valid rows load. Idempotent by `event_id`
    (given, or derived from the record): posting the same batch twice inserts nothing
    the second time. Bodies over the configured limit get 413."""
    settings = request.app.state.settings
    body = await read_body(request, settings.api_max_body_bytes)
    records = parse_records(body, request.headers.get("content-type", ""))
    summary = await run_in_threadpool(
        lambda: ingest_records(
            store,
            records,
            IngestOptions.from_settings(
                settings, event_type=type, max_rejects=settings.api_max_rejects
            ),
            source="api",
        )
    )
    request.app.state.facts.invalidate()  # profiles notice the write on the next request
    return ingest_result(summary)
