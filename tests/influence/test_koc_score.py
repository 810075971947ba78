"""The KOC score's definition: components from metric outputs, worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from graph.events import EventType
from influence.config import ENGAGEMENT_SIGNALS, ScoreConfig
from influence.evidence import EVIDENCE_RULES
from influence.koc_score import (
    active_components,
    component_details,
    component_values,
    engagement_value,
    score_components,
    staff_by_channel,
)
from influence.spend import RFM
from tests.influence.conftest import snapshot_from_pairs

# three users: u0 viewed by u1, u1 views its own share (a self-loop), u2 untouched
PAIRS = [(0, 1), (1, 1)]
SIGNALS = {
    "attributed_gmv_units": np.array([12_345, 0, 20_000], dtype=np.int64),
    "token_gmv_units": np.array([10_000, 0, 0], dtype=np.int64),
    "conversions": np.array([1, 0, 2], dtype=np.int64),
    "unique_audience": np.array([0, 0, 10], dtype=np.int64),
    "comments_received": np.array([1, 0, 0], dtype=np.int64),
    "forwards_received": np.array([0, 2, 0], dtype=np.int64),
    "shares_made": np.array([2, 0, 0], dtype=np.int64),
    "referrals_made": np.array([0, 0, 1], dtype=np.int64),
    "referrals_converted": np.array([0, 0, 1], dtype=np.int64),
    # influence.evidence: the conversion components read these
    "evidence.estimate": np.array([12_345.0, 0.0, 20_000.0]),
    "evidence.evidence_buyers": np.array([1.0, 0.0, 2.0]),
    "evidence.refund_share": np.array([0.0, 0.0, 0.5]),
    "evidence.staff_orders": np.array([0, 0, 0], dtype=np.int64),
    "evidence.collusive_orders": np.array([0, 0, 0], dtype=np.int64),
    "evidence.staff_channel": np.array([False, False, False]),
    "evidence.collusion": np.array([False, False, False]),
    **{f"evidence.buyers_{r}": np.array([1.0, 0.0, 0.0]) for r in EVIDENCE_RULES},
    **{f"evidence.gmv_{r}_units": np.array([10_000, 0, 0], np.int64) for r in EVIDENCE_RULES},
}


def test_engagement_value_is_weighted_sum_of_signals():
    # default weights: comments 0, forwards 2, shares 0.5, audience 1, referrals 1, converted 3
    got = engagement_value(SIGNALS, ScoreConfig().engagement)
    assert got.tolist() == pytest.approx([0.5 * 2, 2 * 2, 10 + 1 + 3])
    weights = ScoreConfig().engagement.model_copy(update={"comments_received": 1.0})
    assert engagement_value(SIGNALS, weights).tolist() == pytest.approx([1 + 0.5 * 2, 4, 14])


def test_component_values_convert_units_and_smooth_the_rate():
    got = component_values(
        pagerank=np.array([0.5, 0.3, 0.2]),
        reach=np.array([2.0, 0.4, 0.5]),
        signals=SIGNALS,
        engagement=np.zeros(3),
        spend=np.array([0.0, 0.7, 0.1]),
        rate_prior=10.0,
    )
    assert set(got) == {"pagerank", "reach", "conversion", "conversion_rate", "engagement", "spend"}
    assert got["conversion"].tolist() == pytest.approx([1.2345, 0.0, 2.0])  # units of 10**-4
    assert got["conversion_rate"].tolist() == pytest.approx([1 / 10, 0.0, 2 / 20])


def test_active_components_ignore_self_loops_and_tiny_reach():
    snap = snapshot_from_pairs(PAIRS, 3, etype=EventType.VIEW)
    got = active_components(snap, np.array([2.0, 0.4, 0.5]))
    assert got["pagerank"].tolist() == [True, False, False]  # only u0 was acted on by another
    assert got["reach"].tolist() == [True, False, True]


def test_score_components_hand_example():
    # only pagerank and conversion weigh, equally
    cfg = ScoreConfig.model_validate(
        {
            "weights": {
                "pagerank": 1.0,
                "reach": 0.0,
                "conversion": 1.0,
                "conversion_rate": 0.0,
                "engagement": 0.0,
                "spend": 0.0,
            }
        }
    )
    snap = snapshot_from_pairs(PAIRS, 3, etype=EventType.VIEW)
    result = score_components(
        snap,
        pagerank=np.array([0.5, 0.3, 0.2]),
        reach=np.array([2.0, 0.4, 0.5]),
        signals=SIGNALS,
        engagement=np.zeros(3),
        spend=np.zeros(3),
        config=cfg,
    )
    # pagerank: only u0 active -> percentile 1; conversion: u0 1.2345 < u2 2.0 among 2 active
    assert result.normalized["pagerank"].tolist() == pytest.approx([1.0, 0.0, 0.0])
    assert result.normalized["conversion"].tolist() == pytest.approx([0.5, 0.0, 1.0])
    assert result.score.tolist() == pytest.approx([0.5 * 1.0 + 0.5 * 0.5, 0.0, 0.5 * 1.0])
    # u2 flagged for collusion takes part in nothing: u0 is the only converter left
    flagged = {**SIGNALS, "evidence.collusion": np.array([False, False, True])}
    result = score_components(
        snap,
        pagerank=np.array([0.5, 0.3, 0.2]),
        reach=np.array([2.0, 0.4, 0.5]),
        signals=flagged,
        engagement=np.zeros(3),
        spend=np.zeros(3),
        config=cfg,
    )
    assert result.normalized["conversion"].tolist() == pytest.approx([1.0, 0.0, 0.0])
    assert result.score.tolist() == pytest.approx([1.0, 0.0, 0.0])


def test_staff_by_channel_overrides_consumers_and_unknowns_only():
    roles = np.array(["consumer", "unknown", "kol", "consumer", "employee"], dtype=object)
    channel = np.array([True, True, True, False, True])
    got, changed = staff_by_channel(roles, channel)
    assert got.tolist() == ["employee", "employee", "kol", "consumer", "employee"]
    assert changed == 2
    assert roles[0] == "consumer"  # the input is not modified


def test_component_details_name_every_signal_in_currency_units():
    rfm = RFM(
        buyer=np.array([True, False, True]),
        recency_days=np.array([1.0, np.nan, 3.0]),
        frequency=np.array([1, 0, 2], dtype=np.int64),
        monetary_units=np.array([5_000, 0, 25_000], dtype=np.int64),
    )
    got = component_details(SIGNALS, rfm)
    assert {f"engagement.{s}" for s in ENGAGEMENT_SIGNALS} <= set(got)
    assert got["conversion.token_gmv"].tolist() == pytest.approx([1.0, 0.0, 0.0])
    assert got["conversion.attributed_gmv"].tolist() == pytest.approx([1.2345, 0.0, 2.0])
    assert got["spend.monetary"].tolist() == pytest.approx([0.5, 0.0, 2.5])
    assert got["conversion.gmv_code"].tolist() == pytest.approx([1.0, 0.0, 0.0])
    assert got["conversion.buyers_view"].tolist() == [1.0, 0.0, 0.0]
    assert got["conversion.refund_share"].tolist() == [0.0, 0.0, 0.5]
    assert got["flags.collusion"].tolist() == [0.0, 0.0, 0.0]
