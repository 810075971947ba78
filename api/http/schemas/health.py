"""Models of ``/healthz`` and ``/readyz``."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

__all__ = ["Health", "ProfileIndex", "Readiness"]


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


class Readiness(BaseModel):
    """The store is reachable and its schema is current."""

    status: str = Field(examples=["ready"])
    graph_schema: int = Field(examples=[3])
    api_schema_current: bool = Field(examples=[True])
    read_only: bool = Field(examples=[False])
    profile_index: ProfileIndex | None = Field(
        None, description="State of the profile index; asking starts a build when needed."
    )
