"""The Spark transformations of :mod:`influence.spark` on small graphs with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from graph.errors import ConvergenceError
from graph.events import EDGE_TYPE_CODES, EventType

pytestmark = pytest.mark.slow

VIEW = EDGE_TYPE_CODES[EventType.VIEW]
REFERRAL = EDGE_TYPE_CODES[EventType.REFERRAL]


def _edges(spark, rows):
    rows = [(seq, f"e{seq}", *rest) for seq, *rest in rows]
    return spark.createDataFrame(
        rows, "seq long, event_id string, src long, dst long, etype int, ts long"
    )


def _nodes(spark, n):
    return spark.range(n).withColumnRenamed("id", "idx")


def test_spark_pagerank_hand_solved_fixed_point(spark):
    from influence.spark import influence_pairs, pagerank, weighted_edges

    # a (0) influences b (1) and c (2): x_b = x_c = 1 / (3 + 2 alpha), x_a = 1 - 2 x_b
    edges = _edges(spark, [(0, 0, 1, VIEW, 0), (1, 0, 2, VIEW, 0)])
    pairs = influence_pairs(weighted_edges(edges, type_weights=None, half_life_days=None, now_us=0))
    result = pagerank(pairs, _nodes(spark, 3), alpha=0.5, tol=1e-13)
    x = np.array([r.pagerank for r in result.scores.orderBy("idx").collect()])
    xb = 1 / (3 + 2 * 0.5)
    assert x == pytest.approx([1 - 2 * xb, xb, xb], abs=1e-12)


def test_spark_pagerank_max_iter_raises_convergence_error(spark):
    from influence.spark import influence_pairs, pagerank, weighted_edges

    edges = _edges(spark, [(0, 0, 1, VIEW, 0), (1, 1, 2, VIEW, 0)])
    pairs = influence_pairs(weighted_edges(edges, type_weights=None, half_life_days=None, now_us=0))
    with pytest.raises(ConvergenceError):
        pagerank(pairs, _nodes(spark, 3), tol=1e-15, max_iter=2)


def test_spark_reach_chain_equals_single_node_hyperanf(spark):
    from graph.snapshot import GraphSnapshot
    from graph.store import EdgeArrays
    from influence.reach import reach_hyperanf as single_node
    from influence.spark import reach_hyperanf

    # 0 -> 1 -> 2 -> 3, a self-loop at 3, and 4 -> 1
    pairs = [(0, 1), (1, 2), (2, 3), (3, 3), (4, 1)]
    edges = _edges(spark, [(i, a, b, VIEW, 0) for i, (a, b) in enumerate(pairs)])
    nodes = spark.createDataFrame(list(enumerate("abcde")), "idx long, user_id string")
    rows = reach_hyperanf(edges, nodes, hops=3, registers=64).orderBy("idx").collect()
    got = np.array([[r.reach_1, r.reach_2, r.reach_3] for r in rows])
    arrays = EdgeArrays(
        src=np.array([a for a, _ in pairs], dtype=np.int32),
        dst=np.array([b for _, b in pairs], dtype=np.int32),
        etype=np.full(len(pairs), VIEW, dtype=np.int8),
        ts=np.zeros(len(pairs), dtype=np.int64),
        node_ids=np.array(list("abcde"), dtype=object),
    )
    want = single_node(GraphSnapshot.from_edges(arrays), hops=3, registers=64)
    assert np.array_equal(got, want)  # the same hash: equal, not just close
    assert got[:, 0].tolist() == [1, 1, 1, 0, 1]  # hop 1 is the exact out-degree
    assert got[3].tolist() == [0, 0, 0]  # a self-loop reaches nobody


def test_spark_first_referral_skips_self_and_breaks_ties_by_event_id(spark):
    from influence.spark import first_referrals

    edges = _edges(
        spark,
        [
            (0, 2, 2, REFERRAL, 5),  # self-referral: binds nothing
            (1, 1, 2, REFERRAL, 10),
            (2, 0, 2, REFERRAL, 10),  # same time, larger event id: loses
            (3, 0, 3, REFERRAL, 7),
        ],
    )
    got = {r.referee: (r.referrer, r.ts) for r in first_referrals(edges).collect()}
    assert got == {2: (1, 10), 3: (0, 7)}


def test_spark_label_propagation_splits_two_triangles(spark):
    from influence.spark import influence_pairs, label_propagation, weighted_edges

    tri = [(0, 1), (1, 2), (2, 0), (3, 4), (4, 5), (5, 3), (2, 3)]
    edges = _edges(spark, [(i, a, b, VIEW, 0) for i, (a, b) in enumerate(tri)])
    pairs = influence_pairs(weighted_edges(edges, type_weights=None, half_life_days=None, now_us=0))
    rows = label_propagation(pairs, _nodes(spark, 7), rounds=5).orderBy("idx").collect()
    labels = [r.community for r in rows]
    assert labels[0] == labels[1] == labels[2] != labels[3] == labels[4] == labels[5]
    assert labels[6] == 2  # the isolated user is a singleton, numbered after the two triangles


def test_spark_strongest_ties_backbone_equals_single_node_on_distinct_weights(spark):
    import pyarrow as pa
    import scipy.sparse as sp

    from influence.communities import strongest_ties
    from influence.spark import strongest_ties_backbone

    rng = np.random.default_rng(3)
    n, m = 60, 400
    src, dst = rng.integers(0, n, m), rng.integers(0, n, m)
    w = rng.random(m) + 0.01  # continuous weights: no equal ones, so no tie-break involved
    pairs = (
        spark.createDataFrame(pa.table({"src": src, "dst": dst, "w": w}).to_pandas())
        .groupBy("src", "dst")
        .sum("w")
        .withColumnRenamed("sum(w)", "w")
    )
    a = sp.csr_matrix((w, (src, dst)), shape=(n, n))
    a.setdiag(0)
    a.eliminate_zeros()
    expected = strongest_ties(sp.triu(a + a.T, k=1, format="csr"), 3).tocoo()
    got = strongest_ties_backbone(pairs, per_user=3).toPandas()
    assert sorted(zip(got["a"], got["b"], strict=True)) == sorted(
        zip(expected.row.tolist(), expected.col.tolist(), strict=True)
    )
    by_pair = dict(
        zip(
            zip(expected.row.tolist(), expected.col.tolist(), strict=True),
            expected.data,
            strict=True,
        )
    )
    for x, y, weight in zip(got["a"], got["b"], got["w"], strict=True):
        assert weight == pytest.approx(by_pair[(x, y)], rel=1e-12)
