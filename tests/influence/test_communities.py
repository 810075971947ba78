"""Leiden communities and top spreaders."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from graph.errors import ConfigError
from influence.communities import leiden_communities, top_spreaders, undirected_ties
from tests.influence.conftest import snapshot_from_pairs


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


def test_leiden_invalid_objective_raises_config_error():
    snap = snapshot_from_pairs([(0, 1)], 2)
    with pytest.raises(ConfigError, match="objective"):
        leiden_communities(snap, objective="louvain")
    with pytest.raises(ConfigError, match="resolution"):
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
    with pytest.raises(ConfigError):
        top_spreaders(np.zeros(3, int), np.zeros(2))
    with pytest.raises(ConfigError):
        top_spreaders(np.zeros(3, int), np.zeros(3), k=0)
