"""The KOC score's definition: which components it has and how metrics become them.

The ranking pipeline (:mod:`api.services.ranking`) reads the store and runs the
metrics; the functions here turn the metrics' outputs into the score's raw
component values, say which users take part in each component, and hand them to
:func:`influence.score.koc_score` (percentile ranks among active users, weighted
sum). Pure functions on arrays in node order (``snapshot.node_ids``); no I/O.

Components (:data:`influence.config.COMPONENTS`, formulas in ``docs/scoring.md``):

``pagerank``
    PageRank on the reversed influence graph (Page et al. 1999). Active: someone
    else acted on the user (PageRank gives every node the teleport share).
``reach``
    Distinct users reached within ``hops`` hops (HyperANF, Boldi, Rosa, Vigna 2011).
    Active: an estimate of at least half a user (HyperLogLog estimates of an empty
    ball are not exactly 0).
``conversion``
    GMV attributed to the user's shares and referrals, in currency units.
``conversion_rate``
    Attributed conversions per reached user, smoothed:
    ``conversions / (unique_audience + rate_prior)``.
``engagement``
    Weighted sum of the engagement signals (:func:`engagement_value`).
``spend``
    The user's own RFM value (:func:`influence.spend.rfm_value`).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from graph.money import UNITS_PER_CURRENCY_UNIT
from graph.snapshot import GraphSnapshot
from influence.config import COMPONENTS, ENGAGEMENT_SIGNALS, EngagementSection, ScoreConfig
from influence.score import ScoreResult, koc_score
from influence.spend import RFM

__all__ = [
    "engagement_value",
    "component_values",
    "active_components",
    "score_components",
    "component_details",
]


def engagement_value(signals: Mapping[str, np.ndarray], weights: EngagementSection) -> np.ndarray:
    """Raw value of the ``engagement`` component: ``sum_s weight_s * signal_s``.

    Parameters
    ----------
    signals : mapping of str to numpy.ndarray
        At least the :data:`influence.config.ENGAGEMENT_SIGNALS`, one value per node
        (from :func:`influence.engagement.engagement_signals`).
    weights : EngagementSection
        Weight of each signal.

    Returns
    -------
    numpy.ndarray of float64
    """
    value = np.zeros(signals[ENGAGEMENT_SIGNALS[0]].shape[0], dtype=np.float64)
    for name in ENGAGEMENT_SIGNALS:
        value += float(getattr(weights, name)) * signals[name]
    return value


def component_values(
    *,
    pagerank: np.ndarray,
    reach: np.ndarray,
    signals: Mapping[str, np.ndarray],
    engagement: np.ndarray,
    spend: np.ndarray,
    rate_prior: float,
) -> dict[str, np.ndarray]:
    """Raw value of every component (see the module docstring), in node order.

    Parameters
    ----------
    pagerank, reach : numpy.ndarray
        PageRank scores and reach estimates.
    signals : mapping of str to numpy.ndarray
        Conversion signals: ``attributed_gmv_units`` (units of ``10**-4``),
        ``conversions`` and ``unique_audience``.
    engagement : numpy.ndarray
        :func:`engagement_value`.
    spend : numpy.ndarray
        :func:`influence.spend.rfm_value`.
    rate_prior : float
        Smoothing of the conversion rate (``[conversion] rate_prior``).

    Returns
    -------
    dict of str to numpy.ndarray
        One array per name in :data:`influence.config.COMPONENTS`.
    """
    return {
        "pagerank": pagerank,
        "reach": reach,
        "conversion": signals["attributed_gmv_units"] / UNITS_PER_CURRENCY_UNIT,
        "conversion_rate": signals["conversions"] / (signals["unique_audience"] + rate_prior),
        "engagement": engagement,
        "spend": spend,
    }


def active_components(snapshot: GraphSnapshot, reach: np.ndarray) -> dict[str, np.ndarray]:
    """Which users take part in the components whose raw value is never exactly 0.

    ``pagerank``: users another user acted on (an in-edge of the reversed influence
    graph that is not a self-loop). ``reach``: estimates of at least 0.5. The other
    components use the default of :func:`influence.score.koc_score` (raw value > 0).
    """
    src, dst = snapshot.src, snapshot.dst
    indegree_rev = np.bincount(src[src != dst], minlength=snapshot.n_nodes)
    return {"pagerank": indegree_rev > 0, "reach": reach >= 0.5}


def score_components(
    snapshot: GraphSnapshot,
    *,
    pagerank: np.ndarray,
    reach: np.ndarray,
    signals: Mapping[str, np.ndarray],
    engagement: np.ndarray,
    spend: np.ndarray,
    config: ScoreConfig,
) -> ScoreResult:
    """The KOC score of every user from the metrics' outputs.

    Parameters
    ----------
    snapshot : GraphSnapshot
        The snapshot the metrics ran on.
    pagerank, reach, signals, engagement, spend
        As for :func:`component_values`.
    config : ScoreConfig
        Component weights (``[weights]``) and the conversion-rate prior.

    Returns
    -------
    ScoreResult
        Score, rank and per-component breakdown (:func:`influence.score.koc_score`).
    """
    raw = component_values(
        pagerank=pagerank,
        reach=reach,
        signals=signals,
        engagement=engagement,
        spend=spend,
        rate_prior=config.conversion.rate_prior,
    )
    weights = {c: getattr(config.weights, c) for c in COMPONENTS}
    return koc_score(raw, weights, active=active_components(snapshot, reach))


def component_details(signals: Mapping[str, np.ndarray], rfm: RFM) -> dict[str, np.ndarray]:
    """The signals behind the components, stored with a run's breakdown.

    Returns
    -------
    dict of str to numpy.ndarray
        ``engagement.<signal>`` per engagement signal; ``conversion.conversions``,
        ``conversion.token_gmv`` and ``conversion.attributed_gmv`` (currency units);
        ``spend.recency_days``, ``spend.frequency`` and ``spend.monetary``.
    """
    details: dict[str, np.ndarray] = {f"engagement.{k}": signals[k] for k in ENGAGEMENT_SIGNALS}
    details["conversion.conversions"] = signals["conversions"]
    details["conversion.token_gmv"] = signals["token_gmv_units"] / UNITS_PER_CURRENCY_UNIT
    details["conversion.attributed_gmv"] = signals["attributed_gmv_units"] / UNITS_PER_CURRENCY_UNIT
    details["spend.recency_days"] = rfm.recency_days
    details["spend.frequency"] = rfm.frequency
    details["spend.monetary"] = rfm.monetary_units / UNITS_PER_CURRENCY_UNIT
    return details
