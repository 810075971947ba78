"""Held-out evaluation: rank on the observed months, judge on the next month's caused GMV.

The evaluation that cannot flatter (``koc evaluate``, ``benchmarks/bench_score_quality.py``):

* the score is computed on every event before the **held-out month** (the
  adversarial world writes no event of it; for ``koc synth`` data the last month is
  held out by ranking with ``end`` = its first instant);
* each method ranks the consumer leaderboard's candidates (declared or inferred staff
  roles left out, exactly as ``koc top`` does) and is judged against each user's true
  caused GMV in the held-out month: precision@k (relevant = caused anything),
  NDCG@k, Spearman, and how many true staff and fraud accounts reach the top k;
* next to the KOC score: the baselines of :mod:`influence.evaluation` and the oracle
  ceiling (the true caused GMV of the observed months: what a perfect observer of
  the past would rank).

Ground truth is read only here, to judge.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from api.services.evaluation import month_windows
from api.services.ranking import Ranking, compute_ranking
from graph.arrays import micros, node_index
from graph.errors import ConfigError, NotFoundError
from graph.events import EventType
from graph.money import UNITS_PER_CURRENCY_UNIT, to_units
from graph.snapshot import build_snapshot
from graph.store import GraphStore
from influence.config import ScoreConfig, as_score_config
from influence.evaluation import holdout_metrics, later_buyers

__all__ = ["HoldoutTruth", "load_holdout_truth", "evaluate_holdout", "HOLDOUT_METHODS"]

#: Methods of the held-out table, in report order.
HOLDOUT_METHODS: tuple[str, ...] = (
    "koc_score",
    "oracle",
    "spend",
    "degree",
    "pagerank",
    "token_gmv",
    "later_buyers",
    "random",
)


class HoldoutTruth:
    """Truth aligned for a held-out evaluation (read from a ``koc synth`` folder)."""

    def __init__(self, directory: str | Path) -> None:
        directory = Path(directory)
        meta_path = directory / "ground_truth.json"
        users_path = directory / "ground_truth_users.parquet"
        for path in (meta_path, users_path):
            if not path.is_file():
                raise NotFoundError(
                    f"{path} is missing; --truth needs the folder written by "
                    "`koc synth --out DIR`.",
                    path=str(path),
                )
        meta = json.loads(meta_path.read_text("utf-8"))
        params = meta.get("params", {})
        try:
            months = list(params["months"])
            start = datetime.fromisoformat(params["window_start"])
            end = datetime.fromisoformat(params["window_end"])
        except (KeyError, ValueError) as exc:
            raise ConfigError(f"{meta_path} lacks params.months/window_*: {exc}.") from exc
        self.world = str(meta.get("world", "standard"))
        self.holdout = str(params.get("holdout_month", months[-1]))
        windows = {w[0]: w for w in month_windows(start, end, start.tzinfo)}  # type: ignore[arg-type]
        if self.holdout not in windows:
            raise ConfigError(f"{meta_path}: held-out month {self.holdout} is outside the window.")
        self.holdout_start = windows[self.holdout][1]
        self.observed = [m for m in months if m < self.holdout]
        table = pq.read_table(users_path)
        self.user_ids = table.column("user_id").combine_chunks()

        def gmv(month: str) -> np.ndarray:
            column = "true_referred_gmv_" + month.replace("-", "_")
            if column not in table.column_names:
                raise ConfigError(f"{users_path} has no column {column!r}.", key=column)
            return to_units(table.column(column)) / UNITS_PER_CURRENCY_UNIT

        self.relevance = gmv(self.holdout)
        self.oracle = sum((gmv(m) for m in self.observed), np.zeros(len(self.user_ids)))
        role = np.asarray(table.column("role").to_pylist(), dtype=object)
        self.staff = role == "employee"
        self.fraud = np.asarray(table.column("is_fraud").to_numpy(zero_copy_only=False), bool)

    def aligned(self, node_ids: np.ndarray) -> dict[str, np.ndarray]:
        """``relevance``, ``oracle``, ``staff`` and ``fraud`` in node order."""
        pos = node_index(self.user_ids, pa.array(node_ids, pa.string()))
        ok = pos >= 0
        out = {}
        for name in ("relevance", "oracle", "staff", "fraud"):
            values = getattr(self, name)
            arr = np.zeros(len(node_ids), dtype=values.dtype)
            arr[ok] = values[pos[ok]]
            out[name] = arr
        return out


def load_holdout_truth(directory: str | Path) -> HoldoutTruth:
    """Read the ground truth of a ``koc synth`` folder for :func:`evaluate_holdout`.

    Raises
    ------
    NotFoundError
        A truth file is missing.
    ConfigError
        The files lack the expected fields.
    """
    return HoldoutTruth(directory)


def _later_buyers(store: GraphStore, ranking: Ranking, end: datetime) -> np.ndarray:
    snap = build_snapshot(store, types=(EventType.VIEW, EventType.REFERRAL), end=end)
    orders = store.read_events(EventType.ORDER, None, end)
    buyer = node_index(snap.node_ids, orders.column("buyer"))
    counts = later_buyers(
        snap.n_nodes,
        src=snap.src,
        dst=snap.dst,
        ts=snap.ts,
        buyer=buyer[buyer >= 0],
        order_ts=micros(orders.column("ts"))[buyer >= 0],
    )
    pos = node_index(pa.array(snap.node_ids, pa.string()), pa.array(ranking.node_ids, pa.string()))
    out = np.zeros(len(ranking.node_ids), dtype=np.float64)
    out[pos >= 0] = counts[pos[pos >= 0]]
    return out


def holdout_methods(
    store: GraphStore, ranking: Ranking, oracle: np.ndarray, end: datetime, seed: int
) -> dict[str, np.ndarray]:
    """Score arrays of :data:`HOLDOUT_METHODS` for one ranking (node order)."""
    rng = np.random.default_rng(seed)
    details = ranking.details
    return {
        "koc_score": ranking.result.score,
        "oracle": oracle,
        "spend": np.asarray(details["spend.monetary"], dtype=np.float64),
        "degree": np.asarray(details["engagement.unique_audience"], dtype=np.float64),
        "pagerank": np.asarray(ranking.result.raw["pagerank"], dtype=np.float64),
        "token_gmv": np.asarray(details["conversion.token_gmv"], dtype=np.float64),
        "later_buyers": _later_buyers(store, ranking, end),
        "random": rng.random(len(ranking.node_ids)),
    }


def evaluate_holdout(
    store: GraphStore,
    truth_dir: str | Path,
    config: ScoreConfig | str | Path | None = None,
    *,
    ks: Sequence[int] = (100, 1000),
    seed: int = 0,
    ranking: Ranking | None = None,
) -> dict[str, Any]:
    """Judge the KOC score, the baselines and the oracle on the held-out month.

    Parameters
    ----------
    store : graph.store.GraphStore
        Holding the events of the same ``koc synth`` run as ``truth_dir``.
    truth_dir : str or Path
    config : ScoreConfig, path or None
    ks : sequence of int
        Cut-offs.
    seed : int
        Seed of the random baseline.
    ranking : Ranking, optional
        A ranking already computed with ``end`` = the held-out month's start (e.g.
        by an ablation); computed here when omitted.

    Returns
    -------
    dict
        ``world``, ``holdout``, ``observed`` (months), ``candidates``, ``relevant``
        (candidates with caused GMV in the held-out month) and ``methods``
        (method -> metric -> value; metrics ``precision@k``, ``ndcg@k``, ``spearman``,
        ``staff@k``, ``fraud@k``).
    """
    cfg = as_score_config(config)
    truth = load_holdout_truth(truth_dir)
    if ranking is None:
        ranking = compute_ranking(store, cfg, end=truth.holdout_start)
    t = truth.aligned(ranking.node_ids)
    staff_roles = np.asarray(list(cfg.leaderboard.staff_roles), dtype=str)
    candidates = ~np.isin(ranking.roles.astype(str), staff_roles)
    methods = holdout_methods(store, ranking, t["oracle"], truth.holdout_start, seed)
    flags = {"staff": t["staff"], "fraud": t["fraud"]}
    return {
        "world": truth.world,
        "holdout": truth.holdout,
        "observed": truth.observed,
        "ks": list(ks),
        "candidates": int(candidates.sum()),
        "relevant": int((t["relevance"][candidates] > 0).sum()),
        "methods": {
            name: holdout_metrics(scores, t["relevance"], ks, candidates, flags)
            for name, scores in methods.items()
        },
    }
