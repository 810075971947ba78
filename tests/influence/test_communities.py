"""Leiden communities and top spreaders."""

from __future__ import annotations

import igraph as ig
import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp

from graph.errors import ParameterError
from influence.communities import (
    leiden_communities,
    plm_communities,
    split_disconnected,
    strongest_ties,
    ties_communities,
    top_spreaders,
    undirected_ties,
)
from tests.influence.conftest import random_pairs, snapshot_from_pairs


def _partition(labels):
    return [set(np.flatnonzero(labels == c).tolist()) for c in np.unique(labels)]


def test_leiden_ring_of_cliques_finds_each_clique():
    # 6 cliques of 5 users, joined in a ring by single ties: modularity picks the cliques
    g = nx.ring_of_cliques(6, 5)
    snap = snapshot_from_pairs(list(g.edges()), g.number_of_nodes())
    labels = leiden_communities(snap, seed=1)
    assert labels.dtype == np.int32
    expected = [set(range(5 * i, 5 * i + 5)) for i in range(6)]
    assert sorted(map(sorted, _partition(labels))) == sorted(map(sorted, expected))


def test_leiden_karate_club_reaches_known_modularity():
    # best known modularity of Zachary's karate club is 0.4198 (4 communities)
    g = nx.karate_club_graph()
    snap = snapshot_from_pairs(list(g.edges()), 34)
    labels = leiden_communities(snap, weighted=False, seed=0)
    q = nx.community.modularity(g, _partition(labels), weight=None)
    assert q == pytest.approx(0.4198, abs=0.002)


def test_leiden_is_seeded_and_labels_by_size():
    g = nx.planted_partition_graph(4, 25, 0.5, 0.02, seed=3)
    snap = snapshot_from_pairs(list(g.edges()), 100)
    a = leiden_communities(snap, seed=5)
    assert (a == leiden_communities(snap, seed=5)).all()
    sizes = np.bincount(a)
    assert (np.diff(sizes) <= 0).all()  # label 0 is the largest


def test_leiden_direction_and_weights_make_undirected_ties():
    snap = snapshot_from_pairs([(0, 1), (1, 0), (1, 2)], 3)
    ties = undirected_ties(snap).toarray()
    assert ties[0, 1] == pytest.approx(2.0) and ties[1, 2] == pytest.approx(1.0)
    assert ties[1, 0] == 0


def test_leiden_isolated_users_are_singletons():
    snap = snapshot_from_pairs([(0, 1), (1, 2), (2, 0)], 5)
    labels = leiden_communities(snap)
    assert labels[0] == labels[1] == labels[2]
    assert len({labels[3], labels[4], labels[0]}) == 3


def test_leiden_higher_resolution_gives_more_communities():
    g = nx.planted_partition_graph(4, 25, 0.5, 0.02, seed=3)
    snap = snapshot_from_pairs(list(g.edges()), 100)
    few = leiden_communities(snap, resolution=0.1).max()
    many = leiden_communities(snap, resolution=5.0).max()
    assert many > few


def test_leiden_invalid_objective_raises_parameter_error():
    snap = snapshot_from_pairs([(0, 1)], 2)
    with pytest.raises(ParameterError, match="objective"):
        leiden_communities(snap, objective="louvain")
    with pytest.raises(ParameterError, match="resolution"):
        leiden_communities(snap, resolution=0)


def test_top_spreaders_picks_best_per_community():
    communities = np.array([0, 0, 0, 1, 1, 2, 0])
    scores = np.array([0.1, 0.5, 0.3, 0.2, 0.9, 0.0, 0.5])
    top = top_spreaders(communities, scores, k=2)
    assert set(top) == {0, 1, 2}
    assert top[0].tolist() == [1, 6]  # tie 0.5: lower index first
    assert top[1].tolist() == [4, 3]
    assert top[2].tolist() == [5]


def test_top_spreaders_matches_brute_force(rng):
    communities = rng.integers(0, 30, size=2000)
    scores = rng.random(2000)
    top = top_spreaders(communities, scores, k=5)
    for c in np.unique(communities):
        members = np.flatnonzero(communities == c)
        best = members[np.argsort(-scores[members], kind="stable")][:5]
        assert top[int(c)].tolist() == best.tolist()


def test_top_spreaders_rejects_mismatched_input():
    with pytest.raises(ParameterError):
        top_spreaders(np.zeros(3, int), np.zeros(2))
    with pytest.raises(ParameterError):
        top_spreaders(np.zeros(3, int), np.zeros(3), k=0)


def _brute_force_strongest(ties, per_user):
    # independent reference: per user, sort its ties by weight (distinct weights), keep the top
    dense = ties.toarray()
    sym = dense + dense.T
    kept = set()
    for u in range(sym.shape[0]):
        nbrs = np.flatnonzero(sym[u])
        best = nbrs[np.argsort(-sym[u, nbrs])][:per_user]
        kept.update((min(u, v), max(u, v)) for v in best.tolist())
    return kept


@pytest.mark.parametrize("per_user", [1, 2, 4])
def test_strongest_ties_match_brute_force(rng, per_user):
    pairs = random_pairs(rng, 60, 400)
    snap = snapshot_from_pairs(pairs, 60)
    ties = undirected_ties(snap)
    ties.data = rng.permutation(ties.nnz).astype(np.float64) + 1.0  # distinct weights
    backbone = strongest_ties(ties, per_user).tocoo()
    got = set(zip(backbone.row.tolist(), backbone.col.tolist(), strict=True))
    assert got == _brute_force_strongest(ties, per_user)
    # weights are kept as they were
    assert np.allclose(backbone.data, np.asarray(ties[backbone.row, backbone.col]).ravel())


def test_strongest_ties_hand_example():
    # star 0-1 (5), 0-2 (4), 0-3 (3), 0-4 (1) plus 1-2 (2), 3-4 (0.5): with one tie per user
    # 0, 1 keep 0-1; 2 keeps 0-2; 3 keeps 0-3; 4 keeps 0-4 (1 > 0.5); 1-2 and 3-4 go
    rows, cols = [0, 0, 0, 0, 1, 3], [1, 2, 3, 4, 2, 4]
    ties = sp.csr_matrix(([5.0, 4.0, 3.0, 1.0, 2.0, 0.5], (rows, cols)), shape=(5, 5))
    kept = strongest_ties(ties, 1).toarray()
    assert [tuple(p) for p in np.argwhere(kept)] == [(0, 1), (0, 2), (0, 3), (0, 4)]
    assert strongest_ties(ties, 2).nnz == 6  # 1-2 is second for 1 and 2, 3-4 for 3 and 4


def test_strongest_ties_equal_weights_are_not_biased_to_low_indices():
    # complete graph, all weights equal: "lower index first" would send all 39 picks to user 0
    n = 40
    rows, cols = np.triu_indices(n, k=1)
    ties = sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(n, n))
    a = strongest_ties(ties, 1, seed=3)
    assert (a != strongest_ties(ties, 1, seed=3)).nnz == 0
    degree = np.bincount(a.tocoo().row, minlength=n) + np.bincount(a.tocoo().col, minlength=n)
    assert degree.min() >= 1 and degree.max() < 10


def test_leiden_rejects_bad_backbone_settings():
    snap = snapshot_from_pairs([(0, 1)], 2)
    with pytest.raises(ParameterError, match="backbone_above"):
        leiden_communities(snap, backbone_above=-1)
    with pytest.raises(ParameterError, match="backbone_ties"):
        leiden_communities(snap, backbone_ties=0)


def test_strongest_ties_rejects_bad_count():
    ties = sp.csr_matrix(([1.0], ([0], [1])), shape=(2, 2))
    with pytest.raises(ParameterError, match="per_user"):
        strongest_ties(ties, 0)


def _planted(n_groups, size, p_in, p_out, seed):
    # friends interact three times, strangers once: in-community ties are the strongest
    g = nx.planted_partition_graph(n_groups, size, p_in, p_out, seed=seed)
    truth = np.repeat(np.arange(n_groups), size)
    pairs = np.array(list(g.edges()))
    inside = truth[pairs[:, 0]] == truth[pairs[:, 1]]
    pairs = np.concatenate([pairs, pairs[inside], pairs[inside]])
    return snapshot_from_pairs(pairs, n_groups * size), truth


def test_leiden_backbone_recovers_planted_communities():
    snap, truth = _planted(8, 60, 0.25, 0.02, seed=4)
    full = leiden_communities(snap, seed=0, backbone_above=0)
    backbone = leiden_communities(snap, seed=0, backbone_above=1, backbone_ties=3)
    nmi_full = ig.compare_communities(truth.tolist(), full.tolist(), method="nmi")
    nmi_backbone = ig.compare_communities(truth.tolist(), backbone.tolist(), method="nmi")
    assert nmi_full == pytest.approx(1.0)
    assert nmi_backbone >= 0.95


def test_leiden_backbone_communities_are_connected_and_seeded():
    snap, _ = _planted(6, 50, 0.2, 0.03, seed=9)
    labels = leiden_communities(snap, seed=2, backbone_above=1, backbone_ties=2)
    assert (labels == leiden_communities(snap, seed=2, backbone_above=1, backbone_ties=2)).all()
    ties = undirected_ties(snap)
    g = nx.Graph(list(zip(*ties.nonzero(), strict=True)))
    for c in np.unique(labels):
        assert nx.is_connected(g.subgraph(np.flatnonzero(labels == c).tolist()))


def _nx_graph(snap, weighted=True):
    ties = undirected_ties(snap, weighted=weighted).tocoo()
    g = nx.Graph()
    g.add_nodes_from(range(snap.n_nodes))
    g.add_weighted_edges_from(
        zip(ties.row.tolist(), ties.col.tolist(), ties.data.tolist(), strict=True)
    )
    return g


def test_plm_disjoint_cliques_are_the_communities():
    # 5 cliques of sizes 3..7 with no tie between them: the only sensible partition
    pairs, truth, start = [], [], 0
    for size in range(3, 8):
        pairs += [(start + i, start + j) for i in range(size) for j in range(size) if i != j]
        truth.append(set(range(start, start + size)))
        start += size
    labels = plm_communities(snapshot_from_pairs(pairs, start + 2), seed=0)
    assert labels.dtype == np.int32
    found = _partition(labels)
    assert sorted(map(sorted, found)) == sorted(map(sorted, [*truth, {start}, {start + 1}]))
    assert labels[start - 7] == 0  # the largest clique (7 users) is community 0


def test_plm_ring_of_cliques_finds_each_clique():
    g = nx.ring_of_cliques(6, 5)
    labels = plm_communities(snapshot_from_pairs(list(g.edges()), 30), seed=3)
    expected = [set(range(5 * i, 5 * i + 5)) for i in range(6)]
    assert sorted(map(sorted, _partition(labels))) == sorted(map(sorted, expected))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_plm_modularity_matches_networkx_louvain(seed):
    # planted groups with weighted ties; networkx computes the modularity independently
    snap, _ = _planted(6, 40, 0.25, 0.03, seed=seed)
    g = _nx_graph(snap)
    labels = plm_communities(snap, seed=seed)
    ours = nx.community.modularity(g, _partition(labels), weight="weight")
    ref = nx.community.modularity(
        g, nx.community.louvain_communities(g, weight="weight", seed=seed), weight="weight"
    )
    assert ours >= ref - 1e-9
    assert ours > 0.5


def test_plm_karate_club_reaches_known_modularity():
    g = nx.karate_club_graph()
    labels = plm_communities(snapshot_from_pairs(list(g.edges()), 34), weighted=False, seed=0)
    q = nx.community.modularity(g, _partition(labels), weight=None)
    assert q == pytest.approx(0.4198, abs=0.01)  # best known 0.4198


def test_plm_is_seeded_connected_and_resolution_matters():
    snap, _ = _planted(6, 50, 0.2, 0.03, seed=9)
    labels = plm_communities(snap, seed=4)
    assert (labels == plm_communities(snap, seed=4)).all()
    g = _nx_graph(snap)
    for c in np.unique(labels):
        assert nx.is_connected(g.subgraph(np.flatnonzero(labels == c).tolist()))
    assert plm_communities(snap, resolution=5.0).max() > plm_communities(snap, resolution=0.1).max()
    with pytest.raises(ParameterError, match="resolution"):
        plm_communities(snap, resolution=0)


def test_split_disconnected_splits_and_raises_modularity():
    # two triangles with no tie between them, given as one community
    pairs = [(0, 1), (1, 2), (2, 0), (3, 4), (4, 5), (5, 3)]
    snap = snapshot_from_pairs(pairs, 6)
    ties = undirected_ties(snap)
    parts = split_disconnected(ties, np.zeros(6, dtype=np.int64))
    assert sorted(map(sorted, _partition(parts))) == [[0, 1, 2], [3, 4, 5]]
    g = _nx_graph(snap)
    assert nx.community.modularity(g, _partition(parts)) > nx.community.modularity(
        g, [set(range(6))]
    )


def test_ties_communities_equals_the_snapshot_methods_on_the_same_ties(rng):
    snap = snapshot_from_pairs(random_pairs(rng, 300, 1500), 300)
    ties = undirected_ties(snap)
    plm = ties_communities(ties, method="plm", seed=4)
    assert np.array_equal(plm, plm_communities(snap, seed=4))
    leiden = ties_communities(ties, method="leiden", seed=4, n_iterations=2)
    assert np.array_equal(
        leiden, leiden_communities(snap, seed=4, n_iterations=2, backbone_above=0)
    )
    backbone = ties_communities(strongest_ties(ties, 2, seed=4), method="plm", seed=4)
    assert np.array_equal(
        backbone, plm_communities(snap, seed=4, backbone_above=1, backbone_ties=2)
    )


def test_ties_communities_unknown_method_raises_parameter_error():
    with pytest.raises(ParameterError, match="Unknown community method 'louvain'"):
        ties_communities(sp.csr_matrix((3, 3)), method="louvain")
