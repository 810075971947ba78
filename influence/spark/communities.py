"""Communities on Spark: the strongest-ties backbone, and weighted label propagation.

Leiden (:func:`influence.communities.leiden_communities`) has no distributed
implementation. The engine uses :func:`strongest_ties_backbone`: every user's few
strongest ties, selected on Spark and clustered in the driver by the single-node
method. :func:`label_propagation` (Raghavan, Albert, Kumara 2007) is kept as the
fully distributed alternative, but on graphs with big audiences its labels flood
(94.8% of 100k users in one community, modularity 0.02 against 0.61 for PLM:
``benchmarks/RESULTS.md``). Label propagation: on the undirected interaction graph with tie weight ``w(u, v) + w(v, u)`` (as for Leiden), every
user starts with its own label and, for a fixed number of synchronous rounds, takes
the label with the largest summed tie weight among its neighbours (equal weights:
the smallest label), so a run is deterministic. Users without ties stay singletons.
Labels are then renumbered by community size, 0 = largest (equal sizes: by
smallest original label), like the single-node labels. It optimises no objective,
so it finds coarser or noisier communities than Leiden.
"""

from __future__ import annotations

from numbers import Integral

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from graph.params import Interval, validate_params

__all__ = ["label_propagation", "strongest_ties_backbone", "LPA_ROUNDS"]

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


@validate_params({"per_user": [Interval(Integral, 1, None)]})
def strongest_ties_backbone(pairs: DataFrame, *, per_user: int = 5, seed: int = 0) -> DataFrame:
    """Every user's ``per_user`` strongest undirected ties: the backbone the driver clusters.

    The Spark form of :func:`influence.communities.strongest_ties`: ties are the
    symmetrised pairs (``w(u, v) + w(v, u)``, self-loops left out) and a tie stays
    when it is among the ``per_user`` strongest of *either* end, so every user
    with a tie keeps at least ``min(degree, per_user)``. Equal weights are broken
    by a seeded hash of the pair (the single node uses a seeded permutation, so
    the two backbones may differ on exactly equal weights). The result has at
    most ``per_user`` ties per user, so it can be collected to the driver, where
    :func:`influence.communities.ties_communities` runs the single-node method.

    Parameters
    ----------
    pairs : pyspark.sql.DataFrame
        ``src, dst, w`` (:func:`influence.spark.influence_pairs`).
    per_user : int, default 5
        Ties kept per user (``[communities] backbone_ties``).
    seed : int, default 0
        Seed of the tie-break hash.

    Returns
    -------
    pyspark.sql.DataFrame
        ``a, b, w`` with ``a < b``: one row per kept tie.

    References
    ----------
    .. [1] V. Satuluri, S. Parthasarathy, Y. Ruan, "Local graph sparsification for
       scalable clustering", Proc. ACM SIGMOD 2011, 721-732.
    """
    ties = (
        pairs.where(F.col("src") != F.col("dst"))
        .select(F.least("src", "dst").alias("a"), F.greatest("src", "dst").alias("b"), "w")
        .groupBy("a", "b")
        .agg(F.sum("w").alias("w"))
    )
    ends = ties.select(F.col("a").alias("u"), "a", "b", "w").unionByName(
        ties.select(F.col("b").alias("u"), "a", "b", "w")
    )
    order = Window.partitionBy("u").orderBy(
        F.col("w").desc(), F.xxhash64(F.lit(int(seed)), "a", "b"), "a", "b"
    )
    return (
        ends.withColumn("_r", F.row_number().over(order))
        .where(F.col("_r") <= int(per_user))
        .select("a", "b", "w")
        .dropDuplicates(["a", "b"])
    )
