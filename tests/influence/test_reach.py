"""Multi-hop reach: exact BFS against networkx, HyperANF against exact BFS."""

from __future__ import annotations

import time

import networkx as nx
import numpy as np
import pytest

from graph.errors import DeadlineExceeded, NotFoundError, ParameterError
from graph.events import EDGE_TYPE_CODES, EventType
from graph.snapshot import GraphSnapshot
from graph.store import EdgeArrays
from influence.reach import gather_rows, hll_estimate, reach_exact, reach_hyperanf
from tests.influence.conftest import random_pairs, snapshot_from_pairs


def _nx_reach(pairs, n, nodes, hops):
    g = nx.DiGraph()
    g.add_nodes_from(range(n))
    g.add_edges_from((int(u), int(v)) for u, v in pairs if u != v)
    out = np.zeros((len(nodes), hops), dtype=np.int64)
    for i, s in enumerate(nodes):
        dist = nx.single_source_shortest_path_length(g, int(s), cutoff=hops)
        d = np.array([v for k, v in dist.items() if k != s], dtype=np.int64)
        out[i] = [(d <= k).sum() for k in range(1, hops + 1)]
    return out


def test_reach_exact_chain_and_fan_by_hand():
    # 0 -> 1 -> 2 -> 3 -> 4 and 0 -> 5, 5 -> 2 (a second path to 2)
    snap = snapshot_from_pairs([(0, 1), (1, 2), (2, 3), (3, 4), (0, 5), (5, 2)], 6)
    got = reach_exact(snap, [0, 3, 4], hops=3)
    assert got.tolist() == [[2, 3, 4], [1, 1, 1], [0, 0, 0]]


def test_reach_exact_matches_networkx_bfs(rng):
    n = 400
    pairs = random_pairs(rng, n, 1200)
    snap = snapshot_from_pairs(pairs, n)
    nodes = rng.choice(n, size=50, replace=False)
    assert (reach_exact(snap, nodes, hops=4) == _nx_reach(pairs, n, nodes, 4)).all()


def test_reach_exact_accepts_user_ids_and_rejects_unknown():
    snap = snapshot_from_pairs([(0, 1), (1, 2)], 3)
    assert reach_exact(snap, ["u0"], hops=2).tolist() == [[1, 2]]
    with pytest.raises(NotFoundError):
        reach_exact(snap, ["ghost"])
    with pytest.raises(NotFoundError):
        reach_exact(snap, [7])


def test_reach_default_types_skip_comments():
    c = EDGE_TYPE_CODES
    types = np.array([c[EventType.VIEW], c[EventType.COMMENT], c[EventType.REFERRAL]])
    snap = snapshot_from_pairs([(0, 1), (0, 2), (0, 3)], 4, etype=types)
    assert reach_exact(snap, [0], hops=1).tolist() == [[2]]
    assert reach_exact(snap, [0], hops=1, types=["comment"]).tolist() == [[1]]
    assert reach_hyperanf(snap, hops=1)[0].tolist() == [2.0]


def test_reach_exact_past_deadline_raises_deadline_exceeded():
    snap = snapshot_from_pairs([(0, 1)], 2)
    with pytest.raises(DeadlineExceeded):
        reach_exact(snap, [0, 1], deadline=time.monotonic() - 1.0)


def test_reach_invalid_hops_raises_parameter_error():
    snap = snapshot_from_pairs([(0, 1)], 2)
    with pytest.raises(ParameterError, match="hops"):
        reach_exact(snap, [0], hops=0)
    with pytest.raises(ParameterError, match="registers"):
        reach_hyperanf(snap, registers=100)


def test_hyperanf_sparse_graph_within_five_percent_of_exact(rng):
    # a few thousand users, 3-hop balls of tens of users
    n = 3000
    snap = snapshot_from_pairs(random_pairs(rng, n, 9000), n)
    exact = reach_exact(snap, np.arange(n), hops=3)
    approx = reach_hyperanf(snap, hops=3)
    assert approx.shape == (n, 3)
    assert (approx[:, 0] == exact[:, 0]).all()  # hop 1 is exact
    has = exact > 0
    rel = np.abs(approx[has] - exact[has]) / exact[has]
    assert rel.mean() <= 0.05
    assert (approx[~has] == 0).all()


@pytest.fixture(scope="module")
def dense_graph():
    """5000 users, 40000 edges: 3-hop balls of ~500 users (the HyperLogLog regime)."""
    rng = np.random.default_rng(7)
    n = 5000
    snap = snapshot_from_pairs(random_pairs(rng, n, 40000), n)
    return snap, reach_exact(snap, np.arange(n), hops=3)[:, 2]


@pytest.mark.parametrize("log2m", [6, 8, 10])
def test_hyperanf_error_within_standard_error_on_large_balls(log2m, dense_graph):
    # mean |relative error| below the standard error 1.04/sqrt(m) of one counter
    snap, exact = dense_graph
    approx = reach_hyperanf(snap, hops=3, log2m=log2m, seed=3)[:, 2]
    has = exact > 0
    assert has.mean() > 0.9
    rel = (approx[has] - exact[has]) / exact[has]
    rse = 1.04 / np.sqrt(2**log2m)
    assert np.abs(rel).mean() < rse
    assert abs(rel.mean()) < rse / 2  # no large bias


def test_hyperanf_is_monotone_in_hops_and_seeded(rng):
    n = 500
    snap = snapshot_from_pairs(random_pairs(rng, n, 2000), n)
    a = reach_hyperanf(snap, hops=4, seed=1)
    assert (np.diff(a, axis=1) >= 0).all()
    assert (a == reach_hyperanf(snap, hops=4, seed=1)).all()
    assert not (a == reach_hyperanf(snap, hops=4, seed=2)).all()


def test_hll_estimate_counts_known_sets():
    # counters built by HyperANF for star graphs: user 0 reaches k users at hop 2 via user 1
    for k in (10, 100, 1000, 5000):
        pairs = [(0, 1)] + [(1, 2 + i) for i in range(k)]
        est = reach_hyperanf(snapshot_from_pairs(pairs, k + 2), hops=2, log2m=10)
        assert est[0, 1] == pytest.approx(k + 1, rel=3 * 1.04 / 32)
    assert hll_estimate(np.zeros((1, 64), dtype=np.uint8))[0] == 0.0


def test_gather_rows_concatenates_csr_rows():
    indptr = np.array([0, 2, 2, 5])
    indices = np.array([7, 8, 1, 2, 3])
    assert gather_rows(indptr, indices, np.array([2, 0, 1])).tolist() == [1, 2, 3, 7, 8]


def test_reach_hyperanf_same_estimates_when_users_are_stored_in_another_order(rng):
    # the same graph with node indexes permuted (another store, another batch size):
    # every user must get the same estimate, not just a statistically similar one
    n = 600
    pairs = random_pairs(rng, n, 3000)
    first = snapshot_from_pairs(pairs, n)
    perm = rng.permutation(n)  # node i of the first store is node perm[i] of the second
    ids = np.empty(n, dtype=object)
    ids[perm] = first.node_ids
    edges = EdgeArrays(
        src=perm[pairs[:, 0]].astype(np.int32),
        dst=perm[pairs[:, 1]].astype(np.int32),
        etype=np.full(len(pairs), EDGE_TYPE_CODES[EventType.VIEW], dtype=np.int8),
        ts=np.zeros(len(pairs), dtype=np.int64),
        node_ids=ids,
    )
    second = GraphSnapshot.from_edges(edges)
    a = reach_hyperanf(first, hops=3)
    b = reach_hyperanf(second, hops=3)
    assert (a[:, 2] > a[:, 0]).any()  # hops 2-3 are estimated, not only the exact hop 1
    np.testing.assert_array_equal(a, b[perm])


def test_reach_hyperanf_hash_depends_on_the_id_only():
    from influence.reach import _id_keys

    keys = _id_keys(np.array(["u1", "u2", "u1", "", "é", "u12", "u21"], dtype=object))
    assert keys[0] == keys[2]
    assert len(set(keys.tolist())) == 6  # distinct ids, distinct keys (incl. "" and "é")
