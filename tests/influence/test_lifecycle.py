"""Lifecycle stages, KOC tiers, RFM segments and channel preference on hand-made users."""

from __future__ import annotations

import numpy as np

from influence.channels import channel_performance, channel_top, preferred_channel
from influence.lifecycle import (
    RFM_SEGMENTS,
    STAGES,
    TIERS,
    koc_tiers,
    lifecycle_stages,
    rfm_segments,
)

INF = np.inf


def _stages(rows: list[tuple]) -> list[str]:
    """rows of (last_action_days, orders, actions, referrals, recent, earlier)."""
    cols = np.array(rows, dtype=float).T
    codes = lifecycle_stages(
        last_action_days=cols[0],
        orders=cols[1],
        actions=cols[2],
        referrals=cols[3],
        recent_actions=cols[4],
        earlier_actions=cols[5],
    )
    return [STAGES[c] for c in codes]


def test_lifecycle_stages_follow_the_rules_in_order() -> None:
    assert _stages(
        [
            (INF, 0, 0, 0, 0, 0),  # never acted: lost
            (91, 5, 9, 2, 0, 0),  # a loyal buyer silent for 91 days: lost
            (45, 5, 9, 2, 0, 9),  # silent for 45 days (> active_days 30): lapsing
            (2, 4, 10, 0, 1, 10),  # still acting but 10 -> 1 actions: lapsing
            (2, 3, 0, 0, 3, 2),  # 3 orders: loyal
            (2, 1, 0, 1, 2, 0),  # 1 order + 1 referral: loyal
            (2, 1, 0, 0, 1, 0),  # 1 order: trusting
            (2, 0, 3, 0, 3, 0),  # 3 shares/forwards/comments: trusting
            (2, 0, 2, 0, 5, 0),  # views only (actions 2 < 3): aware
        ]
    ) == ["lost", "lost", "lapsing", "lapsing", "loyal", "loyal", "trusting", "trusting", "aware"]


def test_lifecycle_decline_needs_enough_earlier_actions() -> None:
    # 3 -> 0 actions is below decline_min_actions (4): not lapsing on the decline rule
    assert _stages([(10, 0, 3, 0, 0, 3)]) == ["trusting"]
    # exactly half is not a decline (strictly below decline_ratio)
    assert _stages([(1, 0, 8, 0, 4, 8)]) == ["trusting"]


def test_lifecycle_thresholds_come_from_arguments() -> None:
    kw = dict(
        orders=[1.0], actions=[0.0], referrals=[0.0], recent_actions=[0.0], earlier_actions=[0.0]
    )
    assert STAGES[lifecycle_stages(last_action_days=[45.0], **kw)[0]] == "lapsing"
    assert STAGES[lifecycle_stages(last_action_days=[45.0], active_days=60, **kw)[0]] == "trusting"
    assert STAGES[lifecycle_stages(last_action_days=[45.0], lost_days=40, **kw)[0]] == "lost"


def test_koc_tiers_split_scored_users_by_rank() -> None:
    # 100 scored users (ranks 1..100) and 3 with score 0
    rank = np.arange(1, 104)
    score = np.r_[np.linspace(1, 0.01, 100), np.zeros(3)]
    tiers = [TIERS[c] for c in koc_tiers(rank, score)]
    assert tiers[:1] == ["A"] and tiers[1:5] == ["B"] * 4
    assert tiers[5:20] == ["C"] * 15 and tiers[20:100] == ["D"] * 80
    assert tiers[100:] == ["none"] * 3


def test_koc_tiers_ignore_row_order() -> None:
    rank = np.array([3, 1, 2, 4])
    score = np.array([0.5, 0.9, 0.7, 0.0])
    # of 3 scored users: A = ceil(0.99) = 1, B = ceil(1.98) = 2, C = 3
    tiers = [TIERS[c] for c in koc_tiers(rank, score, tier_a=0.33, tier_b=0.66, tier_c=1.0)]
    assert tiers == ["C", "A", "B", "none"]


def test_rfm_segments_by_hand() -> None:
    codes = rfm_segments(
        recency_days=np.array([5, 5, 5, 60, 5, 60, INF, 60]),
        orders=np.array([3, 3, 1, 2, 2, 1, 0, 5]),
        spend=np.array([2000, 10, 10, 10, 10, 10, 0, 5000]),
    )
    assert [RFM_SEGMENTS[c] for c in codes] == [
        "champion",
        "loyal",
        "new",
        "at_risk",
        "promising",
        "hibernating",
        "none",
        "loyal",
    ]


def test_channel_preference_weights_views_forwards_conversions() -> None:
    # user 0: 3 views on ch0, 2 forwards on ch1 (weight 2 -> 4): prefers ch1
    # user 1: 1 conversion on ch2 (weight 5) beats 4 views on ch0
    # user 2: nothing
    perf = channel_performance(
        n_users=3,
        n_channels=3,
        views=(np.array([0, 0, 0, 1, 1, 1, 1, -1]), np.array([0, 0, 0, 0, 0, 0, 0, 0])),
        forwards=(np.array([0, 0]), np.array([1, 1])),
        conversions=(np.array([1]), np.array([2])),
    )
    assert perf.tolist() == [[3, 4, 0], [4, 0, 5], [0, 0, 0]]
    assert preferred_channel(perf).tolist() == [1, 2, -1]
    assert channel_top(perf, 0, 5).tolist() == [1, 0]
    assert channel_top(perf, 2, 5).tolist() == [1]


def test_channel_preference_ties_go_to_the_first_channel() -> None:
    perf = np.array([[2.0, 2.0]])
    assert preferred_channel(perf).tolist() == [0]
