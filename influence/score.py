"""The KOC score: a weighted sum of percentile-ranked components, with its breakdown.

For user :math:`i` and component :math:`c` with raw value :math:`x_{ic}`:

.. math::

    p_{ic} = \\begin{cases} r_{ic} / m_c & \\text{if user } i \\text{ is active in } c \\\\
             0 & \\text{otherwise} \\end{cases}
    \\qquad
    \\text{score}_i = \\sum_c w_c \\, p_{ic}, \\quad \\sum_c w_c = 1

where :math:`m_c` is the number of users *active* in :math:`c` (raw value above 0: a
share viewed, an order credited, ...) and :math:`r_{ic}` the average rank (1 = lowest,
ties share their mean rank) of :math:`x_{ic}` among them. So an inactive user gets 0,
the top user gets 1, and an active user's normalised value is the share of active
users it beats or ties. The contribution of :math:`c` is :math:`w_c p_{ic}`;
contributions add up to the score.

Why percentiles among the *active* users: the metrics are heavy-tailed and most users
are inactive in most components (a few percent of users have an attributed order in
a month). Ranks make components of different units comparable and are robust to
outliers; ranking among all users would squeeze every active user into the top few
percent, so the *size* of a user's conversions would barely move the score, while a
small weight on a dense component (spend) would decide the order of the converters.
See ``docs/scoring.md``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from graph.errors import ScoringError
from graph.store import COMPONENT_SCHEMA, SCORE_SCHEMA

__all__ = ["ScoreResult", "percentile_rank", "koc_score", "rank_order", "score_tables"]


def percentile_rank(values: np.ndarray, active: np.ndarray | None = None) -> np.ndarray:
    """Percentile rank in [0, 1] of each value; inactive entries get 0.

    Parameters
    ----------
    values : numpy.ndarray
        One value per user; larger is better.
    active : numpy.ndarray of bool, optional
        Users that take part; default ``values > 0``. Inactive users get 0.

    Returns
    -------
    numpy.ndarray of float64
        ``average_rank_among_active / n_active`` for active users, else 0.

    Examples
    --------
    >>> percentile_rank(np.array([0.0, 5.0, 1.0, 5.0]))
    array([0.        , 0.83333333, 0.33333333, 0.83333333])
    """
    values = np.asarray(values, dtype=np.float64)
    n = values.shape[0]
    out = np.zeros(n, dtype=np.float64)
    if n == 0:
        return out
    if active is None:
        active = values > 0
    active = np.asarray(active, dtype=bool)
    if np.isnan(values[active]).any():
        raise ScoringError("percentile_rank got NaN for an active user; fix the metric first.")
    n_active = int(active.sum())
    if n_active:
        from scipy.stats import rankdata  # scipy.stats takes seconds to import: on first use

        out[active] = rankdata(_tie_key(values[active]), method="average") / n_active
    return out


def _tie_key(values: np.ndarray) -> np.ndarray:
    """``values`` rounded to 40 mantissa bits (relative ~1e-12) for ranking.

    Sums of the same terms in another order differ in the last bits, so two users with
    equal evidence could rank apart depending on how the store ordered their rows; at
    this precision such values tie, while real differences (far above 1e-12 relative)
    keep their order.
    """
    mantissa, exponent = np.frexp(values)
    return np.ldexp(np.round(mantissa * 2.0**40) / 2.0**40, exponent)


@dataclass(frozen=True)
class ScoreResult:
    """Scores of every user with the full breakdown, ordered like the input arrays.

    Attributes
    ----------
    score : numpy.ndarray of float64
        Sum of contributions, in [0, 1].
    raw, normalized, contribution : dict of str to numpy.ndarray
        Per component: the metric value, its percentile rank, and weight x percentile.
    weights : dict of str to float
        Component weights, summing to 1.
    """

    score: np.ndarray
    raw: dict[str, np.ndarray]
    normalized: dict[str, np.ndarray]
    contribution: dict[str, np.ndarray]
    weights: dict[str, float]


def koc_score(
    raw: Mapping[str, np.ndarray],
    weights: Mapping[str, float],
    *,
    active: Mapping[str, np.ndarray] | None = None,
) -> ScoreResult:
    """Combine raw component values into the KOC score (see the module docstring).

    Parameters
    ----------
    raw : mapping of str to numpy.ndarray
        Raw value of each component per user; all of the same length.
    weights : mapping of str to float
        Non-negative weight per component of ``raw`` (missing = 0); divided by their sum.
    active : mapping of str to numpy.ndarray of bool, optional
        Per component, which users take part (default: raw value > 0).

    Returns
    -------
    ScoreResult

    Raises
    ------
    ScoringError
        Negative weights, no positive weight, a weight for an unknown component,
        or arrays of different lengths.
    """
    unknown = set(weights) - set(raw)
    if unknown:
        raise ScoringError(f"Weights for unknown components: {sorted(unknown)}.")
    if any(w < 0 for w in weights.values()):
        raise ScoringError("Component weights must be >= 0.")
    total = math.fsum(weights.values())
    if total <= 0:
        raise ScoringError("At least one component weight must be positive.")
    lengths = {np.asarray(v).shape[0] for v in raw.values()}
    if len(lengths) > 1:
        raise ScoringError(f"Component arrays differ in length: {sorted(lengths)}.")
    n = lengths.pop() if lengths else 0
    w = {c: float(weights.get(c, 0.0)) / total for c in raw}
    normalized, contribution = {}, {}
    score = np.zeros(n, dtype=np.float64)
    for c, values in raw.items():
        normalized[c] = percentile_rank(values, None if active is None else active.get(c))
        contribution[c] = w[c] * normalized[c]
        score += contribution[c]
    return ScoreResult(
        score=score,
        raw={c: np.asarray(v, dtype=np.float64) for c, v in raw.items()},
        normalized=normalized,
        contribution=contribution,
        weights=w,
    )


def rank_order(score: np.ndarray, node_ids: np.ndarray) -> np.ndarray:
    """Rank of each user, 1 = highest score; equal scores are ordered by ``user_id``.

    Returns
    -------
    numpy.ndarray of int32
    """
    n = len(score)
    id_order = pc.sort_indices(pa.array(node_ids, type=pa.string())).to_numpy()
    id_rank = np.empty(n, dtype=np.int64)
    id_rank[id_order] = np.arange(n)
    order = np.lexsort((id_rank, -np.asarray(score, dtype=np.float64)))
    rank = np.empty(n, dtype=np.int32)
    rank[order] = np.arange(1, n + 1, dtype=np.int32)
    return rank


def score_tables(
    result: ScoreResult,
    node_ids: np.ndarray,
    *,
    roles: np.ndarray,
    communities: np.ndarray | None = None,
    details: Mapping[str, np.ndarray] | None = None,
) -> tuple[pa.Table, pa.Table]:
    """The run's score and breakdown tables, shaped like the store's schemas.

    Parameters
    ----------
    result : ScoreResult
    node_ids, roles : numpy.ndarray of object
        ``user_id`` and role of each user (same order as ``result``).
    communities : numpy.ndarray of int, optional
        Community of each user.
    details : mapping of str to numpy.ndarray, optional
        Extra per-user signals (``engagement.comments_received``, ``spend.recency_days``
        ...) stored as breakdown rows with no normalised value or contribution, only
        where non-zero, so a profile can explain each component.

    Returns
    -------
    scores : pyarrow.Table
        :data:`graph.store.SCORE_SCHEMA`, in rank order.
    components : pyarrow.Table
        :data:`graph.store.COMPONENT_SCHEMA`: one row per user and component, then detail rows.
    """
    n = len(node_ids)
    ids = pa.array(node_ids, type=pa.string())
    rank = rank_order(result.score, node_ids)
    order = np.argsort(rank, kind="stable")
    scores = pa.table(
        {
            "user_id": ids.take(order),
            "rank": pa.array(rank[order], type=pa.int32()),
            "score": pa.array(result.score[order], type=pa.float64()),
            "role": pa.array(np.asarray(roles, dtype=object)[order], type=pa.string()),
            "community": pa.nulls(n, type=pa.int32())
            if communities is None
            else pa.array(np.asarray(communities)[order], type=pa.int32()),
        },
        schema=SCORE_SCHEMA,
    )
    parts = []
    for c in result.raw:
        parts.append(
            pa.table(
                {
                    "user_id": ids,
                    "component": pa.array(np.full(n, c, dtype=object), type=pa.string()),
                    "raw": result.raw[c],
                    "normalized": result.normalized[c],
                    "contribution": result.contribution[c],
                },
                schema=COMPONENT_SCHEMA,
            )
        )
    for name, values in (details or {}).items():
        values = np.asarray(values, dtype=np.float64)
        keep = np.flatnonzero(np.nan_to_num(values) != 0)
        m = keep.shape[0]
        parts.append(
            pa.table(
                {
                    "user_id": ids.take(keep),
                    "component": pa.array(np.full(m, name, dtype=object), type=pa.string()),
                    "raw": values[keep],
                    "normalized": pa.nulls(m, type=pa.float64()),
                    "contribution": pa.nulls(m, type=pa.float64()),
                },
                schema=COMPONENT_SCHEMA,
            )
        )
    components = pa.concat_tables(parts) if parts else COMPONENT_SCHEMA.empty_table()
    return scores, components
