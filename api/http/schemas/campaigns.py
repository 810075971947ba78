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

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"k": 50, "epsilon": 0.2},
                {"k": 20, "segment": "at_risk_kocs", "exclude_recent_seeds": 30, "model": "lt"},
                {"k": 100, "budget": "5000.00", "cost_field": "sample_cost"},
                {"k": 50, "probability": "global", "global_p": 0.01},
            ]
        },
    )

    k: int = Field(
        50,
        ge=1,
        le=100_000,
        description="Seeds to choose (with a budget: the most).",
        examples=[50],
    )
    epsilon: float = Field(
        0.2,
        gt=0,
        lt=1,
        description="IMM's approximation slack: the seeds' spread is at least "
        "(1 - 1/e - epsilon) of the best K's with probability at least 1 - 1/n^ell.",
        examples=[0.2],
    )
    model: Literal["ic", "lt"] = Field(
        "ic", description="Diffusion model: independent cascade or linear threshold."
    )
    algorithm: Literal["imm", "celf"] = Field(
        "imm",
        description="IMM (Tang, Shi, Xiao 2015; scales) or CELF (Leskovec et al. 2007) on "
        "Monte-Carlo spread (`runs` worlds; small graphs only).",
    )
    probability: Literal["learned", "global"] = Field(
        "learned",
        description="`learned`: each tie's probability from history (Goyal et al. 2010, "
        "smoothed toward a global Beta prior); `global`: `global_p` for every tie (the "
        "Neo4j GDS mode).",
    )
    global_p: float = Field(
        0.01, ge=0, le=1, description="Every tie's probability with `probability=global`."
    )
    segment: str | None = Field(
        None,
        description="Only members of this saved or built-in segment (in the latest run) may "
        "be seeds; 404 for an unknown segment.",
        examples=["at_risk_kocs"],
    )
    exclude_recent_seeds: float | None = Field(
        None,
        ge=0,
        description="Leave out seeds of plans recorded in the last so many days.",
        examples=[30],
    )
    exclude: list[str] = Field(
        default_factory=list, max_length=100_000, description="Users who must not be seeds."
    )
    budget: Decimal | None = Field(
        None,
        gt=0,
        description="Largest total seed cost (a decimal string); needs `cost_field`.",
        examples=["5000.00"],
    )
    cost_field: str | None = Field(
        None,
        description="The user `attrs` key holding each user's seed cost; users without it "
        "are never seeds. Needs `budget`.",
        examples=["sample_cost"],
    )
    runs: int = Field(
        1000,
        ge=2,
        le=100_000,
        description="Independent simulations behind each expected spread and its interval.",
    )
    seed: int = Field(0, ge=0, le=2**31 - 1, description="Random seed: same seed, same plan.")
    start: datetime | None = Field(
        None, description="History window start (inclusive, timezone-aware)."
    )
    end: datetime | None = Field(None, description="History window end (exclusive).")


class PlanSeed(BaseModel):
    """One seed, in the order chosen."""

    user_id: str = Field(examples=["u000123"])
    marginal_gain: float = Field(
        description="Estimated extra users reached by adding this seed to those before it.",
        examples=[41.7],
    )
    cost: Money | None = Field(
        None, description="The seed's cost (plans with a budget; money, 2 decimals for CNY)."
    )


class SpreadPublic(BaseModel):
    """Expected spread from independent simulations, with its 95% interval."""

    mean: float = Field(description="Mean users reached (seeds included).", examples=[812.4])
    low: float = Field(description="Lower end of the 95% confidence interval.", examples=[803.9])
    high: float = Field(description="Upper end of the 95% confidence interval.", examples=[820.9])
    sd: float | None = Field(None, description="Standard deviation of one simulation.")
    runs: int | None = Field(None, description="Simulations.", examples=[1000])


class PlanPublic(BaseModel):
    """A recorded plan."""

    plan_id: str = Field(examples=["3f9a1c0d2b7e"])
    created_at: datetime
    algorithm: str = Field(examples=["imm"])
    model: str = Field(examples=["ic"])
    params: dict[str, Any] = Field(description="The request, with every default filled in.")
    seeds: list[PlanSeed] = Field(description="The seeds in the order chosen.")
    expected_spread: SpreadPublic = Field(
        description="The seeds' spread from `runs` independent simulations (not the "
        "RR-set estimate the algorithm maximised)."
    )
    baselines: dict[str, dict[str, Any]] = Field(
        description="Same simulations for other K-sets, each `{mean, low, high, sd, runs, "
        "seeds}`: `top_koc_score` (top K of the latest run's KOC score, with `run_id`; only "
        "when a run exists), `top_degree` (most distinct people reached by one tie), "
        "`random` (K allowed users drawn with `seed`)."
    )
    details: dict[str, Any] = Field(
        description="Algorithm facts (IMM: `epsilon`, `ell`, `theta`, `lower_bound`, `sampled`), the learned "
        "`probability_prior`, `ties`, `users`, `candidates`, `total_cost`, input `counts`."
    )
    reviews: list[dict[str, Any]] | None = Field(
        None,
        description="Stored plans: their reviews (`koc campaign review`), oldest first: "
        "`realised_spread`, `orders`, `gmv` next to `predicted_spread`.",
    )


class PlanJobPublic(BaseModel):
    """A plan being computed in the background: poll until ``status`` is not ``running``."""

    job_id: str = Field(examples=["3f9a1c0d2b7e"])
    status: Literal["running", "succeeded", "failed"]
    step: str | None = Field(
        None,
        description="While running: reading interactions, learning probabilities, choosing "
        "seeds, simulating, saving.",
        examples=["choosing seeds"],
    )
    plan: PlanPublic | None = Field(None, description="When succeeded: the plan (also stored).")
    error: dict[str, str] | None = Field(
        None,
        description="When failed: `{code, message}` as in the error format.",
        examples=[{"code": "not_found", "message": "No segment 'vip_2025'."}],
    )
