"""Ranking orchestration: store -> snapshot -> metrics -> KOC score -> saved run.

This is the one place where the ranking pipeline does I/O. The metrics themselves
are pure functions in :mod:`influence`, and so is the score's definition (which
components, how the metrics' outputs become them: :mod:`influence.koc_score`); the
signals read from the store come from :mod:`api.services.signals`. The CLI
(``koc rank``/``top``/``runs``) and the HTTP API call the functions here and only
format their results.

Reading runs back (``leaderboard``, ``user_profile``, ``rank_changes``) lives in
:mod:`api.services.leaderboard` and is re-exported here.
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from api.services.audience import store_run_audience
from api.services.leaderboard import (  # re-exported: the CLI and the API import them here
    SORT_KEYS,
    leaderboard,
    previous_run,
    rank_changes,
    resolve_run,
    user_profile,
)
from api.services.roles import node_roles
from api.services.signals import conversion_signals
from graph.arrays import US_PER_SECOND
from graph.errors import ScoringError
from graph.events import EDGE_TYPES
from graph.snapshot import GraphSnapshot, build_snapshot
from graph.store import GraphStore, RunRecord
from influence.community_labels import stable_labels
from influence.config import ScoreConfig, as_score_config
from influence.koc_score import (
    component_details,
    engagement_value,
    score_components,
    staff_by_channel,
)
from influence.pagerank import pagerank
from influence.reach import reach_hyperanf
from influence.score import ScoreResult, score_tables
from influence.spend import rfm_from_spend, rfm_value

__all__ = [
    "Progress",
    "Ranking",
    "RankingTables",
    "compute_ranking",
    "ranking_snapshot",
    "run_ranking",
    "is_abandoned",
    "reap_interrupted_runs",
    "record_run",
    "StepTimer",
    "leaderboard",
    "user_profile",
    "rank_changes",
    "resolve_run",
    "previous_run",
    "SORT_KEYS",
]

#: ``progress(step, done, total)``: called before each pipeline step (``done`` steps finished).
Progress = Callable[[str, int, int], None]

STEPS: tuple[str, ...] = (
    "snapshot",
    "pagerank",
    "reach",
    "communities",
    "engagement",
    "spend",
    "score",
)


class RankingTables(Protocol):
    """What :func:`record_run` stores of a ranking: its two tables, timings and counts."""

    timings: dict[str, float]
    row_counts: dict[str, int]

    def tables(self) -> tuple[pa.Table, pa.Table]: ...


@dataclass
class Ranking:
    """Everything one ranking computed, before it is stored.

    Attributes
    ----------
    node_ids, roles : numpy.ndarray of object
    communities : numpy.ndarray of int32 or None
    result : influence.score.ScoreResult
    details : dict of str to numpy.ndarray
        Signals behind the components (``engagement.comments_received``, ...).
    timings : dict of str to float
        Seconds per step.
    row_counts : dict of str to int
    """

    node_ids: np.ndarray
    roles: np.ndarray
    communities: np.ndarray | None
    result: ScoreResult
    details: dict[str, np.ndarray]
    timings: dict[str, float] = field(default_factory=dict)
    row_counts: dict[str, int] = field(default_factory=dict)

    def tables(self) -> tuple[pa.Table, pa.Table]:
        """The run's ``scores`` and ``components`` tables (:func:`influence.score.score_tables`)."""
        return score_tables(
            self.result,
            self.node_ids,
            roles=self.roles,
            communities=self.communities,
            details=self.details,
        )


class StepTimer:
    """Times the steps of a pipeline and reports progress: ``step(name)`` starts a step.

    Parameters
    ----------
    steps : tuple of str
        The step names, in order (``progress`` gets the position).
    progress : callable, optional
        ``progress(step, done, total)`` before each step.
    """

    def __init__(self, steps: tuple[str, ...], progress: Progress | None = None) -> None:
        self.steps, self.progress = steps, progress
        self.timings: dict[str, float] = {}
        self._current: str | None = None
        self._clock = time.perf_counter()

    def __call__(self, name: str) -> None:
        self._stop()
        self._current = name
        if self.progress is not None:
            self.progress(name, self.steps.index(name), len(self.steps))

    def _stop(self) -> None:
        t = time.perf_counter()
        if self._current is not None:
            self.timings[self._current] = round(t - self._clock, 4)
        self._clock = t

    def finish(self) -> dict[str, float]:
        """Seconds per step, plus ``total``."""
        self._stop()
        self._current = None
        self.timings["total"] = round(sum(v for k, v in self.timings.items() if k != "total"), 4)
        return self.timings


def _us(dt: datetime | None) -> int | None:
    return None if dt is None else int(dt.timestamp() * US_PER_SECOND)


def _reach(snapshot: GraphSnapshot, config: ScoreConfig) -> np.ndarray:
    """Distinct users reached within ``hops`` hops (HyperANF estimate)."""
    est = np.asarray(
        reach_hyperanf(
            snapshot,
            hops=config.reach.hops,
            registers=config.reach.registers,
            seed=config.reach.seed,
        ),
        dtype=np.float64,
    )
    return est[:, -1] if est.ndim == 2 else est


def _previous_communities(store: GraphStore, node_ids: np.ndarray) -> np.ndarray | None:
    """Each user's community in the latest succeeded run (-1: not in it), or None."""
    prev = store.latest_run("succeeded")
    if prev is None:
        return None
    table = store.read_scores(prev.run_id)
    if table.num_rows == 0:
        return None
    known = table.filter(pc.is_valid(table.column("community")))
    pos = pc.index_in(pa.array(node_ids, pa.string()), value_set=known.column("user_id"))
    out = np.full(len(node_ids), -1, dtype=np.int64)
    hit = pc.is_valid(pos).to_numpy(zero_copy_only=False)
    communities = known.column("community").to_numpy()
    out[hit] = communities[pos.drop_null().to_numpy()]
    return out


def _communities(snapshot: GraphSnapshot, config: ScoreConfig) -> np.ndarray | None:
    """Communities by the configured method (labels by size), or None when disabled."""
    sec = config.communities
    if not sec.enabled:
        return None
    leiden_communities, plm_communities = _community_methods()
    if sec.method == "leiden":
        labels = leiden_communities(
            snapshot,
            resolution=sec.resolution,
            seed=sec.seed,
            n_iterations=sec.iterations,
            backbone_above=sec.backbone_above,
            backbone_ties=sec.backbone_ties,
        )
    else:
        labels = plm_communities(
            snapshot,
            resolution=sec.resolution,
            seed=sec.seed,
            backbone_above=sec.backbone_above,
            backbone_ties=sec.backbone_ties,
        )
    return np.asarray(labels, dtype=np.int32)


def _community_methods() -> tuple[Callable[..., Any], Callable[..., Any]]:
    """:func:`influence.communities.leiden_communities` and ``plm_communities``, imported
    on first use (igraph takes seconds to import, which a server's start-up does not need)."""
    from influence.communities import leiden_communities, plm_communities

    return leiden_communities, plm_communities


def ranking_snapshot(
    store: GraphStore,
    config: ScoreConfig,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    now: datetime | None = None,
) -> GraphSnapshot:
    """The graph a ranking with ``config`` scores: its type weights and decay half-life.

    ``now`` (the decay reference) defaults to ``end``, else the store's watermark.
    """
    weights = {t.value: config.graph.type_weights.get(t.value, 0.0) for t in EDGE_TYPES}
    return build_snapshot(
        store,
        start=start,
        end=end,
        type_weights=weights,
        half_life_days=config.graph.half_life_days,
        now=now or end or store.watermark(),
    )


def compute_ranking(
    store: GraphStore,
    config: ScoreConfig | str | Path | None = None,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    progress: Progress | None = None,
    read_roles: Callable[[np.ndarray], np.ndarray] | None = None,
) -> Ranking:
    """Compute every user's KOC score over the window ``start <= ts < end`` (no writes).

    Parameters
    ----------
    store : graph.store.GraphStore
    config : ScoreConfig, path or None
        Scoring configuration (None: the defaults).
    start, end : datetime, optional
        Data window; open when omitted. Decay and recency are measured from ``end``
        (or the store's watermark).
    progress : callable, optional
        ``progress(step, done, total)`` before each step.
    read_roles : callable, optional
        ``read_roles(node_ids)``: the effective role of each node (default
        :func:`api.services.roles.node_roles` on ``store``; the child process of
        :mod:`api.services.ranking_process` reads them through its parent).

    Returns
    -------
    Ranking

    Raises
    ------
    ScoringError
        The store holds no users, or the window no social event and no order (an
        empty run would rank everyone 0 and replace the leaderboard).
    """
    cfg = as_score_config(config)
    counts: dict[str, int] = {}
    now = end or store.watermark() or datetime.now(UTC)
    step = StepTimer(STEPS, progress)
    step("snapshot")
    snapshot = ranking_snapshot(store, cfg, start=start, end=end, now=now)
    n = snapshot.n_nodes
    if n == 0:
        raise ScoringError("The store holds no users yet; run `koc ingest` first.")
    counts.update(users=n, edges=snapshot.n_edges)

    step("pagerank")
    pr = pagerank(
        snapshot, alpha=cfg.pagerank.alpha, tol=cfg.pagerank.tol, max_iter=cfg.pagerank.max_iter
    )
    counts["pagerank_iterations"] = int(pr.iterations)

    step("reach")
    reach = _reach(snapshot, cfg)

    step("communities")
    communities = _communities(snapshot, cfg)
    if communities is not None:  # ids carried over from the last run (maximum overlap)
        previous = _previous_communities(store, snapshot.node_ids)
        if previous is not None:
            communities = stable_labels(communities, previous)

    step("engagement")
    signals = conversion_signals(store, snapshot, cfg, start, end, counts)
    engagement = engagement_value(signals, cfg.engagement)

    step("spend")
    spend_rows = store.read_spend(start, end)
    if snapshot.n_edges == 0 and spend_rows.num_rows == 0:
        raise ScoringError(
            f"The window {_window_text(start, end)} holds no social events and no orders: every "
            "score would be 0, so no run is made (the current leaderboard stays). Pick a "
            "window with data; `koc status` shows what the store holds.",
            start=start,
            end=end,
        )
    rfm = rfm_from_spend(spend_rows, snapshot.node_ids, _us(now) or 0)
    spend = rfm_value(
        rfm, recency=cfg.spend.recency, frequency=cfg.spend.frequency, monetary=cfg.spend.monetary
    )

    step("score")
    result = score_components(
        snapshot,
        pagerank=pr.scores,
        reach=reach,
        signals=signals,
        engagement=engagement,
        spend=spend,
        config=cfg,
    )
    # effective roles now (roster / KOL-list periods, user records, confident inferences)
    # store-code orders are a staff channel: such "consumers" are employees the roster misses
    declared = (read_roles or (lambda ids: node_roles(store, ids)))(snapshot.node_ids)
    roles, counts["staff_by_store_codes"] = staff_by_channel(
        declared, signals["evidence.staff_channel"]
    )
    counts["collusion_flagged"] = int(signals["evidence.collusion"].sum())
    details = component_details(signals, rfm)
    timings = step.finish()
    return Ranking(
        node_ids=snapshot.node_ids,
        roles=roles,
        communities=communities,
        result=result,
        details=details,
        timings=timings,
        row_counts=counts,
    )


def _window_text(start: datetime | None, end: datetime | None) -> str:
    return f"{start.isoformat() if start else '-inf'} .. {end.isoformat() if end else '+inf'}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_abandoned(run: RunRecord) -> bool:
    """Whether a ``running`` run can never finish: its process on this host is gone.

    A run records the host and process that compute it (``params.owner``); a run
    of this host whose process no longer exists was killed (``kill -9``, a crash,
    a reboot). Runs of other hosts, or without that record, are not judged.
    """
    owner = run.params.get("owner") or {}
    if run.status != "running" or owner.get("host") != socket.gethostname():
        return False
    pid = int(owner.get("pid") or 0)
    return pid > 0 and pid != os.getpid() and not _alive(pid)


def reap_interrupted_runs(store: GraphStore) -> list[str]:
    """Mark abandoned ``running`` runs (killed ``koc rank``) as ``failed``.

    Called when a run starts (``koc rank``, the API) and when ``koc serve`` opens
    its store, so a killed run does not stay ``running`` for ever; see
    :func:`is_abandoned`. Returns the ids marked failed.
    """
    here = socket.gethostname()
    reaped = []
    for run in store.list_runs(limit=50):
        if not is_abandoned(run):
            continue
        pid = run.params["owner"]["pid"]
        run.status = "failed"
        run.error = (
            f"abandoned: the process {pid} on {here} that ran it stopped "
            "before it finished (killed?); run `koc rank` again"
        )
        store.save_run(run)
        reaped.append(run.run_id)
    return reaped


def _new_run_id(now: datetime) -> str:
    return f"r{now:%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"


def run_ranking(
    store: GraphStore,
    config: ScoreConfig | str | Path | None = None,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    progress: Progress | None = None,
    compute: Callable[..., RankingTables] = compute_ranking,
) -> RunRecord:
    """Rank every user and store the result as a new run (``koc rank``).

    The run is saved as ``running`` first, then ``succeeded`` with its scores and
    breakdown, or ``failed`` with the error (which is re-raised).

    Parameters
    ----------
    store, config, start, end, progress
        As for :func:`compute_ranking`.
    compute : callable
        Called like :func:`compute_ranking` (the default), in this thread;
        ``POST /v1/runs`` passes :func:`api.services.ranking_process.compute_in_child`,
        which computes the same ranking in a child process.

    Returns
    -------
    graph.store.RunRecord
        With ``timings`` (seconds per step, plus ``save``), ``row_counts`` and
        ``params`` (the full config and normalised weights).
    """
    cfg = as_score_config(config)
    return record_run(
        store,
        cfg,
        start=start,
        end=end,
        compute=lambda: compute(store, cfg, start=start, end=end, progress=progress),
    )


def record_run(
    store: GraphStore,
    config: ScoreConfig,
    *,
    start: datetime | None,
    end: datetime | None,
    compute: Callable[[], RankingTables],
    params: dict[str, Any] | None = None,
) -> RunRecord:
    """Save a ranking as a run: ``running``, then its results, then ``succeeded`` or ``failed``.

    Both engines (:func:`run_ranking`, :func:`api.services.spark_ranking.run_ranking_spark`)
    store their runs through this function, so readers see the same lifecycle.

    Parameters
    ----------
    store : graph.store.GraphStore
    config : ScoreConfig
    start, end : datetime, optional
        The data window.
    compute : callable
        Computes the :class:`Ranking`, or any :class:`RankingTables` (any exception marks the run failed and is re-raised).
    params : dict, optional
        Extra run parameters (e.g. the engine), stored with the config.
    """
    reap_interrupted_runs(store)
    created = datetime.now(UTC)
    run = RunRecord(
        run_id=_new_run_id(created),
        created_at=created,
        config_hash=config.digest(),
        window_start=start,
        window_end=end,
        watermark=store.watermark(),
        params={
            "config": config.model_dump(mode="json"),
            "weights": config.weights.normalized(),
            "owner": {"host": socket.gethostname(), "pid": os.getpid()},
            **(params or {}),
        },
    )
    store.save_run(run)
    try:
        ranking = compute()
        t0 = time.perf_counter()
        scores, components = ranking.tables()
        run.row_counts = {**ranking.row_counts, "scores": scores.num_rows}
        run.timings = dict(ranking.timings)
        store.save_run(run, scores, components)  # results first, still "running"
        run.timings["save"] = round(time.perf_counter() - t0, 4)
        run.timings["total"] = round(run.timings["total"] + run.timings["save"], 4)
        stored = store_run_audience(store, run)
        if stored is not None:  # lifecycle stage, tier, RFM, channel per user (issue 18)
            run.timings["audience"] = stored["seconds"]
            run.timings["total"] = round(run.timings["total"] + stored["seconds"], 4)
        run.status = "succeeded"
        store.save_run(run)  # the last write: readers never see a succeeded run mid-save
    except BaseException as exc:  # record the failure, whatever it was, then re-raise
        run.status = "failed"
        run.error = f"{type(exc).__name__}: {exc}"
        store.save_run(run)
        raise
    return run
