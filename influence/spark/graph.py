"""Edge weights and the summed influence pairs, as Spark DataFrames.

The weight of an edge is :func:`graph.snapshot.edge_weights` (type weight times
``0.5 ** (age_days / half_life_days)``), computed by that same numpy function on
Arrow batches inside the executors, so both engines weigh every edge identically.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from numbers import Integral

import numpy as np
import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, StructField, StructType

from graph.params import Constraint, Interval
from graph.snapshot import edge_weights

__all__ = ["weighted_edges", "influence_pairs", "shuffle_partitions", "PARTITIONS_CONSTRAINT"]

PARTITIONS_CONSTRAINT: dict[str, list[Constraint]] = {
    "partitions": [Interval(Integral, 1, None), None]
}
"""What the ``partitions`` parameter of the iterative Spark metrics accepts."""


def shuffle_partitions(spark: SparkSession, partitions: int | None = None) -> int:
    """Hash partitions for the edge and node tables an iteration keeps partitioned.

    Parameters
    ----------
    spark : pyspark.sql.SparkSession
    partitions : int, optional
        Taken as given; None reads the session's ``spark.sql.shuffle.partitions``.

    Returns
    -------
    int
    """
    if partitions is not None:
        return partitions
    return int(spark.conf.get("spark.sql.shuffle.partitions") or 200)


def weighted_edges(
    edges: DataFrame,
    *,
    type_weights: Mapping[str, float] | None,
    half_life_days: float | None,
    now_us: int,
) -> DataFrame:
    """``edges`` with a ``weight`` column (float64), as in :class:`graph.snapshot.GraphSnapshot`.

    Parameters
    ----------
    edges : pyspark.sql.DataFrame
        ``seq, src, dst, etype, ts`` (see :mod:`influence.spark`).
    type_weights : mapping of str to float, optional
        Weight per edge type; missing types keep the defaults.
    half_life_days : float, optional
        Half-life of the decay; None disables it.
    now_us : int
        Reference time of the decay (epoch microseconds).

    Returns
    -------
    pyspark.sql.DataFrame
        The input columns plus ``weight``.
    """
    weights = dict(type_weights or {})
    edge_weights(
        np.zeros(0, np.int8),
        np.zeros(0, np.int64),
        type_weights=weights,
        half_life_days=half_life_days,
    )  # bad weights or half-life fail here, not inside an executor
    schema = StructType([*edges.schema.fields, StructField("weight", DoubleType())])

    def add_weight(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            w = edge_weights(
                batch.column("etype").to_numpy(zero_copy_only=False),
                batch.column("ts").to_numpy(zero_copy_only=False),
                type_weights=weights,
                half_life_days=half_life_days,
                now_us=now_us,
            )
            yield batch.append_column("weight", pa.array(w, pa.float64()))

    return edges.mapInArrow(add_weight, schema)


def influence_pairs(weighted: DataFrame) -> DataFrame:
    """Summed weight of each influencer -> influenced pair, self-loops left out.

    The DataFrame form of :attr:`graph.snapshot.GraphSnapshot.influence_csr`.

    Parameters
    ----------
    weighted : pyspark.sql.DataFrame
        Output of :func:`weighted_edges`.

    Returns
    -------
    pyspark.sql.DataFrame
        ``src, dst, w``: one row per distinct pair.
    """
    return (
        weighted.where(F.col("src") != F.col("dst"))
        .groupBy("src", "dst")
        .agg(F.sum("weight").alias("w"))
    )
