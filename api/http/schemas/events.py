"""Models of ``POST /events``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

__all__ = ["TypeCounts", "RowError", "IngestResult", "EVENTS_EXAMPLE"]

EVENTS_EXAMPLE: list[dict[str, Any]] = [
    {"type": "user", "user_id": "u1", "role": "consumer", "display_name": "Lin"},
    {"type": "share", "sharer": "u1", "content_id": "c9", "ts": "2026-03-01T10:00:00Z"},
    {
        "type": "view",
        "viewer": "u2",
        "sharer": "u1",
        "content_id": "c9",
        "ts": "2026-03-01T10:05:00Z",
    },
    {
        "type": "order",
        "order_id": "o77",
        "buyer": "u2",
        "amount": "199.00",
        "currency": "CNY",
        "ts": "2026-03-01T11:00:00Z",
        "attribution_token": "c9",
    },
]


class TypeCounts(BaseModel):
    """Rows of one record type."""

    inserted: int
    duplicates: int
    rejected: int


class RowError(BaseModel):
    """Why one posted record was refused (it is kept in the quarantine)."""

    row: int | None = Field(None, examples=[3], description="0-based index in the batch.")
    message: str = Field(examples=["field 'amount' = '-5': amount must be >= 0"])


class IngestResult(BaseModel):
    """What a batch did: ``read == inserted + duplicates + rejected``."""

    read: int = Field(examples=[4])
    inserted: int = Field(examples=[3])
    duplicates: int = Field(examples=[0])
    rejected: int = Field(examples=[1])
    by_type: dict[str, TypeCounts] = Field(default_factory=dict)
    errors: list[RowError] = Field(
        default_factory=list, description="The first refused rows (at most 20), in order."
    )
    warnings: list[str] = Field(default_factory=list)
