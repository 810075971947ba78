"""Where each user stands with the brand: lifecycle stage, KOC tier and RFM segment.

Pure functions over per-user arrays (one entry per user); the thresholds come from
the ``[audience]`` section of the scoring config
(:class:`influence.config.AudienceSection`). Written out in ``docs/segments.md``.

Lifecycle stages
----------------
The seeds' 认知 / 信任养成 / 忠诚 / 流失 stages, after the customer-lifecycle model of
Reinartz and Kumar (2003, "The impact of customer relationship characteristics on
profitable lifetime duration", *Journal of Marketing* 67(1)): a relationship is alive
while the customer keeps acting, and its depth shows in repeat buying and in
advocacy (referrals). With ``last`` the days since the user's last action (share,
view, forward, comment, referral or order) before the run's end, and counts over the
last ``window_days``, the first rule that holds gives the stage:

1. ``lost``: no action in ``lost_days`` (or never);
2. ``lapsing``: no action in ``active_days``; or actions in the last ``active_days``
   fell below ``decline_ratio`` times the ``active_days`` before them, when those
   were at least ``decline_min_actions`` (an active user going quiet);
3. ``loyal``: at least ``loyal_orders`` orders, or ``trusting_orders`` orders and
   ``loyal_referrals`` referrals;
4. ``trusting``: at least ``trusting_orders`` orders, or ``trusting_actions`` shares,
   forwards, comments and referrals;
5. ``aware``: the rest (they saw content, e.g. views only).

KOC tiers
---------
Among users with a score above 0, ranked by the run: ``A`` the top ``tier_a`` share,
``B`` up to ``tier_b``, ``C`` up to ``tier_c``, ``D`` the rest; ``none`` for score 0.

RFM segments
------------
From recency, frequency and monetary value (Hughes 1994, *Strategic Database
Marketing*): ``none`` (no order), ``champion`` (recent, frequent, high spend),
``loyal`` (frequent), ``new`` (one recent order), ``at_risk`` (two or more orders,
none recent), ``promising`` (recent), ``hibernating`` (the rest).
"""

from __future__ import annotations

import numpy as np

__all__ = ["STAGES", "TIERS", "RFM_SEGMENTS", "lifecycle_stages", "koc_tiers", "rfm_segments"]

#: Lifecycle stages, in the order of their codes.
STAGES: tuple[str, ...] = ("aware", "trusting", "loyal", "lapsing", "lost")
#: KOC tiers, in the order of their codes.
TIERS: tuple[str, ...] = ("A", "B", "C", "D", "none")
#: RFM segments, in the order of their codes.
RFM_SEGMENTS: tuple[str, ...] = (
    "champion",
    "loyal",
    "new",
    "promising",
    "at_risk",
    "hibernating",
    "none",
)


def lifecycle_stages(
    *,
    last_action_days: np.ndarray,
    orders: np.ndarray,
    actions: np.ndarray,
    referrals: np.ndarray,
    recent_actions: np.ndarray,
    earlier_actions: np.ndarray,
    active_days: float = 30.0,
    lost_days: float = 90.0,
    trusting_orders: int = 1,
    trusting_actions: int = 3,
    loyal_orders: int = 3,
    loyal_referrals: int = 1,
    decline_ratio: float = 0.5,
    decline_min_actions: int = 4,
) -> np.ndarray:
    """Lifecycle stage code of every user (an index into :data:`STAGES`).

    Parameters
    ----------
    last_action_days : numpy.ndarray of float
        Days since the user's last action before the run's end (``inf``: never).
    orders, actions, referrals : numpy.ndarray
        Counts over the window: orders, shares + forwards + comments + referrals
        made, referrals made.
    recent_actions, earlier_actions : numpy.ndarray
        Actions (the same kinds, plus views) in the last ``active_days`` and in the
        ``active_days`` before them.
    active_days, lost_days, trusting_orders, trusting_actions, loyal_orders,
    loyal_referrals, decline_ratio, decline_min_actions
        The thresholds of the module docstring's rules.

    Returns
    -------
    numpy.ndarray of int8

    References
    ----------
    Reinartz, W. J. and Kumar, V. (2003). The impact of customer relationship
    characteristics on profitable lifetime duration. Journal of Marketing 67(1), 77-99.
    """
    last = np.asarray(last_action_days, dtype=np.float64)
    orders = np.asarray(orders, dtype=np.float64)
    actions = np.asarray(actions, dtype=np.float64)
    referrals = np.asarray(referrals, dtype=np.float64)
    recent = np.asarray(recent_actions, dtype=np.float64)
    earlier = np.asarray(earlier_actions, dtype=np.float64)
    lost = ~(last <= lost_days)  # NaN / inf: never acted
    declining = (earlier >= decline_min_actions) & (recent < decline_ratio * earlier)
    lapsing = ~lost & ((last > active_days) | declining)
    loyal = (orders >= loyal_orders) | (
        (orders >= trusting_orders) & (referrals >= loyal_referrals)
    )
    trusting = (orders >= trusting_orders) | (actions >= trusting_actions)
    out = np.zeros(last.shape, dtype=np.int8)  # aware
    out[trusting] = STAGES.index("trusting")
    out[loyal] = STAGES.index("loyal")
    out[lapsing] = STAGES.index("lapsing")
    out[lost] = STAGES.index("lost")
    return out


def koc_tiers(
    rank: np.ndarray,
    score: np.ndarray,
    *,
    tier_a: float = 0.01,
    tier_b: float = 0.05,
    tier_c: float = 0.20,
) -> np.ndarray:
    """KOC tier code of every user (an index into :data:`TIERS`).

    Parameters
    ----------
    rank : numpy.ndarray of int
        Overall rank in the run (1 = best).
    score : numpy.ndarray of float
    tier_a, tier_b, tier_c : float
        Top shares of the users with a score above 0.
    """
    rank = np.asarray(rank, dtype=np.int64)
    score = np.asarray(score, dtype=np.float64)
    scored = score > 0
    n = int(scored.sum())
    # position among scored users: ranks order by score, so count scored users ranked above
    order = np.argsort(rank, kind="stable")
    position = np.empty(rank.shape, dtype=np.int64)
    position[order] = np.cumsum(scored[order])  # 1-based among scored users
    out = np.full(rank.shape, TIERS.index("D"), dtype=np.int8)
    for code, share in ((2, tier_c), (1, tier_b), (0, tier_a)):
        out[position <= max(1, int(np.ceil(share * n)))] = code
    out[~scored] = TIERS.index("none")
    return out


def rfm_segments(
    *,
    recency_days: np.ndarray,
    orders: np.ndarray,
    spend: np.ndarray,
    recent_days: float = 30.0,
    frequent_orders: int = 3,
    high_spend: float = 1000.0,
) -> np.ndarray:
    """RFM segment code of every user (an index into :data:`RFM_SEGMENTS`).

    Parameters
    ----------
    recency_days : numpy.ndarray of float
        Days since the last order (``inf`` or NaN: none).
    orders : numpy.ndarray
        Orders in the window.
    spend : numpy.ndarray of float
        Net spend in the window (currency units).
    recent_days, frequent_orders, high_spend : float
        What counts as recent, frequent and high.

    References
    ----------
    Hughes, A. M. (1994). Strategic Database Marketing. Probus.
    """
    rec = np.asarray(recency_days, dtype=np.float64)
    orders = np.asarray(orders, dtype=np.float64)
    spend = np.asarray(spend, dtype=np.float64)
    recent = rec <= recent_days
    frequent = orders >= frequent_orders
    out = np.full(rec.shape, RFM_SEGMENTS.index("hibernating"), dtype=np.int8)
    rules = (  # applied last-to-first so the first listed wins
        ("promising", recent),
        ("at_risk", (orders >= 2) & ~recent),
        ("new", (orders == 1) & recent),
        ("loyal", frequent),
        ("champion", recent & frequent & (spend >= high_spend)),
        ("none", orders <= 0),
    )
    for name, rule in rules:
        out[rule] = RFM_SEGMENTS.index(name)
    return out
