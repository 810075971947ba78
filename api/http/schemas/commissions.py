"""Models of ``GET /commissions`` and ``GET /commissions/statements/{beneficiary}``."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field

from api.http.schemas.money import InCurrency, Money

__all__ = ["LedgerEntry", "LedgerPage", "StatementPublic"]


class LedgerEntry(InCurrency):
    """One append-only ledger entry (a commission, a reversal, ...), with its derived status."""

    seq: int = Field(examples=[1201])
    entry_id: str = Field(examples=["e-7f3a"])
    kind: str | None = Field(None, examples=["commission"])
    model: str | None = Field(None, examples=["referral"])
    order_id: str | None = Field(None, examples=["o77"])
    buyer: str | None = Field(None, examples=["u2"])
    beneficiary: str | None = Field(None, examples=["u1"])
    beneficiary_role: str | None = Field(None, examples=["consumer"])
    level: int | None = Field(None, examples=[1])
    rule_version: str | None = None
    basis: Money | None = Field(None, examples=["199.00"])
    rate: Decimal | None = Field(None, examples=["0.05"])
    amount: Money | None = Field(None, examples=["9.95"])
    currency: str | None = Field(None, examples=["CNY"])
    event_ts: datetime | None = None
    payable_at: datetime | None = None
    period: str | None = Field(None, examples=["2026-03"])
    status: str | None = Field(None, examples=["payable"])
    reason: str | None = None
    hold_reason: str | None = None
    orig_entry_id: str | None = None
    settled_period: str | None = None


class LedgerPage(BaseModel):
    """One page of ledger entries in ledger order."""

    count: int = Field(examples=[100])
    data: list[LedgerEntry]
    next_cursor: str | None = None


class StatementPublic(InCurrency):
    """A beneficiary's statement for one period (money as text at the currency's decimals)."""

    beneficiary: str = Field(examples=["u1"])
    period: str = Field(examples=["2026-03"])
    currency: str = Field(examples=["CNY"])
    closed: bool
    as_of: datetime
    opening: Money = Field(description="Closing balance of the previous close.")
    commissions: Money = Field(description="Commissions and bonuses booked in the period.")
    reversals: Money = Field(description="Reversals booked in the period (negative).")
    brought_forward: Money = Field(
        description="Entries of earlier periods still unsettled (held or pending then)."
    )
    held: Money = Field(description="Due entries on a fraud or policy hold.")
    pending: Money = Field(description="Due entries still in their holding period.")
    accrued: Money = Field(description="Due entries settled by the period's close.")
    gross_payable: Money = Field(description="opening + accrued (before the minimum payout).")
    paid: Money = Field(description="Paid out by the close (0 while the period is open).")
    closing: Money = Field(description="gross_payable - paid, carried to the next period.")
    lines: list[dict[str, Any]]
