"""Models of ``GET /users/{id}`` and ``GET /users/{id}/reach``."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from api.http.schemas.money import Money

__all__ = [
    "Component",
    "RoleInfo",
    "RankPoint",
    "ReferralStats",
    "UserProfile",
    "ReachPublic",
]


class Component(BaseModel):
    """One component of the KOC score: raw metric, percentile, weight, contribution."""

    component: str = Field(examples=["conversion"])
    weight: float | None = Field(None, examples=[0.4])
    raw: float | None = Field(None, examples=[1520.0])
    normalized: float | None = Field(None, examples=[0.97])
    contribution: float | None = Field(None, examples=[0.388])


class RoleInfo(BaseModel):
    """The user's effective role now, and where it comes from."""

    role: str | None = Field(None, examples=["consumer"])
    source: str = Field(examples=["declared"], description="declared | inferred | unknown")
    inferred: bool = Field(examples=[False])
    confidence: float | None = Field(None, examples=[1.0])
    model_version: str | None = None


class RankPoint(BaseModel):
    """The user's rank in one recent run."""

    run_id: str
    created_at: datetime
    rank: int = Field(examples=[12])
    score: float = Field(examples=[0.87])


class ReferralStats(BaseModel):
    """Referral counts over the commission levels."""

    referred_by: str | None = Field(None, examples=["u7"])
    direct_referrals: int = Field(examples=[4])
    downline_users: int = Field(examples=[11])
    downline_buyers: int = Field(examples=[6])
    downline_gmv: Money = Field(examples=["2300.00"])
    levels: int = Field(examples=[3])


class UserProfile(BaseModel):
    """A user's score, breakdown, role, community, rank history and referrals."""

    user_id: str = Field(examples=["u42"])
    run_id: str = Field(examples=["r20260201T000000-3f2a1b"])
    rank: int = Field(examples=[12])
    score: float = Field(examples=[0.87])
    role: str | None = Field(None, examples=["consumer"])
    community: int | None = Field(None, examples=[3])
    previous_rank: int | None = Field(None, examples=[15])
    rank_change: int | None = Field(None, examples=[3])
    components: list[Component]
    details: dict[str, float | None] = Field(
        default_factory=dict, examples=[{"engagement.comments_received": 14.0}]
    )
    role_info: RoleInfo
    rank_history: list[RankPoint]
    referrals: ReferralStats


class ReachPublic(BaseModel):
    """Exact number of distinct users reached within 1..hops hops (cumulative)."""

    user_id: str = Field(examples=["u42"])
    hops: int = Field(examples=[3])
    reach: list[int] = Field(examples=[[12, 80, 310]])
    edge_types: list[str] = Field(examples=[["view", "forward", "referral"]])
    seconds: float = Field(examples=[0.004])
