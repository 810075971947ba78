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
    Evidence of caused GMV (:mod:`influence.evidence`): attributed orders net of
    refunds, weighed by how much each proves (new-buyer token > repeat token > last
    view > referral window), staff-channel and collusive orders excluded, distinct
    buyers, value per buyer shrunk toward the mean; currency units.
``conversion_rate``
    Evidence-weighted distinct buyers per reached user, smoothed:
    ``evidence_buyers / (unique_audience + rate_prior)``.
``engagement``
    Weighted sum of the engagement signals (:func:`engagement_value`).
``spend``
    The user's own RFM value (:func:`influence.spend.rfm_value`).

A user flagged for **collusion** (``evidence.collusion``: buys through each other's
links, or buyers on the user's device or phone) takes part in no component: their
score is 0, and the flag is in the breakdown.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from graph.errors import ScoringError
from graph.money import UNITS_PER_CURRENCY_UNIT
from graph.snapshot import GraphSnapshot
from influence.config import COMPONENTS, ENGAGEMENT_SIGNALS, EngagementSection, ScoreConfig
from influence.evidence import EVIDENCE_RULES
from influence.score import ScoreResult, koc_score
from influence.spend import RFM

__all__ = [
    "engagement_value",
    "component_values",
    "active_components",
    "score_components",
    "component_details",
    "staff_by_channel",
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
        Conversion signals: ``evidence.estimate`` (units of ``10**-4``),
        ``evidence.evidence_buyers`` and ``unique_audience``.
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
        "conversion": signals["evidence.estimate"] / UNITS_PER_CURRENCY_UNIT,
        "conversion_rate": signals["evidence.evidence_buyers"]
        / (signals["unique_audience"] + rate_prior),
        "engagement": engagement,
        "spend": spend,
    }


def active_components(
    snapshot: GraphSnapshot | None,
    reach: np.ndarray,
    raw: Mapping[str, np.ndarray] | None = None,
    excluded: np.ndarray | None = None,
    *,
    pagerank_active: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Which users take part in each component.

    ``pagerank``: users another user acted on (an in-edge of the reversed influence
    graph that is not a self-loop). ``reach``: estimates of at least 0.5. The other
    components: raw value > 0 (given ``raw``; else left to
    :func:`influence.score.koc_score`'s default). ``excluded`` users (collusion)
    take part in none. ``pagerank_active`` replaces the snapshot's in-edge test (the
    distributed ranking computes it without a snapshot).
    """
    if pagerank_active is None:
        if snapshot is None:
            raise ScoringError("active_components needs a snapshot or pagerank_active.")
        src, dst = snapshot.src, snapshot.dst
        pagerank_active = np.bincount(src[src != dst], minlength=snapshot.n_nodes) > 0
    active = {"pagerank": np.asarray(pagerank_active, dtype=bool), "reach": reach >= 0.5}
    for name, values in (raw or {}).items():
        active.setdefault(name, np.asarray(values) > 0)
    if excluded is not None:
        active = {name: mask & ~excluded for name, mask in active.items()}
    return active


def score_components(
    snapshot: GraphSnapshot | None,
    *,
    pagerank: np.ndarray,
    reach: np.ndarray,
    signals: Mapping[str, np.ndarray],
    engagement: np.ndarray,
    spend: np.ndarray,
    config: ScoreConfig,
    pagerank_active: np.ndarray | None = None,
) -> ScoreResult:
    """The KOC score of every user from the metrics' outputs.

    Parameters
    ----------
    snapshot : GraphSnapshot or None
        The snapshot the metrics ran on (None when ``pagerank_active`` is given).
    pagerank, reach, signals, engagement, spend
        As for :func:`component_values`.
    config : ScoreConfig
        Component weights (``[weights]``) and the conversion-rate prior.
    pagerank_active : numpy.ndarray of bool, optional
        See :func:`active_components`.

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
    excluded = np.asarray(signals["evidence.collusion"], dtype=bool)
    return koc_score(
        raw,
        weights,
        active=active_components(snapshot, reach, raw, excluded, pagerank_active=pagerank_active),
    )


def component_details(signals: Mapping[str, np.ndarray], rfm: RFM) -> dict[str, np.ndarray]:
    """The signals behind the components, stored with a run's breakdown.

    Returns
    -------
    dict of str to numpy.ndarray
        ``engagement.<signal>`` per engagement signal; ``conversion.conversions``,
        ``conversion.token_gmv`` and ``conversion.attributed_gmv`` (currency units);
        ``spend.recency_days``, ``spend.frequency`` and ``spend.monetary``; per rule
        of :data:`influence.evidence.EVIDENCE_RULES` (token, code, view, referral)
        ``conversion.buyers_<rule>`` (distinct buyers) and ``conversion.gmv_<rule>``
        (their net GMV); ``conversion.evidence_buyers``, ``conversion.refund_share``;
        ``flags.staff_orders``, ``flags.collusive_orders``, ``flags.staff_channel`` and
        ``flags.collusion`` (1 when flagged).
    """
    details: dict[str, np.ndarray] = {f"engagement.{k}": signals[k] for k in ENGAGEMENT_SIGNALS}
    details["conversion.conversions"] = signals["conversions"]
    details["conversion.token_gmv"] = signals["token_gmv_units"] / UNITS_PER_CURRENCY_UNIT
    details["conversion.attributed_gmv"] = signals["attributed_gmv_units"] / UNITS_PER_CURRENCY_UNIT
    details["spend.recency_days"] = rfm.recency_days
    details["spend.frequency"] = rfm.frequency
    details["spend.monetary"] = rfm.monetary_units / UNITS_PER_CURRENCY_UNIT
    for rule in EVIDENCE_RULES:
        details[f"conversion.buyers_{rule}"] = signals[f"evidence.buyers_{rule}"]
        details[f"conversion.gmv_{rule}"] = (
            signals[f"evidence.gmv_{rule}_units"] / UNITS_PER_CURRENCY_UNIT
        )
    details["conversion.evidence_buyers"] = signals["evidence.evidence_buyers"]
    details["conversion.refund_share"] = signals["evidence.refund_share"]
    details["flags.staff_orders"] = signals["evidence.staff_orders"]
    details["flags.collusive_orders"] = signals["evidence.collusive_orders"]
    details["flags.staff_channel"] = signals["evidence.staff_channel"].astype(np.float64)
    details["flags.collusion"] = signals["evidence.collusion"].astype(np.float64)
    return details


def staff_by_channel(roles: np.ndarray, staff_channel: np.ndarray) -> tuple[np.ndarray, int]:
    """Effective roles with the staff channel's evidence applied.

    A user whose role is ``consumer`` or ``unknown`` (roster, KOL list, user record or
    inference) but whose credited orders are staff-channel orders (their code keyed
    into store orders: ``evidence.staff_channel``) is an ``employee`` for the
    leaderboard: a user record's role is weak evidence, a till is strong. Declared
    employees and KOLs keep their role.

    Returns
    -------
    roles : numpy.ndarray of object
        A copy with the overrides.
    changed : int
        How many roles were overridden (``koc rank`` reports it as
        ``staff_by_store_codes``: the roster is stale by that many people).
    """
    roles = np.asarray(roles, dtype=object).copy()
    override = np.asarray(staff_channel, dtype=bool) & np.isin(
        roles.astype(str), ["consumer", "unknown"]
    )
    roles[override] = "employee"
    return roles, int(override.sum())
