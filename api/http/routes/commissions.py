"""``GET /v1/commissions`` and ``GET /v1/commissions/statements/{beneficiary}`` (finance scope)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from api.http.deps import SettingsDep, StoreDep
from api.http.errors import ERROR_RESPONSES, error_responses
from api.http.routes.leaderboard import ID_PATTERN
from api.http.schemas.commissions import LedgerPage, StatementPublic
from api.http.security import FinanceKey
from api.services.ledger_views import MEDIA_TYPES, entries_page, statement_file
from referral.ledger import STATUSES

__all__ = ["router"]

router = APIRouter(prefix="/commissions", tags=["commissions"])

PERIOD = r"^(19[7-9][0-9]|2[0-9]{3})-(0[1-9]|1[0-2])$"  # 1970-01 .. 2999-12
EntryStatus = StrEnum("EntryStatus", {s: s for s in STATUSES})  # type: ignore[misc]


@router.get(
    "",
    response_model=LedgerPage,
    summary="Commission ledger entries by period, beneficiary and status",
    responses={**ERROR_RESPONSES, **error_responses(400)},
)
def list_commissions(
    store: StoreDep,
    key: FinanceKey,
    period: Annotated[str | None, Query(pattern=PERIOD, examples=["2026-03"])] = None,
    beneficiary: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    status: Annotated[EntryStatus | None, Query(description="Derived entry status.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> dict[str, Any]:
    """Entries in ledger order; pass `next_cursor` back as `cursor` for the next page."""
    return entries_page(
        store,
        period=period,
        beneficiary=beneficiary,
        status=status.value if status else None,
        limit=limit,
        cursor=cursor,
    )


@router.get(
    "/statements/{beneficiary}",
    response_model=StatementPublic,
    summary="A beneficiary's commission statement for a period (JSON, CSV, XLSX or HTML)",
    responses={
        200: {
            "content": {media: {} for fmt, media in MEDIA_TYPES.items() if fmt != "json"},
            "description": "The statement; JSON by default.",
        },
        **ERROR_RESPONSES,
        **error_responses(400, 404),
    },
)
def get_statement(
    beneficiary: Annotated[str, Path(pattern=ID_PATTERN, examples=["u1"])],
    store: StoreDep,
    settings: SettingsDep,
    key: FinanceKey,
    period: Annotated[str, Query(pattern=PERIOD, examples=["2026-03"])],
    format: Annotated[Literal["json", "csv", "xlsx", "html"], Query()] = "json",
) -> Any:
    """Opening balance, commissions, reversals, brought forward, held, pending,
    accrued, gross payable, paid and closing balance of the period (projected while the
    period is open; a closed period as of its close), with one line per due entry.
    404 when the beneficiary has never had a ledger entry or balance."""
    body, media = statement_file(
        store,
        beneficiary,
        period,
        format,
        timezone=settings.timezone,
    )
    if isinstance(body, dict):
        return body
    name = f"statement-{beneficiary}-{period}.{format}"
    return Response(
        body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )
