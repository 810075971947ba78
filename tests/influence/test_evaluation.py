"""Ranking metrics against hand computation and scikit-learn's ndcg_score."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import ndcg_score

from influence.evaluation import (
    BASELINES,
    baseline_scores,
    capture_at_k,
    evaluate_methods,
    ndcg_at_k,
    precision_at_k,
    ranking_order,
)


def test_ranking_order_descending_ties_by_index_and_candidates():
    scores = np.array([0.5, 0.9, 0.5, 0.1])
    assert ranking_order(scores).tolist() == [1, 0, 2, 3]
    assert ranking_order(scores, np.array([True, False, True, True])).tolist() == [0, 2, 3]


def test_precision_at_k_by_hand():
    relevant = np.array([True, False, True, False, True])
    order = np.array([0, 1, 2, 3, 4])
    assert precision_at_k(relevant, order, 1) == 1.0
    assert precision_at_k(relevant, order, 2) == 0.5
    assert precision_at_k(relevant, order, 4) == 0.5
    # fewer ranked users than k still divides by k
    assert precision_at_k(relevant, order, 10) == pytest.approx(3 / 10)


def test_ndcg_at_k_by_hand():
    rel = np.array([3.0, 2.0, 0.0, 1.0])
    order = np.array([0, 1, 2, 3])
    dcg = 3 + 2 / math.log2(3) + 0 / 2
    idcg = 3 + 2 / math.log2(3) + 1 / 2
    assert ndcg_at_k(rel, order, 3) == pytest.approx(dcg / idcg)
    assert ndcg_at_k(rel, np.array([0, 1, 3, 2]), 4) == pytest.approx(1.0)


def test_ndcg_at_k_nothing_relevant_is_zero():
    assert ndcg_at_k(np.zeros(3), np.arange(3), 2) == 0.0


def test_ndcg_at_k_rejects_negative_relevance_and_bad_k():
    with pytest.raises(ValueError):
        ndcg_at_k(np.array([-1.0, 1.0]), np.arange(2), 1)
    with pytest.raises(ValueError):
        precision_at_k(np.ones(2), np.arange(2), 0)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.integers(0, 5), min_size=2, max_size=30),
    st.integers(1, 30),
    st.integers(0, 2**31 - 1),
)
def test_ndcg_at_k_matches_sklearn(rel, k, seed):
    rel = np.array(rel, dtype=np.float64)
    scores = np.random.default_rng(seed).permutation(rel.shape[0]).astype(np.float64)  # no ties
    ours = ndcg_at_k(rel, ranking_order(scores), k)
    ref = ndcg_score(rel[None, :], scores[None, :], k=k) if rel.any() else 0.0
    assert ours == pytest.approx(ref)


def test_capture_at_k_by_hand():
    gmv = np.array([0.0, 100.0, 50.0, 50.0])
    assert capture_at_k(gmv, np.array([1, 2, 3, 0]), 1) == pytest.approx(0.5)
    assert capture_at_k(gmv, np.array([0, 3, 2, 1]), 2) == pytest.approx(0.25)
    assert capture_at_k(np.zeros(2), np.arange(2), 1) == 0.0


def test_baseline_scores_random_is_seeded():
    args = dict(spend=np.ones(5), degree=np.arange(5), pagerank=np.zeros(5))
    a, b = baseline_scores(**args, seed=3), baseline_scores(**args, seed=3)
    assert set(a) == set(BASELINES)
    assert a["random"].tolist() == b["random"].tolist()
    assert a["degree"].tolist() == [0, 1, 2, 3, 4]


def test_evaluate_methods_names_and_values():
    planted = np.array([False, True, True, False])
    gmv = np.array([0.0, 10.0, 30.0, 0.0])
    methods = {"good": np.array([0.1, 0.8, 0.9, 0.2]), "bad": np.array([0.9, 0.1, 0.2, 0.8])}
    reports = {
        r.method: r.metrics
        for r in evaluate_methods(methods, {"planted": planted, "gmv": gmv}, (2,), graded=("gmv",))
    }
    assert reports["good"] == {
        "planted precision@2": 1.0,
        "planted ndcg@2": pytest.approx(1.0),
        "gmv capture@2": 1.0,
        "gmv ndcg@2": pytest.approx(1.0),
    }
    assert reports["bad"]["planted precision@2"] == 0.0
    assert reports["bad"]["gmv ndcg@2"] == 0.0
