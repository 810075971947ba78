"""Evidence of caused conversions: strengths, staff channel, collusion, shrinkage (by hand)."""

from __future__ import annotations

import numpy as np
import pytest

from influence.engagement import RULE_NONE, RULE_REFERRAL, RULE_TOKEN, RULE_VIEW
from influence.evidence import (
    EvidenceSection,
    collusive_orders,
    conversion_evidence,
    new_purchases,
    tied_orders,
)

DAY = 86_400 * 1_000_000


def test_new_purchases_first_after_a_quiet_gap():
    buyer = np.array([1, 1, 1, 2, 1])
    ts = np.array([0, 5, 40, 3, 40]) * DAY
    # buyer 1: day 0 new, day 5 repeat (5 <= 30), day 40 new (35 > 30), second order at day 40 repeat
    assert new_purchases(buyer, ts, 30 * DAY).tolist() == [True, False, True, True, False]


def test_collusive_orders_shared_device_or_reciprocal_credit():
    # orders: 0 buys via 1, 1 buys via 0 (reciprocal); 2 buys via 3 sharing 3's device; 4 via 5
    buyer = np.array([0, 1, 2, 4, 5])
    credited = np.array([1, 0, 3, 5, -1])
    device = np.array([10, 11, 12, 12, 14, 15])
    phone = np.zeros(6, dtype=np.int64)
    assert collusive_orders(buyer, credited, device, phone).tolist() == [
        True,
        True,
        True,
        False,
        False,
    ]
    # unknown devices (0) never match
    assert not collusive_orders(np.array([2]), np.array([3]), np.zeros(6), np.zeros(6)).any()


def _evidence(**kw):
    n = 6
    base = dict(
        device=np.arange(1, n + 1),
        phone=np.zeros(n, dtype=np.int64),
        weights=EvidenceSection(
            view=0.2, referral=0.1, buyer_prior=1.0, staff_min_orders=2, staff_store_share=0.6
        ),
    )
    base.update(kw)
    return conversion_evidence(n, **base)


def test_conversion_evidence_strengths_and_shrinkage_by_hand():
    # user 0 credited: buyer 2 by token (new, 100), buyer 2 again by token 3 days later (repeat,
    # 50), buyer 3 by last view (200); user 1 credited: buyer 4 by referral (300)
    buyer = np.array([2, 2, 3, 4, 5])
    ts = np.array([0, 3, 1, 2, 9]) * DAY
    net = np.array([100, 50, 200, 300, 70])
    credited = np.array([0, 0, 0, 1, -1])
    rule = np.array([RULE_TOKEN, RULE_TOKEN, RULE_VIEW, RULE_REFERRAL, RULE_NONE], dtype=np.int8)
    ev = _evidence(
        buyer=buyer,
        ts=ts,
        net_units=net,
        gross_units=np.array([100, 100, 200, 300, 70]),
        credited=credited,
        rule=rule,
        via_code=np.zeros(5, bool),
        has_store=np.zeros(5, bool),
    )
    # distinct buyers weighted by their strongest evidence: user 0 = 1.0 (buyer 2) + 0.2 (buyer 3)
    assert ev["evidence_buyers"][:2] == pytest.approx([1.2, 0.1])
    # evidence GMV: 1.0*100 + 0.4*50 + 0.2*200 = 160; user 1: 0.1*300 = 30
    assert ev["evidence_gmv_units"][:2] == pytest.approx([160.0, 30.0])
    mean = (160 + 30) / (1.2 + 0.1)
    assert ev["estimate"][0] == pytest.approx(1.2 * (160 + mean) / 2.2)
    assert ev["estimate"][1] == pytest.approx(0.1 * (30 + mean) / 1.1)
    assert ev["estimate"][2:].tolist() == [0, 0, 0, 0]
    # per-rule breakdown: distinct buyers and exact net GMV
    assert ev["buyers_token"][0] == 1 and ev["gmv_token_units"][0] == 150
    assert ev["buyers_view"][0] == 1 and ev["gmv_view_units"][0] == 200
    assert ev["buyers_referral"][1] == 1 and ev["gmv_referral_units"][1] == 300
    # refund share of user 0: (400 - 350) / 400
    assert ev["refund_share"][0] == pytest.approx(50 / 400)


def test_conversion_evidence_staff_channel_and_collusion_earn_nothing():
    # user 0 keys their code into three store orders (buyers 2, 3, 4) and has one share order
    # (buyer 5); user 1's order comes from buyer 2, who shares user 1's device
    buyer = np.array([2, 3, 4, 5, 2, 2])
    credited = np.array([0, 0, 0, 0, 1, 1])
    via_code = np.array([True, True, True, False, False, False])
    has_store = np.array([True, True, True, False, False, False])
    device = np.array([1, 2, 2, 3, 4, 5])
    ev = _evidence(
        buyer=buyer,
        ts=np.arange(6) * 40 * DAY,
        net_units=np.full(6, 100),
        gross_units=np.full(6, 100),
        credited=credited,
        rule=np.full(6, RULE_TOKEN, dtype=np.int8),
        via_code=via_code,
        has_store=has_store,
        device=device,
    )
    assert ev["staff_orders"][0] == 3 and ev["staff_channel"][0]
    assert ev["evidence_buyers"][0] == pytest.approx(1.0)  # only buyer 5's share order counts
    assert ev["collusive_orders"][1] == 2 and ev["collusion"][1]
    assert ev["evidence_buyers"][1] == 0 and ev["estimate"][1] == 0
    # the per-rule breakdown still reports what attribution credited
    assert ev["buyers_code"][0] == 3 and ev["buyers_token"][0] == 1


def test_tied_orders_match_brute_force() -> None:
    # an order is tied when buyer and credited user share an edge in either direction
    rng = np.random.default_rng(5)
    src, dst = rng.integers(0, 40, 120), rng.integers(0, 40, 120)
    buyer = rng.integers(0, 40, 300)
    credited = np.where(rng.random(300) < 0.7, rng.integers(0, 40, 300), -1)
    pairs = {(int(a), int(b)) for a, b in zip(src, dst, strict=True)}
    want = [
        c >= 0 and ((int(b), int(c)) in pairs or (int(c), int(b)) in pairs)
        for b, c in zip(buyer, credited, strict=True)
    ]
    assert tied_orders(buyer, credited, src, dst).tolist() == want
    assert any(want) and not all(want)
    assert not tied_orders(buyer, credited, src[:0], dst[:0]).any()
