"""Models of ``GET /leaderboard``."""

from __future__ import annotations

from pydantic import BaseModel, Field

__all__ = ["LeaderboardRow", "LeaderboardPage"]


class LeaderboardRow(BaseModel):
    """One leaderboard row: position, score, movement since the previous run, breakdown."""

    rank: int = Field(examples=[1], description="Position in this (filtered) leaderboard.")
    overall_rank: int = Field(examples=[7], description="Rank among all users of the run.")
    user_id: str = Field(examples=["u42"])
    score: float = Field(examples=[0.913])
    role: str | None = Field(None, examples=["consumer"])
    community: int | None = Field(None, examples=[3])
    previous_rank: int | None = Field(None, examples=[9])
    rank_change: int | None = Field(
        None, examples=[2], description="Previous overall rank minus this one (positive = rising)."
    )
    breakdown: dict[str, float] = Field(
        default_factory=dict,
        examples=[{"conversion": 0.36, "engagement": 0.18, "pagerank": 0.17}],
        description="Contribution of each component; they add up to the score.",
    )
    why: dict[str, float] = Field(
        default_factory=dict,
        examples=[
            {
                "conversion.buyers_token": 6,
                "conversion.buyers_code": 1,
                "conversion.buyers_view": 2,
                "conversion.buyers_referral": 0,
                "conversion.attributed_gmv": 1630.5,
                "conversion.evidence_buyers": 6.4,
                "conversion.refund_share": 0.04,
                "engagement.unique_audience": 38,
                "flags.staff_orders": 0,
                "flags.collusion": 0,
            }
        ],
        description="The score in facts: distinct buyers credited by each attribution rule, "
        "their GMV net of refunds, the evidence-weighted distinct buyers, the refund share, "
        "the audience, store-code (staff channel) orders and the collusion flag "
        "(docs/scoring.md).",
    )


class LeaderboardPage(BaseModel):
    """One page of the leaderboard."""

    run_id: str = Field(examples=["r20260201T000000-3f2a1b"])
    sort: str = Field(examples=["score"])
    count: int = Field(examples=[50], description="Rows in this page.")
    data: list[LeaderboardRow]
    next_cursor: str | None = Field(
        None, description="Pass as `cursor` for the next page; null on the last page."
    )
