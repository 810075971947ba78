"""Behavioural role features on hand-made graphs with known answers."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pytest

from graph.events import EDGE_TYPE_CODES, EventType
from graph.store import EdgeArrays
from influence.roles import neighbour_pattern, role_features

V, F, C, R = (EDGE_TYPE_CODES[t] for t in EventType if t in EDGE_TYPE_CODES)


def _us(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp() * 1_000_000)


@pytest.fixture
def edges() -> EdgeArrays:
    # 0 -> 1 view, 0 -> 2 view, 0 -> 1 forward (1 passed on 0's content),
    # 1 -> 2 comment (2 commented on 1), 2 -> 0 referral; node 3 is isolated
    return EdgeArrays(
        src=np.array([0, 0, 0, 1, 2], dtype=np.int32),
        dst=np.array([1, 2, 1, 2, 0], dtype=np.int32),
        etype=np.array([V, V, F, C, R], dtype=np.int8),
        ts=np.array(
            [
                _us(2026, 7, 6, 10),
                _us(2026, 7, 6, 10),
                _us(2026, 7, 7, 22),
                _us(2026, 7, 8, 3),
                _us(2026, 7, 6, 10),
            ],
            dtype=np.int64,
        ),
        node_ids=np.array(["a", "b", "c", "d"], dtype=object),
    )


def _col(features, name: str) -> np.ndarray:  # type: ignore[no-untyped-def]
    return features.X[:, features.names.index(name)]


def test_role_features_counts_distinct_audience_and_edges(edges: EdgeArrays) -> None:
    f = role_features(edges, tz_offset_hours=0)
    assert f.X.shape == (4, len(f.names)) and f.X.dtype == np.float32
    assert np.expm1(_col(f, "audience")) == pytest.approx([2, 1, 1, 0])
    assert np.expm1(_col(f, "influencers")) == pytest.approx([1, 1, 2, 0])
    assert np.expm1(_col(f, "out_view")) == pytest.approx([2, 0, 0, 0])
    assert np.expm1(_col(f, "in_forward")) == pytest.approx([0, 1, 0, 0])
    assert np.expm1(_col(f, "out_referral")) == pytest.approx([0, 0, 1, 0])
    assert _col(f, "forward_rate") == pytest.approx([0.5, 0, 0, 0])
    assert _col(f, "comment_rate") == pytest.approx([0, 0, 0, 0])  # 1 has no views


def test_role_features_hour_and_weekday_profile(edges: EdgeArrays) -> None:
    f = role_features(edges, tz_offset_hours=0)
    hours = f.X[:, [f.names.index(f"hour_{h:02d}") for h in range(24)]]
    days = f.X[:, [f.names.index(f"weekday_{d}") for d in range(7)]]
    # node 1 acted at 10:00 Monday (view) and 22:00 Tuesday (forward)
    assert hours[1, 10] == pytest.approx(0.5) and hours[1, 22] == pytest.approx(0.5)
    assert days[1, 0] == pytest.approx(0.5) and days[1, 1] == pytest.approx(0.5)
    assert hours.sum(axis=1) == pytest.approx([1, 1, 1, 0])
    assert np.expm1(_col(f, "active_days")) == pytest.approx([1, 2, 2, 0])
    # China time (+8): 22:00 UTC is 06:00 the next day
    f8 = role_features(edges, tz_offset_hours=8)
    assert f8.X[1, f8.names.index("hour_06")] == pytest.approx(0.5)


def test_role_features_orders_shares_and_attribution(edges: EdgeArrays) -> None:
    ts = pa.timestamp("us", tz="UTC")
    orders = pa.table(
        {
            "buyer": ["b", "b", "zz"],
            "amount": pa.array([100, 300, 5], pa.int32()).cast(pa.decimal128(20, 4)),
            "ts": pa.array([_us(2026, 7, 9, 12)] * 3).cast(ts),
        }
    )
    shares = pa.table(
        {"sharer": ["a", "a", "a"], "ts": pa.array([_us(2026, 7, 6, 9)] * 3).cast(ts)}
    )
    attributed = pa.table({"user_id": ["a"], "orders": [2], "gmv": [400.0]})
    f = role_features(edges, orders=orders, shares=shares, attributed=attributed, tz_offset_hours=0)
    assert np.expm1(_col(f, "orders")) == pytest.approx([0, 2, 0, 0])
    assert np.expm1(_col(f, "spend")) == pytest.approx([0, 400, 0, 0], rel=1e-5)
    assert np.expm1(_col(f, "avg_order_value")) == pytest.approx([0, 200, 0, 0], rel=1e-5)
    assert np.expm1(_col(f, "shares")) == pytest.approx([3, 0, 0, 0])
    assert _col(f, "conversion_rate") == pytest.approx([1.0, 0, 0, 0])  # 2 orders / audience 2
    # the unknown buyer "zz" is ignored; the orders add to b's hour profile
    assert f.X[1, f.names.index("hour_12")] == pytest.approx(0.5)


def test_role_features_neighbour_roles_ignore_own_label(edges: EdgeArrays) -> None:
    labels = np.array(["employee", "consumer", "kol", "unknown"], dtype=object)
    f = role_features(edges, labels=labels)
    assert _col(f, "neighbour_share_consumer")[0] == pytest.approx(0.5)
    assert _col(f, "neighbour_share_kol")[0] == pytest.approx(0.5)
    assert np.expm1(_col(f, "neighbours_employee")) == pytest.approx([0, 1, 1, 0])
    relabelled = labels.copy()
    relabelled[0] = "kol"
    g = role_features(edges, labels=relabelled)
    assert np.array_equal(f.X[0], g.X[0])  # a user's own label never feeds their features


def test_neighbour_pattern_matches_networkx() -> None:
    nx = pytest.importorskip("networkx")
    rng = np.random.default_rng(3)
    n, m = 60, 300
    src, dst = rng.integers(0, n, m), rng.integers(0, n, m)
    edges = EdgeArrays(
        src=src.astype(np.int32),
        dst=dst.astype(np.int32),
        etype=np.zeros(m, np.int8),
        ts=np.zeros(m, np.int64),
        node_ids=np.array([str(i) for i in range(n)], dtype=object),
    )
    g = nx.Graph()
    g.add_nodes_from(range(n))
    g.add_edges_from((int(a), int(b)) for a, b in zip(src, dst, strict=True) if a != b)
    degree = np.array([g.degree(i) for i in range(n)])
    assert np.array_equal(np.diff(neighbour_pattern(edges).indptr), degree)


def test_role_features_to_arrow_keeps_user_ids(edges: EdgeArrays) -> None:
    table = role_features(edges).to_arrow()
    assert table.column("user_id").to_pylist() == ["a", "b", "c", "d"]
    assert table.num_columns == len(role_features(edges).names) + 1
