"""Models of ``GET /users/{id}/referrals``."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from api.http.schemas.money import Money

__all__ = ["UplineMember", "DownlineLevel", "ReferralsPublic"]


class UplineMember(BaseModel):
    """One referrer above the user (level 1 = direct referrer)."""

    level: int = Field(examples=[1])
    user_id: str = Field(examples=["u17"])
    referred_at: datetime | None = None


class DownlineLevel(BaseModel):
    """Users referred at one level below the user, with their buyers and net GMV."""

    level: int = Field(examples=[1])
    users: int = Field(examples=[12])
    buyers: int = Field(examples=[5])
    gmv: Money = Field(examples=["1250.00"], description="Orders net of refunds.")


class ReferralsPublic(BaseModel):
    """A user's referral upline and downline, per level."""

    user_id: str = Field(examples=["u42"])
    levels: int = Field(examples=[3])
    upline: list[UplineMember]
    downline: list[DownlineLevel]
    downline_users: int = Field(examples=[20])
    downline_gmv: Money = Field(examples=["3400.00"])
