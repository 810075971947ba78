"""Employee / KOL measures on small graphs computed by hand."""

from __future__ import annotations

from decimal import Decimal
from itertools import combinations

import numpy as np
import pytest

from graph.events import EDGE_TYPE_CODES, EventType
from graph.store import EdgeArrays
from influence.roles import audience_overlap, employee_measures, kol_measures

V, F, C, R = (
    EDGE_TYPE_CODES[t]
    for t in (EventType.VIEW, EventType.FORWARD, EventType.COMMENT, EventType.REFERRAL)
)


def _edges(pairs: list[tuple[int, int, int]], n: int) -> EdgeArrays:
    arr = np.array(pairs, dtype=np.int64).reshape(-1, 3)
    return EdgeArrays(
        src=arr[:, 0].astype(np.int32),
        dst=arr[:, 1].astype(np.int32),
        etype=arr[:, 2].astype(np.int8),
        ts=np.zeros(arr.shape[0], np.int64),
        node_ids=np.array([f"u{i}" for i in range(n)], dtype=object),
    )


def test_employee_measures_uplift_hand_computed() -> None:
    # 0 = employee of S1; customers 1, 2 connected to it (2 via a referral); 3, 4 unconnected
    # in S1; 5 is a customer of S2 with no employee; 6 is a KOL linked to the employee
    edges = _edges([(0, 1, V), (2, 0, C), (0, 2, R), (3, 4, V), (0, 6, V)], 7)
    roles = np.array(
        ["employee", "consumer", "unknown", "consumer", "consumer", "consumer", "kol"], object
    )
    store = np.array(["S1", "S1", "S1", "S1", "S1", "S2", None], dtype=object)
    orders = np.array([0, 2, 1, 1, 3, 1, 0])
    net = np.array([0, 300, 100, 50, 600, 70, 0]) * 10_000
    attributed_orders = np.array([2, 0, 0, 0, 0, 0, 0])
    attributed_units = np.array([4_000_000, 0, 0, 0, 0, 0, 0])
    m = employee_measures(
        edges,
        roles,
        store=store,
        orders=orders,
        net_units=net,
        attributed_orders=attributed_orders,
        attributed_units=attributed_units,
    )
    (row,) = m.employees.to_pylist()
    assert row["user_id"] == "u0" and row["store_id"] == "S1"
    assert row["connected_customers"] == 2  # the KOL is not a customer
    assert row["referred_customers"] == 1
    assert row["referred_gmv"] == Decimal("100.0000")  # customer 2's net spend
    assert row["attributed_gmv"] == Decimal("400.0000") and row["attributed_orders"] == 2
    assert row["connected_aov"] == pytest.approx(400 / 3)
    assert row["connected_repeat_rate"] == pytest.approx(1 / 2)
    assert row["baseline_aov"] == pytest.approx(650 / 4)  # customers 3 and 4 of S1
    assert row["baseline_repeat_rate"] == pytest.approx(1 / 2)
    assert row["aov_uplift"] == pytest.approx((400 / 3) / (650 / 4) - 1)
    assert row["repeat_uplift"] == pytest.approx(0.0)
    (st,) = m.stores.to_pylist()
    assert st["store_id"] == "S1" and st["employees"] == 1 and st["connected_customers"] == 2
    assert m.overall["unconnected_customers"] == 3  # 3, 4 and 5 (S2)
    assert m.overall["unconnected_aov"] == pytest.approx(720 / 5)


def test_employee_measures_store_rollup_counts_customers_once() -> None:
    edges = _edges([(0, 2, V), (1, 2, V), (1, 3, V)], 4)
    roles = np.array(["employee", "employee", "consumer", "consumer"], object)
    store = np.array(["S1", "S1", "S1", "S1"], object)
    zeros = np.zeros(4, dtype=np.int64)
    m = employee_measures(
        edges,
        roles,
        store=store,
        orders=np.array([0, 0, 1, 2]),
        net_units=np.array([0, 0, 10, 20]),
        attributed_orders=zeros,
        attributed_units=zeros,
    )
    assert [r["connected_customers"] for r in m.employees.to_pylist()] == [1, 2]
    assert m.stores.column("connected_customers").to_pylist() == [2]


def test_kol_measures_rates_and_gmv_per_fee() -> None:
    # KOL 0: viewed by 1, 2, 3, 4; forwarded by 1; commented by 2 -> engagement 2 / 4
    edges = _edges([(0, 1, V), (0, 2, V), (0, 3, V), (0, 4, V), (0, 1, F), (0, 2, C), (5, 1, V)], 6)
    t = kol_measures(
        edges,
        np.array([0, 5]),
        attributed_orders=np.array([2, 0, 0, 0, 0, 1]),
        attributed_units=np.array([1_234_5678, 0, 0, 0, 0, 10_000]),
        fee_units=np.array([10_000_000, -1]),
    ).to_pylist()
    k0 = next(r for r in t if r["user_id"] == "u0")
    assert k0["audience"] == 4 and k0["views"] == 4
    assert k0["engagement_rate"] == pytest.approx(0.5)
    assert k0["conversion_rate"] == pytest.approx(2 / 4)
    assert k0["attributed_gmv"] == Decimal("1234.5678")
    assert k0["fee"] == Decimal("1000.0000")
    assert k0["gmv_per_fee"] == pytest.approx(1234.5678 / 1000)
    k5 = next(r for r in t if r["user_id"] == "u5")
    assert k5["fee"] is None and k5["gmv_per_fee"] is None
    assert t[0]["user_id"] == "u0"  # sorted by attributed GMV


def test_audience_overlap_matches_set_jaccard() -> None:
    rng = np.random.default_rng(7)
    n, m = 80, 600
    src, dst = rng.integers(0, 10, m), rng.integers(0, n, m)
    edges = _edges([(int(a), int(b), V) for a, b in zip(src, dst, strict=True)], n)
    members = np.arange(10)
    got = {(r["user_a"], r["user_b"]): r for r in audience_overlap(edges, members).to_pylist()}
    audience = {
        i: {int(b) for a, b in zip(src, dst, strict=True) if a == i and b != i} for i in members
    }
    expected = {}
    for a, b in combinations(members, 2):
        shared = audience[a] & audience[b]
        if shared:
            expected[(f"u{a}", f"u{b}")] = len(shared) / len(audience[a] | audience[b])
    assert set(got) == set(expected)
    for key, jac in expected.items():
        assert got[key]["jaccard"] == pytest.approx(jac)
    top = audience_overlap(edges, members, limit=3).column("jaccard").to_pylist()
    assert top == sorted(expected.values(), reverse=True)[:3]
