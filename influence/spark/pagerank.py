"""Weighted PageRank on the reversed influence graph, as Spark DataFrame joins.

The iteration of :func:`influence.pagerank.pagerank` (Page et al. 1999) with a
uniform teleport, one join + group-by per step over the summed influence pairs
``u -> v`` (``u`` influenced ``v``; score flows from ``v`` back to ``u``):

.. math::

    x'_u = \\sum_{v} \\frac{\\alpha\\, w(u, v)}{w(v)} x_v
           + \\frac{\\alpha \\sum_{v \\in D} x_v + 1 - \\alpha}{n}

with ``w(v)`` the summed weight of the edges into ``v`` and ``D`` the users with
``w(v) = 0``, from ``x = 1/n`` until ``||x' - x||_1 < n tol`` (networkx's criterion).
The coefficient table (one row per pair) is hash-partitioned by ``v`` once and
persisted; the rank vector ``x`` (one row per node) is partitioned the same way, so
a step's join reads the edges where they lie and only the partial sums per ``u`` are
shuffled (then joined back into ``x`` without moving ``x``). Only ``x`` is
materialised per step (cached), and its lineage is cut with
:meth:`DataFrame.localCheckpoint` every :data:`CHECKPOINT_EVERY` steps, which keeps
the partitioning. Spark's GraphX PageRank cannot be used: it ignores edge weights.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark import StorageLevel
from pyspark.sql import DataFrame, Row
from pyspark.sql import functions as F

from graph.errors import ConvergenceError
from graph.params import validate_params
from influence.pagerank import PAGERANK_CONSTRAINTS
from influence.spark.graph import PARTITIONS_CONSTRAINT, shuffle_partitions

__all__ = ["SparkPageRank", "pagerank", "CHECKPOINT_EVERY"]

CHECKPOINT_EVERY = 5
"""Steps between two cuts of the rank vector's lineage (cached in between)."""


@dataclass(frozen=True)
class SparkPageRank:
    """Result of :func:`pagerank`.

    Attributes
    ----------
    scores : pyspark.sql.DataFrame
        ``idx, pagerank`` for every node; sums to 1.
    iterations : int
    residual : float
        L1 change of the last iteration.
    """

    scores: DataFrame
    iterations: int
    residual: float


def _first(df: DataFrame) -> Row:
    row = df.first()
    assert row is not None  # a global aggregate always has one row
    return row


@validate_params({**PAGERANK_CONSTRAINTS, **PARTITIONS_CONSTRAINT})
def pagerank(
    pairs: DataFrame,
    nodes: DataFrame,
    *,
    alpha: float = 0.85,
    tol: float = 1e-10,
    max_iter: int = 200,
    partitions: int | None = None,
) -> SparkPageRank:
    """PageRank of every node (see the module docstring).

    Parameters
    ----------
    pairs : pyspark.sql.DataFrame
        ``src, dst, w`` from :func:`influence.spark.influence_pairs`.
    nodes : pyspark.sql.DataFrame
        ``idx`` of every node (users without edges too).
    alpha, tol, max_iter
        As for :func:`influence.pagerank.pagerank`.
    partitions : int, optional
        Hash partitions of the edges and the rank vector; default the session's
        ``spark.sql.shuffle.partitions``.

    Returns
    -------
    SparkPageRank

    Raises
    ------
    ConvergenceError
        Not converged after ``max_iter`` iterations.
    ParameterError
        For an invalid ``alpha``, ``tol``, ``max_iter`` or ``partitions``.

    References
    ----------
    .. [1] L. Page, S. Brin, R. Motwani, T. Winograd, "The PageRank citation
       ranking: Bringing order to the Web", Stanford InfoLab, 1999.
    """
    n = nodes.count()
    spark = nodes.sparkSession
    if n == 0:
        return SparkPageRank(spark.createDataFrame([], "idx long, pagerank double"), 0, 0.0)
    parts = shuffle_partitions(spark, partitions)
    in_w = pairs.groupBy(F.col("dst").alias("v")).agg(F.sum("w").alias("wv"))
    # coefficient alpha * w(u, v) / w(v), folded in once as in the single-node code;
    # hash-partitioned by v once and kept, so the per-step join with x (partitioned
    # the same way) reads it in place instead of shuffling every edge again
    coef = (
        pairs.join(in_w, pairs["dst"] == in_w["v"])
        .where(F.col("wv") > 0)
        .select(
            F.col("src").alias("u"), "v", (F.col("w") * (F.lit(alpha) / F.col("wv"))).alias("c")
        )
        .repartition(parts, "v")
        .sortWithinPartitions("v")
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    coef.count()
    x = (
        nodes.join(in_w, nodes["idx"] == in_w["v"], "left")
        .select(
            F.col("idx").alias("v"),
            (F.coalesce(F.col("wv"), F.lit(0.0)) <= 0).alias("dangling"),
            F.lit(1.0 / n).alias("x"),
        )
        .repartition(parts, "v")
        .localCheckpoint()
    )
    mass = alpha * float(_first(x.agg(F.sum(F.when(F.col("dangling"), F.col("x")))))[0] or 0.0)
    err = float("inf")
    kept: list[DataFrame] = []
    try:
        for it in range(1, max_iter + 1):
            contrib = (
                coef.join(x.select("v", F.col("x").alias("xv")), "v")
                .groupBy("u")
                .agg(F.sum(F.col("c") * F.col("xv")).alias("s"))
            )
            add = (mass + 1.0 - alpha) / n
            # x stays hash-partitioned by v: joining contrib (grouped by u, same
            # partitions) keeps that layout, so only the partial sums are shuffled
            step = x.join(contrib, x["v"] == contrib["u"], "left").select(
                "v",
                "dangling",
                F.col("x").alias("old"),
                (F.coalesce(F.col("s"), F.lit(0.0)) + F.lit(add)).alias("x"),
            )
            # only the rank vector (n rows) is materialised; its lineage is cut every
            # CHECKPOINT_EVERY steps and cached in between
            if it % CHECKPOINT_EVERY == 0:
                step = step.localCheckpoint()
            else:
                step = step.persist(StorageLevel.MEMORY_AND_DISK)
            row = _first(
                step.agg(
                    F.sum(F.abs(F.col("old") - F.col("x"))),
                    F.sum(F.when(F.col("dangling"), F.col("x"))),
                    F.sum("x"),
                )
            )
            err, mass, total = float(row[0]), alpha * float(row[1] or 0.0), float(row[2])
            for old in kept:
                old.unpersist()
            kept = [step] if step.is_cached else []
            x = step.drop("old")
            if err < n * tol:
                scores = x.select(
                    F.col("v").alias("idx"), (F.col("x") / F.lit(total)).alias("pagerank")
                ).localCheckpoint()
                return SparkPageRank(scores, it, err)
    finally:
        for old in kept:
            old.unpersist()
        coef.unpersist()
    raise ConvergenceError("PageRank", max_iter, err, n * tol)
