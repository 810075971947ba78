"""The ranking's metrics on Apache Spark: lake -> Spark DataFrames -> per-user component table.

The distributed counterpart of the metrics steps of
:func:`api.services.ranking.compute_ranking`. Every metric runs as a Spark DataFrame
transformation (:mod:`influence.spark`) over the Parquet lake (:mod:`graph.lake`); no
edge is collected to the driver. What comes back is the per-user table (one row per
user: PageRank, reach, engagement and conversion counts, evidence sums, RFM inputs,
community); the evidence is finished on it by :func:`influence.evidence.finish_evidence`
and the score by :mod:`api.services.spark_ranking`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow.compute as pc

from api.services.ranking import _window_text
from graph.arrays import US_PER_DAY
from graph.errors import ConfigError, ScoringError
from graph.events import EDGE_TYPES
from graph.lake import Lake
from influence.config import ENGAGEMENT_SIGNALS, ScoreConfig
from influence.evidence import finish_evidence
from influence.spend import RFM

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


__all__ = ["SPARK_STEPS", "spark_session", "spark_for_run", "ComponentTable", "spark_components"]

#: Steps reported to ``progress`` (and timed) by :func:`compute_ranking_spark`.
SPARK_STEPS: tuple[str, ...] = (
    "read",
    "pagerank",
    "reach",
    "communities",
    "engagement",
    "spend",
    "collect",
    "score",
)

_SIGNALS = (*ENGAGEMENT_SIGNALS, "conversions", "attributed_gmv_units", "token_gmv_units")


def spark_session(
    master: str | None = "local[2]",
    *,
    app_name: str = "koc-rank",
    conf: Mapping[str, str] | None = None,
) -> SparkSession:
    """A Spark session for the ranking (created, or the running one reused).

    Parameters
    ----------
    master : str, optional
        ``local[N]``, ``spark://host:7077``, ``yarn``, ``k8s://https://...``; None
        leaves it to ``spark-submit``.
    app_name : str
    conf : mapping of str to str, optional
        Extra Spark settings (``spark.executor.memory`` ...).

    Raises
    ------
    ConfigError
        When pyspark (the ``spark`` extra) or Java is missing.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise ConfigError(
            "The Spark engine needs pyspark: install the 'spark' extra "
            "(uv sync --extra spark, or pip install 'koc-graph[spark]').",
            key="engine",
        ) from None
    builder = SparkSession.builder.appName(app_name)
    if master:
        builder = builder.master(master)
    settings = {
        "spark.ui.enabled": "false",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": "8",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        **(conf or {}),
    }
    if master and master.startswith("local") and "PYSPARK_PYTHON" not in os.environ:
        # local executors run this interpreter (its venv has numpy and pyarrow)
        os.environ["PYSPARK_PYTHON"] = sys.executable
    for key, value in settings.items():
        builder = builder.config(key, value)
    try:
        return builder.getOrCreate()
    except Exception as exc:  # py4j / JVM start-up failures have no common base class
        raise ConfigError(
            f"Could not start Spark (master {master!r}): {exc}. Spark needs Java 17 or "
            "newer on PATH (or JAVA_HOME).",
            key="master",
        ) from exc


@contextmanager
def spark_for_run(master: str | None = "local[2]") -> Iterator[SparkSession]:
    """A Spark session for one ranking; stopped afterwards unless it was already running.

    A session this process already runs (a notebook's, a test's) is reused and left
    running; one started here is stopped on exit.
    """
    from pyspark.sql import SparkSession

    running = SparkSession.getActiveSession()
    session = spark_session(master)
    try:
        yield session
    finally:
        if running is None:
            session.stop()


@dataclass(frozen=True)
class ComponentTable:
    """The per-user table the Spark run collects, as arrays in node (``idx``) order.

    Attributes
    ----------
    node_ids, roles : numpy.ndarray of object
    pagerank, reach : numpy.ndarray of float64
    pagerank_active : numpy.ndarray of bool
        Someone else acted on the user (an edge from the user, not a self-loop).
    signals : dict of str to numpy.ndarray
        Engagement signals, ``conversions``, ``attributed_gmv_units``, ``token_gmv_units``
        (int64) and the evidence of :func:`influence.evidence.finish_evidence` as
        ``evidence.<name>``: the ``signals`` of :func:`api.services.signals.conversion_signals`.
    rfm : influence.spend.RFM
    communities : numpy.ndarray of int32 or None
    pagerank_iterations : int
    """

    node_ids: np.ndarray
    roles: np.ndarray
    pagerank: np.ndarray
    reach: np.ndarray
    pagerank_active: np.ndarray
    signals: dict[str, np.ndarray]
    rfm: RFM
    communities: np.ndarray | None
    pagerank_iterations: int


def _us(dt: datetime) -> int:
    return int(dt.timestamp() * 1_000_000)


def _window(df: DataFrame, start: datetime | None, end: datetime | None) -> DataFrame:
    from pyspark.sql import functions as F

    if start is not None:
        df = df.where(F.col("ts") >= F.lit(_us(start)))
    if end is not None:
        df = df.where(F.col("ts") < F.lit(_us(end)))
    return df


def _backbone_communities(pairs: Any, n: int, config: ScoreConfig) -> np.ndarray:
    """Communities of the strongest-ties backbone (computed on Spark, clustered here).

    Label propagation on Spark puts most users of a graph with big audiences into
    one community (its labels flood through the hubs: 95% of 100k users, modularity
    0.02 against 0.61 for PLM, ``benchmarks/RESULTS.md``), so the engine keeps the
    single-node method: every user's ``backbone_ties`` strongest ties are selected
    on Spark (:func:`influence.spark.strongest_ties_backbone`, at most that many
    per user) and only they are collected and clustered by
    :func:`influence.communities.ties_communities` in the driver.
    """
    import scipy.sparse as sp

    from influence import spark as S
    from influence.communities import ties_communities

    sec = config.communities
    kept = S.strongest_ties_backbone(pairs, per_user=sec.backbone_ties, seed=sec.seed).toArrow()
    a = kept.column("a").to_numpy().astype(np.int64)
    b = kept.column("b").to_numpy().astype(np.int64)
    ties = sp.csr_matrix((kept.column("w").to_numpy(), (a, b)), shape=(n, n))
    return ties_communities(
        ties,
        method=sec.method,
        resolution=sec.resolution,
        seed=sec.seed,
        n_iterations=sec.iterations,
    )


def spark_components(
    lake: Lake,
    config: ScoreConfig,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    step: Callable[[str], None] | None = None,
    counts: dict[str, int] | None = None,
) -> ComponentTable:
    """Compute every user's component inputs on Spark and collect the per-user table.

    Parameters
    ----------
    lake : graph.lake.Lake
    config : ScoreConfig
    start, end : datetime, optional
        Window ``start <= ts < end``; decay and recency are measured from ``end``
        (or the lake's watermark).
    step : callable, optional
        ``step(name)`` before each of :data:`SPARK_STEPS` (timing and progress).
    counts : dict, optional
        Receives row counts.

    Returns
    -------
    ComponentTable
    """
    from pyspark.sql import functions as F

    from influence import spark as S
    from influence.spark.evidence import EVIDENCE_SUMS

    def at(name: str) -> None:
        if step is not None:
            step(name)

    counts = {} if counts is None else counts
    now = end or lake.watermark or datetime.now(UTC)
    now_us = _us(now)
    at("read")
    nodes = lake.users.select("idx").localCheckpoint()
    n = nodes.count()
    if n == 0:
        raise ScoringError("The lake holds no users yet; run `koc ingest` and export it first.")
    edges = _window(lake.edges, start, end).localCheckpoint()
    shares = _window(lake.shares, start, end)
    orders = _window(lake.orders, start, end)
    counts.update(users=n, edges=edges.count(), orders=orders.count())
    if counts["edges"] == 0 and counts["orders"] == 0:  # as compute_ranking: no empty runs
        raise ScoringError(
            f"The window {_window_text(start, end)} holds no social events and no orders: every "
            "score would be 0, so no run is made (the current leaderboard stays).",
            start=start,
            end=end,
        )

    at("pagerank")
    weights = {t.value: config.graph.type_weights.get(t.value, 0.0) for t in EDGE_TYPES}
    weighted = S.weighted_edges(
        edges, type_weights=weights, half_life_days=config.graph.half_life_days, now_us=now_us
    )
    pairs = S.influence_pairs(weighted).localCheckpoint()
    pr = S.pagerank(
        pairs,
        nodes,
        alpha=config.pagerank.alpha,
        tol=config.pagerank.tol,
        max_iter=config.pagerank.max_iter,
    )
    counts["pagerank_iterations"] = pr.iterations
    scores = pr.scores.localCheckpoint()

    at("reach")
    hops = config.reach.hops
    reach = S.reach_hyperanf(
        edges, lake.users, hops=hops, registers=config.reach.registers, seed=config.reach.seed
    ).select("idx", F.col(f"reach_{hops}").alias("reach"))
    reach = reach.localCheckpoint()

    at("communities")
    communities = None
    if config.communities.enabled:
        communities = _backbone_communities(pairs, n, config)

    at("engagement")
    net = S.net_order_units(orders, lake.refunds).localCheckpoint()
    attributed = S.attribute_orders(
        net,
        shares=shares,
        edges=edges,
        users=lake.users,
        use_token=config.attribution.use_token,
        referral_code_prefix=config.attribution.referral_code_prefix,
        view_window_us=int(config.attribution.view_window_days * US_PER_DAY),
        referral_window_us=int(config.attribution.referral_window_days * US_PER_DAY),
    )
    attributed = attributed.localCheckpoint()
    conversions = S.conversion_totals(attributed)
    evidence = S.evidence_sums(
        attributed, users=lake.users, edges=edges, weights=config.evidence
    ).localCheckpoint()
    engaged = S.engagement_signals(edges, shares, orders)
    active = edges.where(F.col("src") != F.col("dst")).select("src").distinct()
    active = active.select(F.col("src").alias("idx"), F.lit(True).alias("pagerank_active"))

    at("spend")
    rfm = S.rfm_inputs(net, now_us)

    at("collect")
    table = lake.users.select("idx", "user_id", "role")
    for part in (scores, reach, engaged, conversions, evidence, rfm, active):
        table = table.join(part, "idx", "left")
    arrow = table.orderBy("idx").toArrow()
    counts.update(shares=shares.count(), refunds=lake.refunds.count())
    counts["orders_attributed"] = int(attributed.where(F.col("credited").isNotNull()).count())
    if arrow.num_rows != n or not np.array_equal(
        arrow.column("idx").to_numpy(), np.arange(n, dtype=np.int64)
    ):
        raise ScoringError(
            "The lake's users must be numbered idx = 0..n-1 without gaps; "
            "re-export it with `koc export parquet DIR`."
        )

    def col(name: str, dtype: Any, fill: Any = 0) -> np.ndarray:
        arr = arrow.column(name).to_numpy(zero_copy_only=False)
        out = np.where(pc.is_null(arrow.column(name)).to_numpy(zero_copy_only=False), fill, arr)
        return np.asarray(out, dtype=dtype)

    buyer = ~pc.is_null(arrow.column("frequency")).to_numpy(zero_copy_only=False)
    sums = {
        name: col(name, np.float64 if name.startswith(("evidence_", "buyers_")) else np.int64)
        for name in EVIDENCE_SUMS
    }
    signals = {name: col(name, np.int64) for name in _SIGNALS}
    signals.update({f"evidence.{k}": v for k, v in finish_evidence(sums, config.evidence).items()})
    return ComponentTable(
        node_ids=np.asarray(arrow.column("user_id").to_pylist(), dtype=object),
        roles=np.asarray([r or "unknown" for r in arrow.column("role").to_pylist()], dtype=object),
        pagerank=col("pagerank", np.float64),
        reach=col("reach", np.float64),
        pagerank_active=col("pagerank_active", bool, False),
        signals=signals,
        rfm=RFM(
            buyer=buyer,
            recency_days=col("recency_days", np.float64, np.nan),
            frequency=col("frequency", np.int64),
            monetary_units=col("monetary_units", np.int64),
        ),
        communities=communities,
        pagerank_iterations=pr.iterations,
    )
