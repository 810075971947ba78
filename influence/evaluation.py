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

Baselines
---------
``spend``: the user's own net spend; ``degree``: distinct users reached directly
(unique audience); ``pagerank``: PageRank alone; ``random``: uniform random scores
from a seeded generator. They rank the same candidate users as the KOC score.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "ranking_order",
    "precision_at_k",
    "ndcg_at_k",
    "capture_at_k",
    "baseline_scores",
    "MethodReport",
    "evaluate_methods",
    "BASELINES",
]

#: Baselines every evaluation reports next to the KOC score.
BASELINES: tuple[str, ...] = ("spend", "degree", "pagerank", "random")


def ranking_order(scores: np.ndarray, candidates: np.ndarray | None = None) -> np.ndarray:
    """Indices of ``candidates`` (default: all) by descending score; ties keep index order."""
    scores = np.asarray(scores, dtype=np.float64)
    idx = np.arange(scores.shape[0]) if candidates is None else np.flatnonzero(candidates)
    return idx[np.argsort(-scores[idx], kind="stable")]


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
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    top = np.asarray(order)[:k]
    return float((np.asarray(relevance, dtype=np.float64)[top] > 0).sum()) / k


def capture_at_k(relevance: np.ndarray, order: np.ndarray, k: int) -> float:
    """Share of the total relevance of ``order`` held by its first ``k`` users (0 when none)."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    rel = np.asarray(relevance, dtype=np.float64)[np.asarray(order)]
    total = float(rel.sum())
    return float(rel[:k].sum()) / total if total > 0 else 0.0


def ndcg_at_k(relevance: np.ndarray, order: np.ndarray, k: int) -> float:
    """NDCG@k of a ranking with graded relevance (module docstring).

    The ideal DCG is computed over the users that ``order`` ranks (the candidates).

    Returns
    -------
    float in [0, 1]
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    rel = np.asarray(relevance, dtype=np.float64)
    order = np.asarray(order)
    if (rel[order] < 0).any():
        raise ValueError("relevance must be >= 0")
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
