"""Ranking quality: precision@k, NDCG@k, baselines and the period-ahead backtest.

Metrics
-------
For a ranking (users sorted by score, best first; equal scores keep index order) and
relevance :math:`rel_i \\ge 0` of the user at position :math:`i` (1-based):

* **precision@k** = (relevant users among the first :math:`k`) / :math:`k`, relevant
  meaning :math:`rel > 0` (Manning, Raghavan, Schütze, *Introduction to Information
  Retrieval*, 2008, ch. 8).
* **capture@k** = (relevance of the first :math:`k`) / (relevance of all ranked users):
  the share of, e.g., next-month referred GMV that the top :math:`k` brought in (the
  cumulative-gains or "lift" chart of marketing analytics; Berry and Linoff, *Data Mining
  Techniques*, 2004, ch. 3).
* **NDCG@k** = DCG@k / IDCG@k with :math:`\\mathrm{DCG@k} = \\sum_{i=1}^{k} rel_i /
  \\log_2(i + 1)` (linear gains, as :func:`sklearn.metrics.ndcg_score`) and IDCG@k the
  DCG@k of the ideal order (Järvelin and Kekäläinen, "Cumulated gain-based evaluation
  of IR techniques", ACM TOIS 20(4), 2002). 0 when nothing is relevant.

* **Spearman** rank correlation between a method's scores and the relevance over all
  candidates (Spearman 1904; ties get average ranks, as :func:`scipy.stats.spearmanr`).
* **flagged@k**: how many of the first :math:`k` carry a flag (true staff, fraud).

Baselines
---------
``spend``: the user's own net spend; ``degree``: distinct users reached directly
(unique audience); ``pagerank``: PageRank alone; ``random``: uniform random scores
from a seeded generator. The held-out evaluation adds ``token_gmv`` (GMV credited by
an explicit token alone), ``later_buyers`` (distinct viewers or referees who bought
anything after the view or referral: :func:`later_buyers`) and the ``oracle``
ceiling (the true caused GMV of the observed months). All rank the same candidate
users as the KOC score.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from numbers import Integral

import numpy as np
from scipy.stats import spearmanr

from graph.errors import ParameterError
from graph.params import Interval, validate_params

__all__ = [
    "ranking_order",
    "precision_at_k",
    "ndcg_at_k",
    "capture_at_k",
    "baseline_scores",
    "MethodReport",
    "evaluate_methods",
    "BASELINES",
    "spearman",
    "flagged_at_k",
    "later_buyers",
    "holdout_metrics",
    "mean_and_sd",
]

#: Baselines every evaluation reports next to the KOC score.
BASELINES: tuple[str, ...] = ("spend", "degree", "pagerank", "random")


def ranking_order(scores: np.ndarray, candidates: np.ndarray | None = None) -> np.ndarray:
    """Indices of ``candidates`` (default: all) by descending score; ties keep index order."""
    scores = np.asarray(scores, dtype=np.float64)
    idx = np.arange(scores.shape[0]) if candidates is None else np.flatnonzero(candidates)
    return idx[np.argsort(-scores[idx], kind="stable")]


@validate_params({"k": [Interval(Integral, 1, None)]})
def precision_at_k(relevance: np.ndarray, order: np.ndarray, k: int) -> float:
    """Share of relevant (``relevance > 0``) users among the first ``k`` of ``order``.

    Parameters
    ----------
    relevance : numpy.ndarray
        Relevance of every user (bool or non-negative numbers).
    order : numpy.ndarray of int
        Ranked user indices (see :func:`ranking_order`).
    k : int
        Cut-off (>= 1). Fewer than ``k`` ranked users still divide by ``k``.

    Returns
    -------
    float
    """
    top = np.asarray(order)[:k]
    return float((np.asarray(relevance, dtype=np.float64)[top] > 0).sum()) / k


@validate_params({"k": [Interval(Integral, 1, None)]})
def capture_at_k(relevance: np.ndarray, order: np.ndarray, k: int) -> float:
    """Share of the total relevance of ``order`` held by its first ``k`` users (0 when none)."""
    rel = np.asarray(relevance, dtype=np.float64)[np.asarray(order)]
    total = float(rel.sum())
    return float(rel[:k].sum()) / total if total > 0 else 0.0


@validate_params({"k": [Interval(Integral, 1, None)]})
def ndcg_at_k(relevance: np.ndarray, order: np.ndarray, k: int) -> float:
    """NDCG@k of a ranking with graded relevance (module docstring).

    The ideal DCG is computed over the users that ``order`` ranks (the candidates).

    Returns
    -------
    float in [0, 1]
    """
    rel = np.asarray(relevance, dtype=np.float64)
    order = np.asarray(order)
    if (rel[order] < 0).any():
        raise ParameterError(
            "The 'relevance' parameter of ndcg_at_k must be >= 0 for every ranked user.",
            parameter="relevance",
        )
    gains = rel[order[:k]]
    discounts = 1.0 / np.log2(np.arange(2, gains.shape[0] + 2))
    dcg = float(gains @ discounts)
    ideal = np.sort(rel[order])[::-1][:k]
    idcg = float(ideal @ discounts[: ideal.shape[0]])
    return dcg / idcg if idcg > 0 else 0.0


def baseline_scores(
    *,
    spend: np.ndarray,
    degree: np.ndarray,
    pagerank: np.ndarray,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """The baseline score arrays of :data:`BASELINES` (``random`` from ``seed``)."""
    n = np.asarray(spend).shape[0]
    rng = np.random.default_rng(seed)
    return {
        "spend": np.asarray(spend, dtype=np.float64),
        "degree": np.asarray(degree, dtype=np.float64),
        "pagerank": np.asarray(pagerank, dtype=np.float64),
        "random": np.asarray(rng.random(n), dtype=np.float64),
    }


@dataclass(frozen=True)
class MethodReport:
    """Metrics of one scoring method: ``metrics[name]`` such as ``"precision@100"``."""

    method: str
    metrics: dict[str, float]


def evaluate_methods(
    methods: Mapping[str, np.ndarray],
    relevance: Mapping[str, np.ndarray],
    ks: Sequence[int],
    candidates: np.ndarray | None = None,
    *,
    graded: Sequence[str] = (),
) -> list[MethodReport]:
    """precision@k and NDCG@k of each method against each relevance.

    Parameters
    ----------
    methods : mapping of str to numpy.ndarray
        Score per user for each method (``"koc_score"``, baselines...).
    relevance : mapping of str to numpy.ndarray
        Named relevance vectors (``"planted"`` -> bool, ``"gmv"`` -> amounts).
    ks : sequence of int
        Cut-offs.
    candidates : numpy.ndarray of bool, optional
        Users that may be ranked (default: all).
    graded : sequence of str
        Relevances that are amounts (GMV): reported as ``capture@k`` instead of
        ``precision@k`` (a user who brought 1 CNY is not as relevant as one who brought
        10,000).

    Returns
    -------
    list of MethodReport
        One per method, metrics named ``"<relevance> precision@k"`` (or ``capture@k``)
        and ``"<relevance> ndcg@k"``.
    """
    reports = []
    for name, scores in methods.items():
        order = ranking_order(scores, candidates)
        metrics: dict[str, float] = {}
        for rel_name, rel in relevance.items():
            for k in ks:
                if rel_name in graded:
                    metrics[f"{rel_name} capture@{k}"] = capture_at_k(rel, order, k)
                else:
                    metrics[f"{rel_name} precision@{k}"] = precision_at_k(rel, order, k)
                metrics[f"{rel_name} ndcg@{k}"] = ndcg_at_k(rel, order, k)
        reports.append(MethodReport(method=name, metrics=metrics))
    return reports


def spearman(
    scores: np.ndarray, relevance: np.ndarray, candidates: np.ndarray | None = None
) -> float:
    """Spearman rank correlation of ``scores`` and ``relevance`` over the candidates.

    Returns 0.0 when either side is constant (the correlation is undefined).
    """
    scores = np.asarray(scores, dtype=np.float64)
    relevance = np.asarray(relevance, dtype=np.float64)
    if candidates is not None:
        mask = np.asarray(candidates, dtype=bool)
        scores, relevance = scores[mask], relevance[mask]
    if scores.shape[0] < 2 or np.ptp(scores) == 0 or np.ptp(relevance) == 0:
        return 0.0
    return float(spearmanr(scores, relevance).statistic)


def flagged_at_k(flags: np.ndarray, order: np.ndarray, k: int) -> int:
    """Number of flagged users (``flags`` true) among the first ``k`` of ``order``."""
    return int(np.asarray(flags, dtype=bool)[np.asarray(order)[:k]].sum())


def later_buyers(
    n_nodes: int,
    *,
    src: np.ndarray,
    dst: np.ndarray,
    ts: np.ndarray,
    buyer: np.ndarray,
    order_ts: np.ndarray,
) -> np.ndarray:
    """Distinct ``dst`` of each ``src`` who placed any order at or after the edge.

    The simplest count a marketer would try: of the people a user's shares reached
    (views) or invited (referrals), how many bought afterwards, whatever the order's
    token says.

    Parameters
    ----------
    n_nodes : int
    src, dst, ts : numpy.ndarray
        Edges (influencer -> influenced) and their times.
    buyer, order_ts : numpy.ndarray
        Buyer node index and time of each order.

    Returns
    -------
    numpy.ndarray of int64
    """
    src = np.asarray(src, dtype=np.int64)
    dst = np.asarray(dst, dtype=np.int64)
    last = np.full(n_nodes, np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(last, np.asarray(buyer, dtype=np.int64), np.asarray(order_ts, dtype=np.int64))
    hit = (last[dst] >= np.asarray(ts, dtype=np.int64)) & (src != dst)
    key = np.unique(src[hit] * np.int64(n_nodes) + dst[hit])
    return np.bincount(key // n_nodes, minlength=n_nodes).astype(np.int64)


def holdout_metrics(
    scores: np.ndarray,
    relevance: np.ndarray,
    ks: Sequence[int],
    candidates: np.ndarray,
    flags: Mapping[str, np.ndarray],
) -> dict[str, float]:
    """precision@k, NDCG@k, Spearman and flagged@k of one method against held-out relevance.

    Parameters
    ----------
    scores, relevance : numpy.ndarray
        Per user; relevance is the held-out month's true caused GMV (>= 0).
    ks : sequence of int
    candidates : numpy.ndarray of bool
        Users the method may rank (the consumer leaderboard's).
    flags : mapping of str to numpy.ndarray of bool
        E.g. ``{"staff": ..., "fraud": ...}``: reported as ``"staff@k"``.

    Returns
    -------
    dict of str to float
    """
    order = ranking_order(scores, candidates)
    out: dict[str, float] = {}
    for k in ks:
        out[f"precision@{k}"] = precision_at_k(relevance, order, k)
        out[f"ndcg@{k}"] = ndcg_at_k(relevance, order, k)
    out["spearman"] = spearman(scores, relevance, candidates)
    for name, flag in flags.items():
        for k in ks:
            out[f"{name}@{k}"] = float(flagged_at_k(flag, order, k))
    return out


def mean_and_sd(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof = 1; 0 for a single value)."""
    arr = np.asarray(list(values), dtype=np.float64)
    if arr.shape[0] == 0:
        return float("nan"), float("nan")
    sd = float(arr.std(ddof=1)) if arr.shape[0] > 1 else 0.0
    return float(arr.mean()), sd
