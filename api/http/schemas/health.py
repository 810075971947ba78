"""Models of ``/healthz`` and ``/readyz``."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

__all__ = ["Health", "ProfileIndex", "Warmup", "Readiness"]


class Health(BaseModel):
    """The process is up."""

    status: str = Field(examples=["ok"])
    version: str = Field(examples=["0.1.0"])


class ProfileIndex(BaseModel):
    """The in-memory index behind user profiles (informational: not part of readiness)."""

    current: bool = Field(
        examples=[True], description="Built from the store as it is now (else rebuilding)."
    )
    users: int | None = Field(None, examples=[1000000])
    built_at: datetime | None = None
    build_seconds: float | None = Field(None, examples=[3.6])
    last_error: str | None = Field(None, description="Why the last rebuild failed, if it did.")


class Warmup(BaseModel):
    """The start-up warm-up of ``koc serve``: the latest run and the profile index."""

    status: Literal["warming", "ready", "failed"] = Field(examples=["ready"])
    step: str | None = Field(
        None, examples=["profile_index"], description="The step under way while warming."
    )
    seconds: float | None = Field(None, examples=[4.2], description="Time the warm-up took.")
    steps: dict[str, float] = Field(
        default_factory=dict,
        examples=[{"latest_run": 2.9, "profile_index": 1.3}],
        description="Seconds per finished step.",
    )
    error: str | None = Field(None, description="Why the warm-up failed, if it did.")


class Readiness(BaseModel):
    """The store is reachable and its schema is current; ``warming`` while ``koc serve``
    still loads the latest run and the profile index (requests are answered
    meanwhile, from the store), then ``ready``."""

    status: Literal["warming", "ready"] = Field(
        examples=["ready"],
        description="`warming` while the start-up warm-up runs (the API answers, more "
        "slowly), `ready` after it (or when it failed: see `warmup.error`).",
    )
    warmup: Warmup | None = Field(
        None, description="The start-up warm-up (absent when the app was started without one)."
    )
    graph_schema: int = Field(examples=[3])
    api_schema_current: bool = Field(examples=[True])
    read_only: bool = Field(examples=[False])
    profile_index: ProfileIndex | None = Field(
        None, description="State of the profile index; asking starts a build when needed."
    )
