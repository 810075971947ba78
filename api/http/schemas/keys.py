"""Models of ``GET /keys`` and ``DELETE /keys/{key_id}`` (scope ``admin``)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

__all__ = ["KeyPublic", "KeysPublic"]


class KeyPublic(BaseModel):
    """An API key without its secret (only its hash is stored)."""

    key_id: str = Field(examples=["1a2b3c4d"])
    name: str = Field(examples=["marketing"])
    scopes: list[str] = Field(examples=[["read"]])
    created_at: datetime
    revoked_at: datetime | None = Field(None, description="Set once revoked; null while active.")


class KeysPublic(BaseModel):
    """Stored keys, oldest first."""

    data: list[KeyPublic]
    count: int
