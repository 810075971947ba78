"""The ranking on Apache Spark: lake -> per-user components (Spark) -> KOC score -> run or Parquet.

The distributed counterpart of :func:`api.services.ranking.compute_ranking`. The
metrics run as Spark DataFrame transformations over the Parquet lake
(:func:`api.services.spark_components.spark_components`); no edge is collected to the
driver. What comes back is the per-user component table, to which the single-node
score definition is applied unchanged (:func:`influence.koc_score.score_components`:
percentile ranks among active users, weighted sum, breakdown; the staff channel's
roles and the collusion exclusion), so both engines rank with one definition.

:func:`run_ranking_spark` stores the result as a normal ranking run (leaderboard,
API and history unchanged); :func:`write_ranking_parquet` writes it as Parquet for
the cluster case (``python -m api.cli.spark_job``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from api.services.ranking import Progress, Ranking, StepTimer, record_run
from api.services.roles import node_roles
from api.services.spark_components import SPARK_STEPS, ComponentTable, spark_components
from graph.lake import Lake, export_lake, read_lake
from graph.store import GraphStore, RunRecord
from influence.config import ScoreConfig
from influence.koc_score import (
    component_details,
    engagement_value,
    score_components,
    staff_by_channel,
)
from influence.spend import rfm_value

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = [
    "ranking_from_components",
    "compute_ranking_spark",
    "run_ranking_spark",
    "write_ranking_parquet",
]


def ranking_from_components(
    table: ComponentTable,
    config: ScoreConfig,
    *,
    roles: np.ndarray | None = None,
    counts: dict[str, int] | None = None,
) -> Ranking:
    """The KOC score of the collected per-user table, with the single-node score definition.

    The calls :func:`api.services.ranking.compute_ranking` makes after its metrics:
    :func:`influence.koc_score.engagement_value`, :func:`influence.spend.rfm_value`,
    :func:`influence.koc_score.score_components`,
    :func:`influence.koc_score.staff_by_channel` and
    :func:`influence.koc_score.component_details`.

    Parameters
    ----------
    table : ComponentTable
    config : ScoreConfig
    roles : numpy.ndarray of object, optional
        Effective role per user before the staff channel (default: the lake's
        declared roles).
    counts : dict, optional
        Row counts; receives ``staff_by_store_codes`` and ``collusion_flagged``.
    """
    counts = {} if counts is None else counts
    signals = table.signals
    engagement = engagement_value(signals, config.engagement)
    spend = rfm_value(
        table.rfm,
        recency=config.spend.recency,
        frequency=config.spend.frequency,
        monetary=config.spend.monetary,
    )
    result = score_components(
        None,
        pagerank=table.pagerank,
        reach=table.reach,
        signals=signals,
        engagement=engagement,
        spend=spend,
        config=config,
        pagerank_active=table.pagerank_active,
    )
    effective, counts["staff_by_store_codes"] = staff_by_channel(
        table.roles if roles is None else roles, signals["evidence.staff_channel"]
    )
    counts["collusion_flagged"] = int(signals["evidence.collusion"].sum())
    return Ranking(
        node_ids=table.node_ids,
        roles=effective,
        communities=table.communities,
        result=result,
        details=component_details(signals, table.rfm),
        row_counts=counts,
    )


def compute_ranking_spark(
    spark: SparkSession,
    lake: str | Path | Lake,
    config: ScoreConfig,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    progress: Progress | None = None,
    roles: Callable[[np.ndarray], np.ndarray] | None = None,
) -> Ranking:
    """Every user's KOC score computed on Spark from a Parquet lake (no writes).

    Parameters
    ----------
    spark : pyspark.sql.SparkSession
    lake : path, URI or graph.lake.Lake
        The lake (:mod:`graph.lake`), e.g. ``s3a://bucket/koc-lake``.
    config : ScoreConfig
    start, end : datetime, optional
        Data window.
    progress : callable, optional
        ``progress(step, done, total)`` before each of
        :data:`api.services.spark_components.SPARK_STEPS`.
    roles : callable, optional
        ``roles(node_ids) -> roles``; default: the lake's declared roles.

    Returns
    -------
    api.services.ranking.Ranking
        Like the single-node one; communities come from the single-node method on the
        strongest-ties backbone selected on Spark.
    """
    step = StepTimer(SPARK_STEPS, progress)
    frames = lake if isinstance(lake, Lake) else read_lake(spark, lake)
    counts: dict[str, int] = {}
    table = spark_components(frames, config, start=start, end=end, step=step, counts=counts)
    step("score")
    role_values = None if roles is None else roles(table.node_ids)
    ranking = ranking_from_components(table, config, roles=role_values, counts=counts)
    ranking.timings = step.finish()
    return ranking


def run_ranking_spark(
    store: GraphStore,
    spark: SparkSession,
    lake: str | Path,
    config: ScoreConfig,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    progress: Progress | None = None,
    export: bool = True,
) -> RunRecord:
    """``koc rank --engine spark``: rank on Spark and store a normal run in ``store``.

    Parameters
    ----------
    store : graph.store.GraphStore
        Where the run goes (leaderboard, API and history read it as any run).
    spark : pyspark.sql.SparkSession
    lake : path
        Lake folder; refreshed from ``store`` first when ``export`` is True.
    config : ScoreConfig
    start, end, progress
        As for :func:`compute_ranking_spark`.
    export : bool, default True
        Write the store's current data to ``lake`` before ranking.

    Returns
    -------
    graph.store.RunRecord
        ``params.engine`` = ``"spark"`` and ``params.spark_master``.
    """

    def compute() -> Ranking:
        t0 = time.perf_counter()
        if export:
            export_lake(store, lake)
        exported = round(time.perf_counter() - t0, 4)
        ranking = compute_ranking_spark(
            spark,
            lake,
            config,
            start=start,
            end=end,
            progress=progress,
            roles=lambda ids: node_roles(store, ids),
        )
        if export:
            ranking.timings["export"] = exported
            ranking.timings["total"] = round(ranking.timings["total"] + exported, 4)
        return ranking

    params = {"engine": "spark", "spark_master": spark.sparkContext.master}
    return record_run(store, config, start=start, end=end, compute=compute, params=params)


def write_ranking_parquet(
    spark: SparkSession, ranking: Ranking, output: str | Path
) -> dict[str, int]:
    """Write a ranking's ``scores`` and ``components`` tables as Parquet (the cluster case).

    Written through Spark, so ``output`` may be any Hadoop URI (``s3a://``, ``hdfs://``).
    Schemas: :data:`graph.store.SCORE_SCHEMA` and :data:`graph.store.COMPONENT_SCHEMA`.

    Returns
    -------
    dict of str to int
        Rows written per table.
    """
    scores, components = ranking.tables()
    base = str(output).rstrip("/")
    rows = {}
    for name, table in (("scores", scores), ("components", components)):
        spark.createDataFrame(table.to_pandas()).write.mode("overwrite").parquet(f"{base}/{name}")
        rows[name] = table.num_rows
    return rows
