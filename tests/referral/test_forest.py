"""The vectorised referral forest against hand computation and the store's recursive queries."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pytest

from graph.duckdb_store import DuckDBStore
from graph.errors import ConfigError
from graph.referrals import first_referrers
from referral.forest import ReferralForest, referral_forest, store_forest
from tests.referral.conftest import Events, day

UNIT = Decimal("0.0001")


def _forest(store: DuckDBStore, levels: int = 3) -> tuple[ReferralForest, list[str]]:
    ids = store.node_ids()
    return store_forest(store, pa.array(ids, pa.string()), levels), ids.tolist()


def _upline(forest: ReferralForest, ids: list[str], v: int) -> list[tuple[int, str, datetime]]:
    return [
        (level, ids[a], datetime.fromtimestamp(ts / 1e6, UTC)) for level, a, ts in forest.upline(v)
    ]


def _downline(forest: ReferralForest, v: int) -> list[tuple[int, int, int, Decimal]]:
    return [
        (k + 1, int(forest.users[k, v]), int(forest.buyers[k, v]), forest.gmv_units[k, v] * UNIT)
        for k in range(forest.levels)
        if forest.users[k, v] > 0
    ]


def _assert_matches_store(store: DuckDBStore, levels: int) -> int:
    """Every user's upline and downline equal the store's recursive queries; returns users."""
    forest, ids = _forest(store, levels)
    for v, user in enumerate(ids):
        up = store.upline(user, levels).to_pylist()
        assert _upline(forest, ids, v) == [
            (r["level"], r["user_id"], r["referred_at"]) for r in up
        ], user
        down = store.downline(user, levels).to_pylist()
        assert _downline(forest, v) == [
            (r["level"], r["users"], r["buyers"], r["gmv"]) for r in down
        ], user
    return len(ids)


@pytest.fixture
def chain(store: DuckDBStore) -> DuckDBStore:
    """a -> b -> c -> d (a referred b, ...); e's later referral of b binds nothing;
    x <-> y refer each other; p -> q -> r -> p; c and d buy, with refunds."""
    ev = Events()
    ev.referral("a", "b", day(1)).referral("b", "c", day(2)).referral("c", "d", day(3))
    ev.referral("e", "b", day(5))
    ev.referral("x", "y", day(1)).referral("y", "x", day(2))
    ev.referral("p", "q", day(1)).referral("q", "r", day(2)).referral("r", "p", day(3))
    ev.order("o1", "c", "10.00", day(4)).refund("o1", "4.00", day(6))
    ev.order("o2", "d", "5.00", day(4)).refund("o2", "7.00", day(6))  # over-refund: net 0
    ev.order("o3", "d", "2.50", day(4))
    ev.load(store)
    return store


def test_referral_forest_chain_by_hand(chain: DuckDBStore) -> None:
    forest, ids = _forest(chain)
    at = ids.index
    # a's downline: b (level 1), c (level 2, bought 10 - 4), d (level 3, bought 2.50 + 0)
    assert _downline(forest, at("a")) == [
        (1, 1, 0, Decimal("0")),
        (2, 1, 1, Decimal("6")),
        (3, 1, 1, Decimal("2.5")),
    ]
    assert _downline(forest, at("e")) == []  # b was already bound to a
    assert [(lvl, ids[u]) for lvl, u, _ in forest.upline(at("d"))] == [(1, "c"), (2, "b"), (3, "a")]
    # x <-> y: each is the other's only downline member, the walk stops at the repeat
    assert _downline(forest, at("x")) == [(1, 1, 0, Decimal("0"))]
    assert [ids[u] for _, u, _ in forest.upline(at("x"))] == ["y"]
    # p -> q -> r -> p: two levels below p, then the cycle closes
    assert [(k, n) for k, n, _, _ in _downline(forest, at("p"))] == [(1, 1), (2, 1)]
    assert [ids[u] for _, u, _ in forest.upline(at("p"))] == ["r", "q"]


def test_referral_forest_equals_store_queries_on_chain(chain: DuckDBStore) -> None:
    for levels in (1, 2, 3, 5):
        assert _assert_matches_store(chain, levels) == 10


def test_referral_forest_equals_store_queries_on_random_graph(store: DuckDBStore) -> None:
    rng = np.random.default_rng(5)
    ev = Events()
    users = [f"u{i:03d}" for i in range(150)]
    for k in range(400):  # dense enough for long cycles, repeated referees and ts ties
        a, b = rng.choice(150, 2, replace=False)
        ev.referral(users[a], users[b], day(int(rng.integers(0, 20))), event_id=f"r{k:04d}")
    for k in range(120):
        buyer = users[int(rng.integers(0, 150))]
        ev.order(f"o{k}", buyer, f"{rng.integers(1, 9999) / 100:.2f}", day(21))
        if k % 3 == 0:
            ev.refund(f"o{k}", f"{rng.integers(1, 9999) / 100:.2f}", day(22))
    ev.load(store)
    assert _assert_matches_store(store, 3) >= 140  # almost every user takes part
    assert _assert_matches_store(store, 6) >= 140


def test_first_referrers_ties_go_to_smallest_event_id() -> None:
    # referee 2 referred by 0 and 1 at the same time: event "a" (from 1) binds
    parent, bound = first_referrers(
        3,
        referrer=np.array([0, 1, 0]),
        referee=np.array([2, 2, 0]),  # the last row is a self-referral: ignored
        ts=np.array([7, 7, 1]),
        event_id=pa.array(["b", "a", "c"]),
    )
    assert parent.tolist() == [-1, -1, 1] and bound.tolist() == [0, 0, 7]


def test_referral_forest_levels_out_of_range() -> None:
    with pytest.raises(ConfigError, match="levels"):
        referral_forest(np.array([-1]), np.array([0]), np.array([0]), np.array([False]), 0)
