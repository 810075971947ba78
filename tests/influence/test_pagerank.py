"""PageRank: a hand-computed example and agreement with networkx and igraph (PRPACK)."""

from __future__ import annotations

import igraph as ig
import networkx as nx
import numpy as np
import pytest

from graph.errors import ConvergenceError, NotFoundError, ParameterError
from graph.events import EDGE_TYPE_CODES, EventType
from influence.pagerank import pagerank
from tests.influence.conftest import random_pairs, snapshot_from_pairs


def _nx_reversed(snapshot, weighted: bool = True) -> nx.DiGraph:
    """The graph networkx should see: influenced -> influencer, summed weights, no loops."""
    g = nx.DiGraph()
    g.add_nodes_from(range(snapshot.n_nodes))
    coo = snapshot.influence_csr.tocoo()
    for u, v, w in zip(coo.row, coo.col, coo.data, strict=True):
        g.add_edge(int(v), int(u), weight=float(w) if weighted else 1.0)
    return g


def _nx_scores(snapshot, *, weighted=True, **kwargs) -> np.ndarray:
    g = _nx_reversed(snapshot, weighted)
    pr = nx.pagerank(g, weight="weight", tol=1e-15, max_iter=10_000, **kwargs)
    return np.array([pr[i] for i in range(snapshot.n_nodes)])


def _igraph_scores(snapshot, *, weighted=False, **kwargs) -> np.ndarray:
    coo = snapshot.influence_csr.tocoo()
    g = ig.Graph(
        n=snapshot.n_nodes, edges=np.column_stack([coo.col, coo.row]).tolist(), directed=True
    )
    weights = coo.data.tolist() if weighted else None
    return np.array(g.pagerank(implementation="prpack", weights=weights, **kwargs))


def test_pagerank_star_matches_hand_computation():
    # a influences b and c. Reversed graph: b -> a, c -> a; a is dangling.
    # x_b = x_c = 1 / (3 + 2 alpha), x_a = 1 - 2 x_b (solve the fixed point by hand)
    snap = snapshot_from_pairs([(0, 1), (0, 2)], 3)
    r = pagerank(snap, alpha=0.85, tol=1e-14)
    s = 1.0 / (3 + 2 * 0.85)
    assert r.scores == pytest.approx([1 - 2 * s, s, s], abs=1e-12)
    assert r.scores.sum() == pytest.approx(1.0, abs=1e-14)
    assert r.iterations > 1
    assert r.residual < 3 * 1e-14


def test_pagerank_cycle_is_uniform():
    snap = snapshot_from_pairs([(0, 1), (1, 2), (2, 3), (3, 0)], 4)
    assert pagerank(snap).scores == pytest.approx([0.25] * 4, abs=1e-12)


def _case(name: str, rng: np.random.Generator):
    """(snapshot, pagerank kwargs, networkx kwargs) for one reference case."""
    n = 60
    pairs = random_pairs(rng, n, 240)
    types = rng.integers(0, 4, size=len(pairs)).astype(np.int8)
    snap = snapshot_from_pairs(pairs, n, etype=types)  # per-type weights, duplicates summed
    if name == "weighted":
        return snap, {}, {}
    if name == "unweighted":
        return snap, {"weighted": False}, {"weighted": False}
    if name == "dangling":  # a third of the users are influenced by nobody -> dangling
        keep = pairs[:, 1] >= n // 3
        snap = snapshot_from_pairs(pairs[keep], n, etype=types[keep])
        return snap, {}, {}
    if name == "personalized":
        pers = {f"u{i}": float(i % 5) for i in range(0, n, 3)}
        return (
            snap,
            {"personalization": pers},
            {"personalization": {int(k[1:]): v for k, v in pers.items()}},
        )
    if name == "dangling_given":
        keep = pairs[:, 1] >= n // 3
        snap = snapshot_from_pairs(pairs[keep], n, etype=types[keep])
        dang = rng.random(n)
        return (
            snap,
            {"personalization": [1, 2, 3], "dangling": dang},
            {"personalization": {1: 1, 2: 1, 3: 1}, "dangling": dict(enumerate(dang))},
        )
    raise AssertionError(name)


@pytest.mark.parametrize(
    "case", ["weighted", "unweighted", "dangling", "personalized", "dangling_given"]
)
def test_pagerank_matches_networkx(case, rng):
    snap, ours, theirs = _case(case, rng)
    weighted = theirs.pop("weighted", True)
    expected = _nx_scores(snap, weighted=weighted, **theirs)
    got = pagerank(snap, tol=1e-14, max_iter=1000, **ours).scores
    assert np.abs(got - expected).sum() < 1e-9


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("reference", ["networkx", "igraph-prpack"])
def test_pagerank_matches_references_on_random_graphs(seed, reference):
    rng = np.random.default_rng(seed)
    n = 300
    snap = snapshot_from_pairs(random_pairs(rng, n, 1500), n)  # all views: unit weights
    got = pagerank(snap, weighted=False, tol=1e-14, max_iter=1000).scores
    expected = _nx_scores(snap, weighted=False) if reference == "networkx" else _igraph_scores(snap)
    assert np.abs(got - expected).sum() < 1e-9


def test_pagerank_weighted_matches_igraph_prpack(rng):
    n = 200
    pairs = random_pairs(rng, n, 900)
    snap = snapshot_from_pairs(pairs, n, etype=rng.integers(0, 4, size=len(pairs)).astype(np.int8))
    got = pagerank(snap, tol=1e-14, max_iter=1000).scores
    assert np.abs(got - _igraph_scores(snap, weighted=True)).sum() < 1e-9


def test_pagerank_ignores_self_loops():
    with_loop = snapshot_from_pairs([(0, 1), (1, 1), (1, 2)], 3)
    without = snapshot_from_pairs([(0, 1), (1, 2)], 3)
    assert pagerank(with_loop).scores == pytest.approx(pagerank(without).scores, abs=1e-15)


def test_pagerank_time_decay_shifts_rank_to_recent_influencer():
    day = 86_400_000_000
    # u0 and u1 each influenced two users; u0's edges are a year old
    pairs = [(0, 2), (0, 3), (1, 4), (1, 5)]
    ts = np.array([0, 0, 365 * day, 365 * day])
    flat = pagerank(snapshot_from_pairs(pairs, 6, ts=ts)).scores
    decayed = pagerank(snapshot_from_pairs(pairs, 6, ts=ts, half_life_days=30)).scores
    assert flat[0] == pytest.approx(flat[1], abs=1e-15)
    # with one in-edge each, decay does not change the walk; it does once a user has two influencers
    pairs2 = pairs + [(0, 6), (1, 6)]
    ts2 = np.concatenate([ts, [0, 365 * day]])
    decayed2 = pagerank(snapshot_from_pairs(pairs2, 7, ts=ts2, half_life_days=30)).scores
    assert decayed2[1] > decayed2[0]
    assert decayed == pytest.approx(flat, abs=1e-15)


def test_pagerank_seed_set_personalization_equals_uniform_dict():
    snap = snapshot_from_pairs([(0, 1), (1, 2), (2, 0), (2, 3)], 4)
    by_index = pagerank(snap, personalization=[0, 3]).scores
    by_id = pagerank(snap, personalization={"u0": 2.0, "u3": 2.0}).scores
    by_array = pagerank(snap, personalization=np.array([1.0, 0, 0, 1.0])).scores
    assert by_index == pytest.approx(by_id, abs=1e-15)
    assert by_index == pytest.approx(by_array, abs=1e-15)


def test_pagerank_not_converged_raises_convergence_error():
    snap = snapshot_from_pairs([(0, 1), (1, 2), (2, 0), (2, 3)], 4)
    with pytest.raises(ConvergenceError) as info:
        pagerank(snap, max_iter=2, tol=1e-15)
    assert info.value.iterations == 2
    assert info.value.residual > 0


@pytest.mark.parametrize("kwargs", [{"alpha": 1.5}, {"alpha": 0}, {"tol": -1}, {"max_iter": 0}])
def test_pagerank_invalid_parameter_raises_parameter_error(kwargs):
    snap = snapshot_from_pairs([(0, 1)], 2)
    with pytest.raises(ParameterError, match="parameter of pagerank"):
        pagerank(snap, **kwargs)


def test_pagerank_bad_personalization_raises_typed_errors():
    snap = snapshot_from_pairs([(0, 1)], 2)
    with pytest.raises(NotFoundError, match="nobody"):
        pagerank(snap, personalization={"nobody": 1.0})
    with pytest.raises(ParameterError, match="sum to 0"):
        pagerank(snap, personalization={"u0": 0.0})
    with pytest.raises(ParameterError, match=">= 0"):
        pagerank(snap, personalization=np.array([-1.0, 2.0]))
    with pytest.raises(ParameterError, match="seed indices"):
        pagerank(snap, personalization=[5])


def test_pagerank_empty_graph_returns_empty_scores():
    snap = snapshot_from_pairs(np.zeros((0, 2)), 0)
    r = pagerank(snap)
    assert r.scores.shape == (0,)


def test_pagerank_edge_weight_types_follow_type_weights():
    # u2 is influenced by u0 (view) and u1 (referral): the referral weighs 3x by default
    snap = snapshot_from_pairs(
        [(0, 2), (1, 2)],
        3,
        etype=np.array([EDGE_TYPE_CODES[EventType.VIEW], EDGE_TYPE_CODES[EventType.REFERRAL]]),
    )
    s = pagerank(snap).scores
    assert s[1] > s[0]
    even = pagerank(
        snapshot_from_pairs(
            [(0, 2), (1, 2)], 3, etype=np.array([0, 3]), type_weights={"referral": 1.0}
        )
    ).scores
    assert even[0] == pytest.approx(even[1], abs=1e-15)
