"""Commission data for the API through :mod:`referral.service`, one cursor per request.

The referral services read the ledger on the store's DuckDB connection; a
connection must not be shared by request threads, so each call here gets a
:class:`referral.ledger.Ledger` on a fresh cursor (:mod:`api.services.store_view`).
"""

from __future__ import annotations

from typing import Any

from api.services.pagination import Cursor, decode_cursor, encode_cursor, query_digest
from api.services.store_view import store_view
from graph.store import GraphStore
from referral import service
from referral.ledger import Ledger

__all__ = ["ledger_for", "entries_page", "statement_file", "MEDIA_TYPES"]

#: Content type of each statement format.
MEDIA_TYPES: dict[str, str] = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "html": "text/html; charset=utf-8",
}


def ledger_for(view: Any) -> Ledger:
    """A read-only ledger on the view's private cursor of the store's tables."""
    return Ledger.open(view, read_only=True)


def entries_page(
    store: GraphStore,
    *,
    period: str | None,
    beneficiary: str | None,
    status: str | None,
    limit: int,
    cursor: str | None,
) -> dict[str, Any]:
    """One page of :func:`referral.service.list_entries` with an opaque next cursor."""
    digest = query_digest(period=period, beneficiary=beneficiary, status=status)
    after = decode_cursor(cursor, digest).after if cursor is not None else None
    with store_view(store) as view:
        rows = service.list_entries(
            ledger_for(view),
            period=period,
            beneficiary=beneficiary,
            status=status,
            limit=limit + 1,
            after=after,
        )
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = (
        encode_cursor(Cursor("ledger", digest, int(rows[-1]["seq"]))) if more and rows else None
    )
    return {"count": len(rows), "data": rows, "next_cursor": next_cursor}


def statement_file(
    store: GraphStore,
    beneficiary: str,
    period: str,
    fmt: str,
    *,
    timezone: str,
) -> tuple[bytes | dict[str, Any], str]:
    """A statement as a dict (``json``) or rendered bytes, with its media type.

    Raises
    ------
    NotFoundError
        The beneficiary has no ledger entry or balance (the API answers 404).
    """
    with store_view(store) as view:
        st = service.statement(ledger_for(view), beneficiary, period, timezone=timezone)
    if fmt == "json":
        return st.to_dict(), MEDIA_TYPES["json"]
    return service.render_statement(st, fmt, tz=timezone), MEDIA_TYPES[fmt]
