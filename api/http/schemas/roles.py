"""Model of ``GET /roles/{role}``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["RoleView"]


class RoleView(BaseModel):
    """Summary measures and top members of one role.

    ``employee``: ``summary`` (connected vs unconnected customers), ``items`` (per
    employee) and ``stores``; ``kol``: ``summary``, ``items`` (reach, engagement,
    conversion, GMV, GMV per fee) and ``overlap`` (audience Jaccard pairs);
    ``consumer``: ``items`` (the KOC leaderboard with breakdown), ``rising`` and
    ``communities``. Money is a decimal string.
    """

    model_config = ConfigDict(extra="allow")

    role: str = Field(examples=["kol"])
    at: str = Field(examples=["2026-03-01T00:00:00+00:00"])
    counts: dict[str, int] = Field(examples=[{"total": 40, "declared": 38, "inferred": 2}])
    summary: dict[str, Any] | None = None
    items: list[dict[str, Any]] = Field(default_factory=list)
