"""Evaluation against ground truth (``koc evaluate``) and weight calibration (``koc calibrate``).

Ground truth comes from the demo-data generator (``koc synth``): ``ground_truth.json``
(parameters, planted KOC ids) and ``ground_truth_users.parquet`` (true referred GMV of
each user per month). It is only ever *read here*, to judge rankings: the score never
sees it.

Evaluation
    1. **Planted KOCs**: the ranking over the whole data window, judged by whether each
       user is a planted KOC (precision@k, NDCG@k with binary relevance).
    2. **Backtest**: for each month ``t`` but the last, scores computed on month ``t``
       alone, judged by each user's true referred GMV in month ``t + 1`` (NDCG@k with
       the GMV as graded relevance, and capture@k: the share of that GMV the top k
       brought in); averaged over the months.

Both rank the consumer leaderboard's candidates (staff roles left out) and report
the KOC score next to the baselines of :mod:`influence.evaluation`.

Calibration
    Features: the normalised components of each month ``t``; target: next month's GMV
    credited by explicit attribution tokens as the store sees it (no ground truth;
    ``target="attributed"`` uses every attribution rule), fitted with
    :class:`influence.calibration.WeightCalibrator`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from api.services.ranking import Ranking, compute_ranking
from graph.arrays import node_index
from graph.errors import ConfigError, NotFoundError
from graph.money import UNITS_PER_CURRENCY_UNIT, to_units
from graph.store import GraphStore
from influence.calibration import WeightCalibrator
from influence.config import COMPONENTS, ScoreConfig, as_score_config
from influence.evaluation import BASELINES, baseline_scores, evaluate_methods

__all__ = [
    "GroundTruth",
    "load_truth",
    "month_windows",
    "evaluate",
    "format_markdown",
    "calibrate",
]

#: Calibration targets: name -> detail signal of :class:`api.services.ranking.Ranking`.
TARGETS: dict[str, str] = {
    "token": "conversion.token_gmv",
    "attributed": "conversion.attributed_gmv",
    "evidence": "conversion",
}

#: ``progress(label, done, total)`` for the per-window rankings.
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class GroundTruth:
    """What the generator planted.

    Attributes
    ----------
    user_ids : pyarrow.Array of string
    planted : numpy.ndarray of bool
    gmv : dict of str to numpy.ndarray of float64
        True referred GMV (CNY) per month label (``"2026-07"``).
    windows : list of (str, datetime, datetime)
        Month label, start, end (the generator's time zone).
    """

    user_ids: pa.Array
    planted: np.ndarray
    gmv: dict[str, np.ndarray]
    windows: list[tuple[str, datetime, datetime]]

    def aligned(self, node_ids: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """``planted`` and ``gmv`` in node order (users absent from the truth: False / 0)."""
        pos = node_index(self.user_ids, pa.array(node_ids, pa.string()))
        ok = pos >= 0
        planted = np.zeros(len(node_ids), dtype=bool)
        planted[ok] = self.planted[pos[ok]]
        gmv = {}
        for month, values in self.gmv.items():
            g = np.zeros(len(node_ids), dtype=np.float64)
            g[ok] = values[pos[ok]]
            gmv[month] = g
        return planted, gmv


def month_windows(
    start: datetime, end: datetime, tz: tzinfo
) -> list[tuple[str, datetime, datetime]]:
    """Calendar months ``[first, next)`` in ``tz`` covering ``start .. end``."""
    local = start.astimezone(tz)
    cur = datetime(local.year, local.month, 1, tzinfo=tz)
    out = []
    while cur < end:
        nxt = (cur + timedelta(days=32)).replace(day=1)
        out.append((f"{cur:%Y-%m}", cur, nxt))
        cur = nxt
    return out


def load_truth(directory: str | Path) -> GroundTruth:
    """Read ``ground_truth.json`` and ``ground_truth_users.parquet`` from ``directory``.

    Raises
    ------
    NotFoundError
        A file is missing (generate one with ``koc synth --out DIR``).
    ConfigError
        The files lack the expected fields.
    """
    directory = Path(directory)
    meta_path = directory / "ground_truth.json"
    users_path = directory / "ground_truth_users.parquet"
    for path in (meta_path, users_path):
        if not path.is_file():
            raise NotFoundError(
                f"{path} is missing; --truth needs the folder written by `koc synth --out DIR`.",
                path=str(path),
            )
    meta = json.loads(meta_path.read_text("utf-8"))
    try:
        params = meta["params"]
        months = list(params["months"])
        start = datetime.fromisoformat(params["window_start"])
        end = datetime.fromisoformat(params["window_end"])
    except (KeyError, ValueError) as exc:
        raise ConfigError(
            f"{meta_path} lacks params.months/window_start/window_end: {exc}."
        ) from exc
    table = pq.read_table(users_path)
    gmv = {}
    for month in months:
        column = "true_referred_gmv_" + month.replace("-", "_")
        if column not in table.column_names:
            raise ConfigError(f"{users_path} has no column {column!r}.", key=column)
        gmv[month] = to_units(table.column(column)) / UNITS_PER_CURRENCY_UNIT
    windows = [w for w in month_windows(start, end, start.tzinfo) if w[0] in gmv]  # type: ignore[arg-type]
    return GroundTruth(
        user_ids=table.column("user_id").combine_chunks(),
        planted=np.asarray(table.column("is_planted_koc").to_numpy(zero_copy_only=False), bool),
        gmv=gmv,
        windows=windows,
    )


def _candidates(ranking: Ranking, staff: Sequence[str]) -> np.ndarray:
    return ~np.isin(ranking.roles.astype(str), np.asarray(list(staff), dtype=str))


def _methods(ranking: Ranking, seed: int) -> dict[str, np.ndarray]:
    base = baseline_scores(
        spend=ranking.details["spend.monetary"],
        degree=ranking.details["engagement.unique_audience"],
        pagerank=ranking.result.raw["pagerank"],
        seed=seed,
    )
    return {"koc_score": ranking.result.score, **{b: base[b] for b in BASELINES}}


def evaluate(
    store: GraphStore,
    truth_dir: str | Path,
    config: ScoreConfig | str | Path | None = None,
    *,
    ks: Sequence[int] = (100, 1000),
    seed: int = 0,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Judge the KOC score and the baselines against the ground truth (module docstring).

    Returns
    -------
    dict
        ``ks``, ``methods`` (method -> metric -> value; metrics ``planted precision@k``,
        ``planted ndcg@k``, ``backtest capture@k``, ``backtest ndcg@k``),
        ``periods`` (per-month backtest metrics), ``candidates``, ``planted`` and
        ``beats_baselines`` (metric -> whether the KOC score beats every baseline).
    """
    cfg = as_score_config(config)
    truth = load_truth(truth_dir)
    staff = cfg.leaderboard.staff_roles
    total = len(truth.windows)
    if progress:
        progress("whole window", 0, total)
    full = compute_ranking(store, cfg)
    planted, gmv = truth.aligned(full.node_ids)
    cand = _candidates(full, staff)
    results = {
        r.method: dict(r.metrics)
        for r in evaluate_methods(_methods(full, seed), {"planted": planted}, ks, cand)
    }
    periods: list[dict[str, Any]] = []
    for i, ((label, start, end), (next_label, _, _)) in enumerate(
        zip(truth.windows[:-1], truth.windows[1:], strict=True)
    ):
        if progress:
            progress(label, i + 1, total)
        ranking = compute_ranking(store, cfg, start=start, end=end)
        _, g = truth.aligned(ranking.node_ids)
        reports = evaluate_methods(
            _methods(ranking, seed),
            {"backtest": g[next_label]},
            ks,
            _candidates(ranking, staff),
            graded=("backtest",),
        )
        periods.append(
            {
                "scored": label,
                "judged": next_label,
                "methods": {r.method: r.metrics for r in reports},
            }
        )
    for method in results:
        for key in periods[0]["methods"][method] if periods else ():
            results[method][key] = float(np.mean([p["methods"][method][key] for p in periods]))
    metrics = list(results["koc_score"])
    beats = {m: all(results["koc_score"][m] > results[b][m] for b in BASELINES) for m in metrics}
    return {
        "ks": list(ks),
        "methods": results,
        "periods": periods,
        "candidates": int(cand.sum()),
        "planted": int(planted[cand].sum()),
        "config_hash": cfg.digest(),
        "beats_baselines": beats,
    }


def format_markdown(report: dict[str, Any]) -> str:
    """The evaluation as a Markdown table (methods as rows, metrics as columns)."""
    metrics = list(report["methods"]["koc_score"])
    head = "| method | " + " | ".join(metrics) + " |"
    sep = "|---|" + "---:|" * len(metrics)
    rows = []
    for method, values in report["methods"].items():
        cells = []
        for m in metrics:
            v = values[m]
            best = method == "koc_score" and report["beats_baselines"].get(m)
            cells.append(f"**{v:.3f}**" if best else f"{v:.3f}")
        rows.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join([head, sep, *rows]) + "\n"


def calibrate(
    store: GraphStore,
    config: ScoreConfig | str | Path | None = None,
    *,
    timezone: str = "UTC",
    k: int = 100,
    alpha: float = 1.0,
    n_splits: int | None = None,
    target: str = "token",
    progress: Progress | None = None,
) -> tuple[WeightCalibrator, ScoreConfig, dict[str, Any]]:
    """Fit component weights from the store's monthly history.

    Parameters
    ----------
    store : graph.store.GraphStore
    config : ScoreConfig, path or None
        Starting configuration (its other sections are kept).
    timezone : str
        IANA zone of the month boundaries.
    k : int
        Cut-off of the NDCG used to compare the fitted and current weights.
    alpha : float
        Ridge regularisation strength.
    n_splits : int, optional
        Time-ordered folds (default: months with a successor - 1, at least 1).
    target : {"token", "attributed", "evidence"}
        Next-month value to predict: GMV credited by an explicit attribution token only
        (default), by every attribution rule (also the last-view and referral
        fallbacks, which credit organic orders too), or the score's own evidence of
        caused GMV (the ``conversion`` component's raw value, :mod:`influence.evidence`).
    progress : callable, optional

    Returns
    -------
    calibrator : WeightCalibrator
        Fitted; ``cv_results_`` holds the per-fold NDCG of both weightings.
    fitted : ScoreConfig
        ``config`` with the fitted weights.
    summary : dict
        Months used, weights before and after, mean NDCG@k gain, the held-out last
        month (``holdout``: fitted on the earlier months only) and ``recommended``
        (False: ``fitted`` keeps the current weights, since the fit loses on the folds
        or on the held-out month).

    Raises
    ------
    ScoringError
        Fewer than three months of data.
    """
    from graph.errors import ScoringError

    if target not in TARGETS:
        raise ConfigError(
            f"The 'target' parameter must be one of {', '.join(TARGETS)}. Got {target!r} instead.",
            key="target",
        )
    cfg = as_score_config(config)
    first, last = _data_span(store)
    windows = month_windows(first, last + timedelta(microseconds=1), ZoneInfo(timezone))
    if len(windows) < 3:
        raise ScoringError(
            f"Calibration needs at least 3 months of data (found {len(windows)}); "
            "ingest more history or keep the default weights."
        )
    feats, targets = [], []
    for i, (label, start, end) in enumerate(windows):
        if progress:
            progress(label, i, len(windows))
        ranking = compute_ranking(store, cfg, start=start, end=end)
        # every window's snapshot covers all known users, in the same node order
        feats.append(np.column_stack([ranking.result.normalized[c] for c in COMPONENTS]))
        source = ranking.result.raw if target == "evidence" else ranking.details
        targets.append(np.asarray(source[TARGETS[target]], dtype=np.float64))
    X, y = feats[:-1], targets[1:]
    splits = n_splits if n_splits is not None else max(1, len(X) - 1)
    current = np.array([getattr(cfg.weights, c) for c in COMPONENTS], dtype=np.float64)
    model = WeightCalibrator(alpha=alpha, k=k, n_splits=splits).fit(X, y, baseline=current)
    fitted = cfg.with_weights(dict(zip(COMPONENTS, model.weights_.tolist(), strict=True)))
    summary = {
        "target": target,
        "months": [w[0] for w in windows],
        "pairs": [f"{a[0]} -> {b[0]}" for a, b in zip(windows[:-1], windows[1:], strict=True)],
        "weights_before": cfg.weights.normalized(),
        "weights_after": fitted.weights.normalized(),
        "cv": model.cv_results_,
        f"mean_ndcg@{k}_before": model.baseline_score_,
        f"mean_ndcg@{k}_after": model.score_,
        "gain": model.score_ - model.baseline_score_,
        "holdout": {
            "pair": f"{windows[-2][0]} -> {windows[-1][0]}",
            f"ndcg@{k}_before": model.holdout_["ndcg_baseline"],
            f"ndcg@{k}_after": model.holdout_["ndcg_fitted"],
            "gain": model.holdout_["ndcg_fitted"] - model.holdout_["ndcg_baseline"],
            "weights": dict(zip(COMPONENTS, model.holdout_["weights"], strict=True)),
        },
        "recommended": model.recommended_,
    }
    return model, fitted, summary


def _data_span(store: GraphStore) -> tuple[datetime, datetime]:
    from graph.events import EventType

    orders = store.read_events(EventType.ORDER)
    last = store.watermark()
    if orders.num_rows == 0 or last is None:
        raise NotFoundError("The store holds no orders; run `koc ingest` first.")
    first = orders.column("ts")[0].as_py()
    return first, last
