"""Models of ``/healthz`` and ``/readyz``."""

from __future__ import annotations

from pydantic import BaseModel, Field

__all__ = ["Health", "Readiness"]


class Health(BaseModel):
    """The process is up."""

    status: str = Field(examples=["ok"])
    version: str = Field(examples=["0.1.0"])


class Readiness(BaseModel):
    """The store is reachable and its schema is current."""

    status: str = Field(examples=["ready"])
    graph_schema: int = Field(examples=[1])
    api_schema_current: bool = Field(examples=[True])
    read_only: bool = Field(examples=[False])
