"""HyperANF k-hop reach on Spark, with the single-node hash so both give equal values.

Spark's ``hll_sketch_agg`` (Apache DataSketches) hashes with MurmurHash3, so its
sketches could only match the single-node HyperANF within HyperLogLog error. This
module instead keeps the counters of Boldi, Rosa, Vigna (2011) as a *sparse*
register table ``idx, j, rho`` (only the non-zero registers of each counter) whose
registers come from :func:`influence.reach.node_hashes` (a hash of the user id),
the function the single-node code uses. A hop is then one join and one group-by:

.. math::

    M_u^{t+1}[j] = \\max\\big(M_u^0[j], \\max_{v \\in out(u)} M_v^t[j]\\big)

and the estimate is :func:`influence.reach.hll_estimate_sums` applied in the
executors. Register maxima are exact and the register sums are sums of powers of two
(exact in float64 while every rank is below 47), so the reach equals the
single-node value exactly. Cost per hop: one row per edge and non-zero register of
its target, at most ``m`` (partial aggregation before the shuffle). The edge pattern
is partitioned by its target once and persisted, so a hop shuffles the register
table, never the edges.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import pyarrow as pa
from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from graph.events import EDGE_TYPE_CODES, EventType
from graph.params import validate_params
from influence.reach import (
    HYPERANF_CONSTRAINTS,
    REACH_TYPES,
    hll_estimate_sums,
    log2_registers,
    node_hashes,
)
from influence.spark.graph import PARTITIONS_CONSTRAINT, shuffle_partitions

__all__ = ["reach_hyperanf"]


def _hash_batches(log2m: int, seed: int):  # type: ignore[no-untyped-def]
    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            j, rho = node_hashes(batch.column("user_id"), log2m, seed)
            yield pa.record_batch(
                [batch.column("idx"), pa.array(j, pa.int32()), pa.array(rho, pa.int32())],
                names=["idx", "j", "rho"],
            )

    return run


def _estimate_batches(m: int):  # type: ignore[no-untyped-def]
    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            est = hll_estimate_sums(
                batch.column("z").to_numpy(zero_copy_only=False),
                batch.column("zeros").to_numpy(zero_copy_only=False),
                m,
            )
            yield pa.record_batch(
                [batch.column("idx"), batch.column("hop"), pa.array(est, pa.float64())],
                names=["idx", "hop", "est"],
            )

    return run


@validate_params(
    {**{k: HYPERANF_CONSTRAINTS[k] for k in ("hops", "registers")}, **PARTITIONS_CONSTRAINT}
)
def reach_hyperanf(
    edges: DataFrame,
    nodes: DataFrame,
    *,
    hops: int = 3,
    registers: int = 64,
    seed: int = 0,
    types: Iterable[EventType] | None = None,
    partitions: int | None = None,
) -> DataFrame:
    """Estimated distinct users within ``1..hops`` hops downstream of every node.

    Parameters
    ----------
    edges : pyspark.sql.DataFrame
        ``src, dst, etype`` (see :mod:`influence.spark`).
    nodes : pyspark.sql.DataFrame
        ``idx, user_id`` of every node (the hash is of the user id).
    hops : int, default 3
    registers : int, default 64
        HyperLogLog registers per counter (a power of two >= 16).
    seed : int, default 0
    types : iterable of EventType, optional
        Edge types to walk; default :data:`influence.reach.REACH_TYPES`.
    partitions : int, optional
        Hash partitions of the kept edge pattern; default the session's
        ``spark.sql.shuffle.partitions``.

    Returns
    -------
    pyspark.sql.DataFrame
        ``idx, reach_1 .. reach_<hops>``: equal to the columns of
        :func:`influence.reach.reach_hyperanf` (hop 1 exact, later hops estimated,
        clipped at 0 and non-decreasing over hops).

    References
    ----------
    .. [1] P. Boldi, M. Rosa, S. Vigna, "HyperANF: Approximating the
       neighbourhood function of very large graphs on a budget", WWW 2011.
    """
    log2m = log2_registers(registers, 0)
    m = 1 << log2m
    codes = [EDGE_TYPE_CODES[EventType(t)] for t in (REACH_TYPES if types is None else types)]
    # the pattern is hash-partitioned (and sorted) by dst once and kept, so every hop's
    # join moves only the register table, not the edges again
    pattern = (
        edges.where(F.col("etype").isin(codes) & (F.col("src") != F.col("dst")))
        .select("src", "dst")
        .distinct()
        .repartition(shuffle_partitions(edges.sparkSession, partitions), "dst")
        .sortWithinPartitions("dst")
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    degree = (
        pattern.groupBy(F.col("src").alias("idx")).agg(F.count("*").alias("deg")).localCheckpoint()
    )
    own = nodes.select(F.col("idx").cast("long"), "user_id").mapInArrow(
        _hash_batches(log2m, seed), "idx long, j int, rho int"
    )
    own = own.localCheckpoint()
    cur = own
    sums = []
    for k in range(1, hops + 1):  # cur = registers of B(., k)
        reached = pattern.join(cur.withColumnRenamed("idx", "dst"), "dst").select(
            F.col("src").alias("idx"), "j", "rho"
        )
        cur = (
            own.unionByName(reached).groupBy("idx", "j").agg(F.max("rho").alias("rho"))
        ).localCheckpoint()
        if k == 1:
            continue  # hop 1 is exact: the out-degree
        sums.append(
            cur.groupBy("idx").agg(
                F.lit(k).alias("hop"),
                (F.lit(float(m)) - F.count("*") + F.sum(F.pow(F.lit(2.0), -F.col("rho")))).alias(
                    "z"
                ),
                (F.lit(m) - F.count("*")).alias("zeros"),
            )
        )
    pattern.unpersist()  # what follows reads the checkpointed registers and degrees
    out = (
        nodes.select("idx")
        .join(degree, "idx", "left")
        .select("idx", F.coalesce(F.col("deg").cast("double"), F.lit(0.0)).alias("reach_1"))
    )
    if sums:
        est = sums[0]
        for extra in sums[1:]:
            est = est.unionByName(extra)
        est = est.mapInArrow(_estimate_batches(m), "idx long, hop int, est double")
        wide = est.groupBy("idx").pivot("hop", list(range(2, hops + 1))).agg(F.first("est"))
        out = out.join(wide, "idx", "left")
    # users without out-edges reach nobody; estimates are clipped at 0 and made monotone
    cols = [F.col("reach_1")]
    active = F.col("reach_1") > 0
    for k in range(2, hops + 1):
        raw = F.when(active, F.greatest(F.col(str(k)) - F.lit(1.0), F.lit(0.0))).otherwise(0.0)
        cols.append(F.greatest(cols[-1], raw))
    return out.select("idx", *(c.alias(f"reach_{k + 1}") for k, c in enumerate(cols)))
