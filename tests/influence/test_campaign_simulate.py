"""Cascade simulation, RR-set coverage and temporal reach against hand computations."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from influence.campaign import (
    NOT_REACHED,
    LiveEdgeWorlds,
    coverage,
    global_probabilities,
    reach_times,
    sample_rr_sets,
    simulate_spread,
)


def exact_ic_spread(probs, seeds) -> float:
    """Expected IC spread by enumerating every live-edge graph (Kempe et al. 2003)."""
    m = probs.n_edges
    total = 0.0
    for live in itertools.product([False, True], repeat=m):
        weight = np.prod([p if x else 1 - p for p, x in zip(probs.prob, live, strict=True)])
        reached = set(int(s) for s in seeds)
        changed = True
        while changed:
            changed = False
            for e in range(m):
                if live[e] and probs.src[e] in reached and probs.dst[e] not in reached:
                    reached.add(int(probs.dst[e]))
                    changed = True
        total += weight * len(reached)
    return float(total)


def _path(n: int, p: float):
    return global_probabilities(n, np.arange(n - 1), np.arange(1, n), p=p)


@pytest.mark.parametrize("model", ["ic", "lt"])
def test_simulate_spread_path_matches_hand_value(model):
    # a path 0 -> 1 -> 2 with p = 0.5: 1 + 0.5 + 0.25 (each node has one influencer,
    # so LT with the same weights gives the same value)
    probs = _path(3, 0.5)
    est = simulate_spread(probs, np.array([0]), model=model, runs=20000, seed=1)
    assert est.low <= 1.75 <= est.high
    assert est.mean == pytest.approx(1.75, abs=0.03)


def test_simulate_spread_diamond_matches_enumeration():
    probs = global_probabilities(4, np.array([0, 0, 1, 2, 1]), np.array([1, 2, 3, 3, 2]), p=0.4)
    exact = exact_ic_spread(probs, [0])
    est = simulate_spread(probs, np.array([0]), runs=40000, seed=2)
    assert est.low <= exact <= est.high
    worlds = LiveEdgeWorlds(probs, model="ic", worlds=40000, seed=3)
    assert worlds.spread(np.array([0])) == pytest.approx(exact, abs=0.03)


def test_simulate_spread_reproducible_per_seed():
    probs = _path(6, 0.7)
    a = simulate_spread(probs, np.array([0]), runs=500, seed=4)
    b = simulate_spread(probs, np.array([0]), runs=500, seed=4)
    c = simulate_spread(probs, np.array([0]), runs=500, seed=5)
    assert a == b
    assert a != c


@pytest.mark.parametrize("model", ["ic", "lt"])
def test_rr_sets_coverage_estimates_spread(model):
    probs = global_probabilities(4, np.array([0, 0, 1, 2, 1]), np.array([1, 2, 3, 3, 2]), p=0.4)
    if model == "lt":
        probs = probs.lt_weights()
    indptr, nodes = sample_rr_sets(probs, 200_000, model=model, seed=6)
    assert indptr.shape == (200_001,)
    truth = simulate_spread(probs, np.array([0]), model=model, runs=40000, seed=7)
    est = 4 * coverage(indptr, nodes, np.array([0]), 4)
    assert est == pytest.approx(truth.mean, abs=0.03)


def test_rr_sets_reproducible_and_rooted():
    probs = _path(50, 0.5)
    a = sample_rr_sets(probs, 30_000, seed=8)
    b = sample_rr_sets(probs, 30_000, seed=8)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    indptr, nodes = a
    sizes = np.diff(indptr)
    assert (sizes >= 1).all()
    # in a path the RR set of root r is r, r-1, ... : consecutive, descending
    first = nodes[indptr[:-1]]
    last = nodes[indptr[1:] - 1]
    assert np.array_equal(first - last, sizes - 1)


def test_reach_times_time_respecting():
    # 0 is the seed at t=10; 0->1 at t=5 (before the start: ignored), 0->1 at 12,
    # 1->2 at 11 (before 1 was reached: no), 1->2 at 20, 3->4 never reached
    src = np.array([0, 0, 1, 1, 3])
    dst = np.array([1, 1, 2, 2, 4])
    ts = np.array([5, 12, 11, 20, 15])
    reached = reach_times(5, src, dst, ts, np.array([0]), start_us=10)
    assert reached.tolist() == [10, 12, 20, NOT_REACHED, NOT_REACHED]
    capped = reach_times(5, src, dst, ts, np.array([0]), start_us=10, end_us=20)
    assert capped.tolist() == [10, 12, NOT_REACHED, NOT_REACHED, NOT_REACHED]
