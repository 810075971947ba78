"""Communities on Spark: weighted label propagation (Raghavan, Albert, Kumara 2007).

Leiden (:func:`influence.communities.leiden_communities`) has no distributed
implementation; label propagation is the scale-out choice. On the undirected
interaction graph with tie weight ``w(u, v) + w(v, u)`` (as for Leiden), every
user starts with its own label and, for a fixed number of synchronous rounds, takes
the label with the largest summed tie weight among its neighbours (equal weights:
the smallest label), so a run is deterministic. Users without ties stay singletons.
Labels are then renumbered by community size, 0 = largest (equal sizes: by
smallest original label), like the single-node labels. It optimises no objective,
so it finds coarser or noisier communities than Leiden; the modularity it reaches
against Leiden is measured in ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

from numbers import Integral

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from graph.params import Interval, validate_params

__all__ = ["label_propagation", "LPA_ROUNDS"]

#: Default number of synchronous label-propagation rounds.
LPA_ROUNDS = 10


@validate_params({"rounds": [Interval(Integral, 1, None)]})
def label_propagation(pairs: DataFrame, nodes: DataFrame, *, rounds: int = LPA_ROUNDS) -> DataFrame:
    """Community label of every node by weighted label propagation.

    Parameters
    ----------
    pairs : pyspark.sql.DataFrame
        ``src, dst, w`` (:func:`influence.spark.influence_pairs`).
    nodes : pyspark.sql.DataFrame
        ``idx`` of every node.
    rounds : int, default :data:`LPA_ROUNDS`
        Synchronous rounds.

    Returns
    -------
    pyspark.sql.DataFrame
        ``idx, community`` (int32, 0 = largest community).

    References
    ----------
    .. [1] U. N. Raghavan, R. Albert, S. Kumara, "Near linear time algorithm to
       detect community structures in large-scale networks", Phys. Rev. E 76, 2007.
    """
    ties = (
        pairs.select(F.col("src").alias("a"), F.col("dst").alias("b"), "w")
        .unionByName(pairs.select(F.col("dst").alias("a"), F.col("src").alias("b"), "w"))
        .groupBy("a", "b")
        .agg(F.sum("w").alias("w"))
        .localCheckpoint()
    )
    labels = nodes.select("idx", F.col("idx").alias("label")).localCheckpoint()
    best = Window.partitionBy("a").orderBy(F.col("score").desc(), F.col("label"))
    for _ in range(rounds):
        votes = (
            ties.join(labels.withColumnRenamed("idx", "b"), "b")
            .groupBy("a", "label")
            .agg(F.sum("w").alias("score"))
            .withColumn("_r", F.row_number().over(best))
            .where(F.col("_r") == 1)
            .select(F.col("a").alias("idx"), F.col("label").alias("new"))
        )
        labels = (
            labels.join(votes, "idx", "left")
            .select("idx", F.coalesce(F.col("new"), F.col("label")).alias("label"))
            .localCheckpoint()
        )
    sizes = labels.groupBy("label").agg(F.count("*").alias("size"))
    order = Window.orderBy(F.col("size").desc(), F.col("label"))
    numbered = sizes.select(
        "label", (F.row_number().over(order) - 1).cast("int").alias("community")
    )
    return labels.join(numbered, "label").select("idx", "community")
