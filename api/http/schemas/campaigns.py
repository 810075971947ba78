"""Models of ``POST /campaigns/plan``, its job and the stored plans."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.http.schemas.money import Money

__all__ = ["PlanCreate", "PlanSeed", "SpreadPublic", "PlanPublic", "PlanJobPublic"]


class PlanCreate(BaseModel):
    """What to plan (the options of ``koc campaign plan``)."""

    model_config = ConfigDict(extra="forbid")

    k: int = Field(50, ge=1, le=100_000, description="Seeds to choose (with a budget: the most).")
    epsilon: float = Field(0.2, gt=0, lt=1, description="IMM's approximation slack.")
    model: Literal["ic", "lt"] = "ic"
    algorithm: Literal["imm", "celf"] = "imm"
    probability: Literal["learned", "global"] = "learned"
    global_p: float = Field(0.01, ge=0, le=1)
    segment: str | None = Field(None, description="Only members of this saved segment.")
    exclude_recent_seeds: float | None = Field(
        None, ge=0, description="Leave out seeds of plans recorded in the last so many days."
    )
    exclude: list[str] = Field(default_factory=list, max_length=100_000)
    budget: Decimal | None = Field(None, gt=0, description="Largest total seed cost.")
    cost_field: str | None = Field(None, description="User attrs key with each seed's cost.")
    runs: int = Field(1000, ge=2, le=100_000, description="Simulations per interval.")
    seed: int = Field(0, ge=0, le=2**31 - 1)
    start: datetime | None = None
    end: datetime | None = None


class PlanSeed(BaseModel):
    """One seed, in the order chosen."""

    user_id: str
    marginal_gain: float = Field(description="Estimated extra users reached by adding this seed.")
    cost: Money | None = Field(None, description="The seed's cost (money, 2 decimals for CNY).")


class SpreadPublic(BaseModel):
    """Expected spread from independent simulations, with its 95% interval."""

    mean: float
    low: float
    high: float
    sd: float | None = None
    runs: int | None = None


class PlanPublic(BaseModel):
    """A recorded plan."""

    plan_id: str
    created_at: datetime
    algorithm: str
    model: str
    params: dict[str, Any]
    seeds: list[PlanSeed]
    expected_spread: SpreadPublic
    baselines: dict[str, dict[str, Any]] = Field(
        description="top_koc_score (when a run exists), top_degree, random: same simulations."
    )
    details: dict[str, Any]


class PlanJobPublic(BaseModel):
    """A plan being computed in the background: poll until ``status`` is not ``running``."""

    job_id: str
    status: Literal["running", "succeeded", "failed"]
    step: str | None = None
    plan: PlanPublic | None = None
    error: dict[str, str] | None = None
