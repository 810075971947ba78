"""Models of ``POST /runs`` and ``GET /runs/{id}``."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["RunCreate", "RunProgress", "RunPublic", "RunsPublic"]


class RunCreate(BaseModel):
    """Optional time window of a ranking run (default: all stored events)."""

    model_config = ConfigDict(extra="forbid")

    start: datetime | None = Field(None, examples=["2026-01-01T00:00:00Z"])
    end: datetime | None = Field(None, examples=["2026-02-01T00:00:00Z"])

    @model_validator(mode="after")
    def _window(self) -> RunCreate:
        for name in ("start", "end"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ValueError(f"'{name}' needs a timezone, e.g. 2026-01-01T00:00:00Z")
        if self.start and self.end and self.start >= self.end:
            raise ValueError("'start' must be before 'end'")
        return self


class RunProgress(BaseModel):
    """Where a running ranking is."""

    step: str = Field(examples=["pagerank"])
    done: int = Field(examples=[1])
    total: int = Field(examples=[7])


class RunPublic(BaseModel):
    """One ranking run: its status, window, timings and row counts."""

    run_id: str = Field(examples=["20260201T000000Z-3f2a"])
    status: str = Field(examples=["succeeded"], description="running | succeeded | failed")
    created_at: datetime
    window_start: datetime | None = None
    window_end: datetime | None = None
    watermark: datetime | None = None
    timings: dict[str, float] = Field(default_factory=dict, examples=[{"pagerank": 1.2}])
    row_counts: dict[str, int] = Field(default_factory=dict, examples=[{"users": 20000}])
    error: str | None = None
    progress: RunProgress | None = Field(
        None, description="Current step while this server is running the run."
    )


class RunsPublic(BaseModel):
    """Recent runs, newest first."""

    data: list[RunPublic]
    count: int
