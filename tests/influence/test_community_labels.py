"""Stable community ids across runs (relabelling by maximum overlap)."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from graph.errors import ParameterError
from influence.communities import plm_communities
from influence.community_labels import stable_labels
from tests.influence.conftest import snapshot_from_pairs


def test_stable_labels_hand_example():
    # previous: A = {0,1,2} id 7, B = {3,4} id 2; new run numbers them the other way round
    previous = np.array([7, 7, 7, 2, 2, -1])
    labels = np.array([1, 1, 1, 0, 0, 2])
    assert stable_labels(labels, previous).tolist() == [7, 7, 7, 2, 2, 8]


def test_stable_labels_split_and_merge():
    # previous id 0 = {0..5} splits into {0..3} (keeps 0) and {4,5} (fresh);
    # previous ids 1 = {6,7} and 2 = {8} merge: the merged community keeps 1 (more members)
    previous = np.array([0, 0, 0, 0, 0, 0, 1, 1, 2])
    labels = np.array([0, 0, 0, 0, 2, 2, 1, 1, 1])
    out = stable_labels(labels, previous)
    assert out.tolist() == [0, 0, 0, 0, 3, 3, 1, 1, 1]


def test_stable_labels_never_gives_one_id_to_two_communities(rng):
    for _ in range(50):
        labels = rng.integers(0, 8, 200)
        previous = np.where(rng.random(200) < 0.1, -1, rng.integers(0, 6, 200))
        out = stable_labels(labels, previous)
        # the same partition (a relabelling, one-to-one)
        pairs = set(zip(labels.tolist(), out.tolist(), strict=True))
        assert len(pairs) == len(set(labels.tolist())) == len(set(out.tolist()))


def test_stable_labels_first_run_and_bad_shapes():
    labels = np.array([0, 1, 1])
    assert stable_labels(labels, np.full(3, -1)).tolist() == [0, 1, 1]
    with pytest.raises(ParameterError, match="previous"):
        stable_labels(labels, np.zeros(2))


def test_stable_labels_two_runs_with_a_small_change():
    # 8 cliques of 6 in a ring (users 48..55 have no tie yet); the second run adds a clique
    # of 8 among those users, tied to clique 0, and one more tie between two cliques
    g = nx.ring_of_cliques(8, 6)
    first = plm_communities(snapshot_from_pairs(list(g.edges()), 56), seed=0)
    edges = list(g.edges()) + [(i, j) for i in range(48, 56) for j in range(48, 56) if i < j]
    edges += [(0, 48), (10, 20)]
    second = plm_communities(snapshot_from_pairs(edges, 56), seed=0)
    assert (second[:48] != first[:48]).any()  # the new 8-clique is the largest: label 0
    previous = np.r_[first[:48], np.full(8, -1)]
    stable = stable_labels(second, previous)
    assert (stable[:48] == first[:48]).all()  # every old clique keeps its id
    assert len(set(stable[48:].tolist())) == 1 and stable[48] > first[:48].max()  # new: fresh id
