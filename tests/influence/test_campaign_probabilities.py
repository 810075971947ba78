"""Learned activation probabilities on hand-made histories (Goyal et al. 2010 with a Beta prior)."""

from __future__ import annotations

import numpy as np
import pytest

from graph.errors import ParameterError
from influence.campaign import global_probabilities, learn_probabilities


def _pairs(probs):
    return {
        (int(s), int(d)): float(p) for s, d, p in zip(probs.src, probs.dst, probs.prob, strict=True)
    }


def test_learn_probabilities_hand_history():
    # user 0 shared 4 contents (0..3); user 1 viewed content 0 twice and forwarded
    # content 1 (2 distinct contents); user 2 viewed content 3 once; user 3 shared
    # once (content 9) and user 4 bought through it.
    src = np.array([0, 0, 0, 0, 3])
    dst = np.array([1, 1, 1, 2, 4])
    content = np.array([0, 0, 1, 3, 9])
    shares = np.array([4, 0, 0, 1, 0])
    probs = learn_probabilities(5, src, dst, content=content, shares=shares, prior_strength=2.0)
    # successes: (0,1)=2, (0,2)=1, (3,4)=1; trials: 4, 4, 1 -> p0 = 4 / 9
    p0 = 4 / 9
    assert probs.prior == pytest.approx(p0)
    expected = {
        (0, 1): (2 + 2 * p0) / (4 + 2),
        (0, 2): (1 + 2 * p0) / (4 + 2),
        (3, 4): (1 + 2 * p0) / (1 + 2),
    }
    assert _pairs(probs) == pytest.approx(expected)
    assert probs.successes.tolist() == [2, 1, 1]
    assert probs.trials.tolist() == [4, 4, 1]


def test_learn_probabilities_more_actions_than_shares():
    # no share events: trials rise to the most successes of the sharer, so p <= 1;
    # unknown content (-1) counts once per event; self-loops are dropped
    src = np.array([0, 0, 0, 1])
    dst = np.array([1, 1, 2, 1])
    probs = learn_probabilities(3, src, dst, content=np.array([-1, -1, 5, 7]))
    assert probs.trials.tolist() == [2, 2]
    assert probs.successes.tolist() == [2, 1]
    assert (probs.prob <= 1).all()
    assert probs.prior == pytest.approx(3 / 4)
    assert _pairs(probs)[(0, 1)] == pytest.approx((2 + 2 * 0.75) / (2 + 2))


def test_learn_probabilities_prior_shrinks_sparse_pairs_more():
    # two pairs with the same raw rate 1/1 vs 10/10: the sparse one is pulled toward p0
    src = np.array([0] * 10 + [1, 2, 2, 2, 2])
    dst = np.array([3] * 10 + [4, 5, 6, 7, 8])
    content = np.array(list(range(10)) + [0, 0, 1, 2, 3])
    shares = np.array([10, 1, 40, 0, 0, 0, 0, 0, 0])
    probs = learn_probabilities(9, src, dst, content=content, shares=shares)
    pairs = _pairs(probs)
    assert pairs[(0, 3)] > pairs[(1, 4)] > probs.prior


def test_global_probabilities_distinct_ties():
    probs = global_probabilities(3, np.array([0, 0, 1, 2]), np.array([1, 1, 2, 2]), p=0.3)
    assert _pairs(probs) == {(0, 1): 0.3, (1, 2): 0.3}


def test_lt_weights_sum_at_most_one():
    probs = global_probabilities(4, np.array([0, 1, 2, 0]), np.array([3, 3, 3, 1]), p=0.6)
    lt = probs.lt_weights()
    incoming = np.bincount(lt.dst, weights=lt.prob, minlength=4)
    assert incoming[3] == pytest.approx(1.0)
    assert incoming[1] == pytest.approx(0.6)


def test_learn_probabilities_bad_input():
    with pytest.raises(ParameterError, match="node indices"):
        learn_probabilities(2, np.array([0]), np.array([5]))
    with pytest.raises(ParameterError, match="shares"):
        learn_probabilities(2, np.array([0]), np.array([1]), shares=np.array([1]))
    with pytest.raises(ParameterError, match="prior_strength"):
        learn_probabilities(2, np.array([0]), np.array([1]), prior_strength=0)
