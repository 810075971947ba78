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
    flagged_at_k,
    holdout_metrics,
    later_buyers,
    mean_and_sd,
    ndcg_at_k,
    precision_at_k,
    ranking_order,
    spearman,
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


def test_spearman_hand_made_ranking_and_constant_input():
    scores = np.array([4.0, 3.0, 2.0, 1.0, 0.0])
    # perfectly reversed order: -1; identical order: +1
    assert spearman(scores, np.array([0.0, 1.0, 2.0, 3.0, 4.0])) == pytest.approx(-1.0)
    assert spearman(scores, scores * 10) == pytest.approx(1.0)
    # d = rank differences (1,-1,0,0,0): rho = 1 - 6 * 2 / (5 * 24) = 0.9
    assert spearman(scores, np.array([3.0, 4.0, 2.0, 1.0, 0.0])) == pytest.approx(0.9)
    assert spearman(scores, np.ones(5)) == 0.0
    # candidates restrict the users compared
    mask = np.array([True, True, False, False, True])
    assert spearman(scores, np.array([0.0, 1.0, 9.0, 9.0, 2.0]), mask) == pytest.approx(-1.0)


def test_flagged_at_k_counts_flags_in_the_top():
    flags = np.array([False, True, True, False, True])
    order = np.array([1, 0, 4, 2, 3])
    assert flagged_at_k(flags, order, 1) == 1
    assert flagged_at_k(flags, order, 3) == 2
    assert flagged_at_k(flags, order, 10) == 3


def test_later_buyers_counts_distinct_viewers_who_bought_after():
    # user 0 reached 1 (twice), 2 and 3; user 4 reached 1
    src = np.array([0, 0, 0, 0, 4])
    dst = np.array([1, 1, 2, 3, 1])
    ts = np.array([10, 20, 10, 50, 100])
    # 1 buys at 30 (after 0's views, before 4's), 2 at 5 (before the view), 3 at 50 (same instant)
    buyer = np.array([1, 2, 3])
    order_ts = np.array([30, 5, 50])
    got = later_buyers(5, src=src, dst=dst, ts=ts, buyer=buyer, order_ts=order_ts)
    assert got.tolist() == [2, 0, 0, 0, 0]


def test_holdout_metrics_hand_made_ranking():
    scores = np.array([0.9, 0.8, 0.7, 0.1, 0.5])
    relevance = np.array([0.0, 10.0, 5.0, 20.0, 0.0])
    staff = np.array([True, False, False, False, False])
    candidates = np.array([True, True, True, True, True])
    got = holdout_metrics(scores, relevance, [2], candidates, {"staff": staff})
    # order: 0, 1, 2, 4, 3 -> top 2 = users 0 (staff, 0) and 1 (10)
    assert got["precision@2"] == 0.5
    assert got["staff@2"] == 1.0
    dcg = 0 + 10 / math.log2(3)
    idcg = 20 + 10 / math.log2(3)
    assert got["ndcg@2"] == pytest.approx(dcg / idcg)
    assert got["spearman"] == pytest.approx(spearman(scores, relevance))
    # leaving the staff member out of the candidates moves user 2 into the top 2
    got = holdout_metrics(scores, relevance, [2], ~staff, {"staff": staff})
    assert got["staff@2"] == 0.0 and got["precision@2"] == 1.0


def test_mean_and_sd_sample_deviation():
    assert mean_and_sd([1.0, 2.0, 3.0]) == (2.0, 1.0)
    assert mean_and_sd([5.0]) == (5.0, 0.0)
