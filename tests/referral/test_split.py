"""The exact largest-remainder split (hand examples and properties)."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from referral.split import split_minor, time_decay_weights


def test_split_minor_linear_extra_cents_to_first() -> None:
    got = split_minor(np.array([100, 100, 100, 7, 7]), np.array([0, 0, 0, 1, 1]))
    assert got.tolist() == [34, 33, 33, 4, 3]


def test_split_minor_weighted_largest_remainder() -> None:
    # 300 * 4/7, 2/7, 1/7 = 171.43, 85.71, 42.86 -> 171, 86, 43
    got = split_minor(np.array([300] * 3), np.zeros(3), np.array([4.0, 2.0, 1.0]))
    assert got.tolist() == [171, 86, 43]


def test_time_decay_weights_half_life() -> None:
    w = time_decay_weights(np.array([0, 86_400_000_000, -5]), 1.0)
    assert w.tolist() == [1.0, 0.5, 1.0]


@given(
    st.lists(
        st.tuples(
            st.integers(0, 10**11),
            st.lists(st.floats(1e-6, 1e6, allow_nan=False), min_size=1, max_size=6),
        ),
        min_size=1,
        max_size=20,
    ),
    st.booleans(),
)
def test_split_minor_sums_exactly(groups: list[tuple[int, list[float]]], weighted: bool) -> None:
    totals = np.concatenate([[t] * len(w) for t, w in groups]).astype(np.int64)
    gid = np.concatenate([[i] * len(w) for i, (_, w) in enumerate(groups)])
    weights = np.concatenate([w for _, w in groups]) if weighted else None
    parts = split_minor(totals, gid, weights)
    sums = np.bincount(gid, weights=parts.astype(np.float64))
    assert (parts >= 0).all()
    assert [int(s) for s in sums] == [t for t, _ in groups]
    assert all(int(parts[gid == i].sum()) == t for i, (t, _) in enumerate(groups))
