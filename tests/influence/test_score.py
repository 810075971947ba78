"""KOC score: percentile normalisation, weighted breakdown, ranks and stored tables."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from graph.errors import ScoringError
from graph.store import COMPONENT_SCHEMA, SCORE_SCHEMA
from influence.score import koc_score, percentile_rank, rank_order, score_tables


def test_percentile_rank_hand_example():
    # two inactive users; active values 1, 3, 3 -> average ranks 1, 2.5, 2.5 out of 3
    got = percentile_rank(np.array([0.0, 3.0, 1.0, 0.0, 3.0]))
    assert got == pytest.approx([0.0, 2.5 / 3, 1 / 3, 0.0, 2.5 / 3])


def test_percentile_rank_top_user_gets_one():
    assert percentile_rank(np.array([5.0, 1.0, 2.0])).max() == 1.0


def test_percentile_rank_explicit_active_mask_ranks_negative_values():
    # recency style: larger (less negative) is better, user 2 inactive despite value 0
    got = percentile_rank(np.array([-10.0, -1.0, 0.0]), active=np.array([True, True, False]))
    assert got == pytest.approx([1 / 2, 2 / 2, 0.0])


def test_percentile_rank_all_inactive_is_zero():
    assert percentile_rank(np.zeros(4)).tolist() == [0.0] * 4


def test_percentile_rank_empty_input():
    assert percentile_rank(np.zeros(0)).shape == (0,)


def test_percentile_rank_nan_for_active_user_raises():
    with pytest.raises(ScoringError):
        percentile_rank(np.array([1.0, np.nan]), active=np.array([True, True]))


@given(arrays(np.float64, st.integers(1, 40), elements=st.floats(0, 1e6)))
def test_percentile_rank_is_monotone_and_bounded(values):
    p = percentile_rank(values)
    assert ((p >= 0) & (p <= 1)).all()
    order = np.argsort(values, kind="stable")
    assert (np.diff(p[order]) >= -1e-12).all()
    assert (p[values == 0] == 0).all()


def test_koc_score_hand_computed_breakdown():
    raw = {"a": np.array([0.0, 2.0, 4.0, 1.0]), "b": np.array([10.0, 0.0, 10.0, 5.0])}
    result = koc_score(raw, {"a": 3.0, "b": 1.0})
    # a: inactive user 0; active 2, 4, 1 -> ranks 2, 3, 1 out of 3
    pa_ = np.array([0.0, 2 / 3, 3 / 3, 1 / 3])
    # b: inactive user 1; active 10, 10, 5 -> ranks 2.5, 2.5, 1 out of 3
    pb = np.array([2.5 / 3, 0.0, 2.5 / 3, 1 / 3])
    assert result.weights == {"a": 0.75, "b": 0.25}
    assert result.normalized["a"] == pytest.approx(pa_)
    assert result.normalized["b"] == pytest.approx(pb)
    assert result.contribution["a"] == pytest.approx(0.75 * pa_)
    assert result.score == pytest.approx(0.75 * pa_ + 0.25 * pb)
    assert result.raw["b"].tolist() == [10.0, 0.0, 10.0, 5.0]


def test_koc_score_contributions_sum_to_score():
    rng = np.random.default_rng(1)
    raw = {c: rng.exponential(size=50) * (rng.random(50) > 0.5) for c in "xyz"}
    result = koc_score(raw, {"x": 1, "y": 2, "z": 0.5})
    assert sum(result.contribution.values()) == pytest.approx(result.score)
    assert sum(result.weights.values()) == pytest.approx(1.0)


def test_koc_score_zero_weight_component_contributes_nothing():
    result = koc_score({"a": np.array([1.0, 2.0]), "b": np.array([5.0, 1.0])}, {"a": 1.0})
    assert result.contribution["b"].tolist() == [0.0, 0.0]
    assert result.normalized["b"] == pytest.approx([1.0, 0.5])


@pytest.mark.parametrize(
    "weights, match",
    [
        ({"a": -1.0}, ">= 0"),
        ({"a": 0.0}, "positive"),
        ({"zzz": 1.0}, "unknown"),
    ],
)
def test_koc_score_bad_weights_raise(weights, match):
    with pytest.raises(ScoringError, match=match):
        koc_score({"a": np.array([1.0])}, weights)


def test_koc_score_arrays_of_different_length_raise():
    with pytest.raises(ScoringError, match="length"):
        koc_score({"a": np.ones(2), "b": np.ones(3)}, {"a": 1.0})


def test_rank_order_ties_broken_by_user_id():
    ids = np.array(["u3", "u1", "u2", "u0"], dtype=object)
    rank = rank_order(np.array([0.5, 0.9, 0.5, 0.1]), ids)
    assert rank.tolist() == [3, 1, 2, 4]
    assert rank.dtype == np.int32


def test_score_tables_schema_order_and_details():
    ids = np.array(["a", "b", "c"], dtype=object)
    result = koc_score({"x": np.array([1.0, 3.0, 2.0])}, {"x": 1.0})
    scores, comps = score_tables(
        result,
        ids,
        roles=np.array(["consumer", "kol", "unknown"], dtype=object),
        communities=np.array([0, 1, 0]),
        details={"x.count": np.array([0, 7, 0])},
    )
    assert scores.schema == SCORE_SCHEMA
    assert comps.schema == COMPONENT_SCHEMA
    assert scores.column("user_id").to_pylist() == ["b", "c", "a"]
    assert scores.column("rank").to_pylist() == [1, 2, 3]
    assert scores.column("community").to_pylist() == [1, 0, 0]
    main = comps.filter(pa.compute.equal(comps.column("component"), "x")).to_pylist()
    assert [r["contribution"] for r in main] == pytest.approx([1 / 3, 1.0, 2 / 3])
    detail = comps.filter(pa.compute.equal(comps.column("component"), "x.count")).to_pylist()
    assert detail == [
        {
            "user_id": "b",
            "component": "x.count",
            "raw": 7.0,
            "normalized": None,
            "contribution": None,
        }
    ]


def test_score_tables_without_communities_are_null():
    result = koc_score({"x": np.array([1.0])}, {"x": 1.0})
    scores, _ = score_tables(result, np.array(["a"], dtype=object), roles=np.array(["consumer"]))
    assert scores.column("community").to_pylist() == [None]
