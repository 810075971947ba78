"""Shares and exposures of the adversarial world, and the orders shares cause.

* shares: ``Poisson(4 months x shares_per_month[segment] x activity)`` per user;
* exposures of a share (someone saw it): friends for most users
  (``Poisson(audience_of_friends x friends)``), ``Poisson(0.5% of users, within 100..1500)``
  random users for KOLs, ``Poisson(30)`` customers of their store for employees;
* each exposure is logged as a ``view`` with probability ``view_log_rate``; it leads
  to a comment (``comment_prob[viewer]``, +0.3 on a socialite's share) and a forward
  (``forward_prob[sharer]``) whether logged or not;
* it **causes** an order with probability ``persuasion[sharer]`` (fraud and alt
  accounts persuade nobody), 5 min + Exp(1.5 days, capped at 6) later; the order
  keeps the share's token with probability ``token_keep_rate``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from graph.synth._adv_orders import OrderKind, OrderLog, order_cents
from graph.synth._adv_params import (
    AUDIENCE_OF_FRIENDS,
    COMMENT_PROB,
    FORWARD_PROB,
    SHARES_PER_MONTH,
    AdversarialParams,
    AdvSegment,
)
from graph.synth._adv_population import AdvPopulation, csr_pick
from graph.synth._time import later, sample_ts

__all__ = ["Exposures", "generate_exposures"]


@dataclass
class Exposures:
    """Shares and who saw them (all of them, logged or not), ordered by viewer and time."""

    share_sharer: np.ndarray
    share_ts: np.ndarray
    sharer: np.ndarray
    viewer: np.ndarray
    content: np.ndarray  # share number = content id number
    ts: np.ndarray
    logged: np.ndarray  # written as a view event
    comment_ts: np.ndarray  # -1 = no comment
    forward_ts: np.ndarray  # -1 = no forward


def _targets(
    rng: np.random.Generator, pop: AdvPopulation, sharer: np.ndarray, n_users: int
) -> np.ndarray:
    seg = pop.segment[sharer]
    out = csr_pick(rng, pop.friend_ptr, pop.friends, sharer)
    kol = seg == AdvSegment.KOL
    out[kol] = rng.integers(0, n_users, int(kol.sum()))
    emp = seg == AdvSegment.EMPLOYEE
    out[emp] = csr_pick(rng, pop.store_ptr, pop.store_users, pop.store[sharer[emp]])
    return out


def generate_exposures(
    pop: AdvPopulation, params: AdversarialParams, rng: np.random.Generator, orders: OrderLog
) -> Exposures:
    """Draw shares and exposures; queue the caused orders into ``orders``."""
    seg = pop.segment
    n_shares = rng.poisson(4 * SHARES_PER_MONTH[seg] * pop.activity)
    sharer = np.repeat(np.arange(pop.n, dtype=np.int64), n_shares)
    share_ts = np.maximum(
        sample_ts(rng, seg[sharer] == AdvSegment.EMPLOYEE), pop.created_at[sharer] + 3_600
    )
    s_seg = seg[sharer]
    mean = AUDIENCE_OF_FRIENDS[s_seg] * pop.degree[sharer]
    mean = np.where(s_seg == AdvSegment.KOL, min(1500.0, max(100.0, 0.005 * pop.n)), mean)
    mean = np.where(s_seg == AdvSegment.EMPLOYEE, 30.0, mean)
    ring = np.isin(s_seg, [AdvSegment.FRAUD_RING, AdvSegment.SELF_DEALER])
    mean = np.where(ring, pop.degree[sharer].astype(np.float64), mean)
    k = rng.poisson(mean)
    share_no = np.repeat(np.arange(sharer.shape[0], dtype=np.int64), k)
    e_sharer = sharer[share_no]
    viewer = _targets(rng, pop, e_sharer, pop.n)
    ts = later(rng, share_ts[share_no], minimum=60, mean=6 * 3_600.0)
    ok = (viewer >= 0) & (viewer != e_sharer) & (ts >= pop.created_at[np.maximum(viewer, 0)])
    share_no, e_sharer, viewer, ts = share_no[ok], e_sharer[ok], viewer[ok], ts[ok]
    # a user sees a content at most once (the first time)
    order = np.lexsort((ts, share_no, viewer))
    key = viewer[order] * np.int64(sharer.shape[0] + 1) + share_no[order]
    first = np.ones(order.shape[0], dtype=bool)
    first[1:] = key[1:] != key[:-1]
    order = order[first]
    order = order[np.lexsort((ts[order], viewer[order]))]
    share_no, e_sharer, viewer, ts = share_no[order], e_sharer[order], viewer[order], ts[order]
    m = ts.shape[0]
    level = params.level

    logged = rng.random(m) < level.view_log_rate
    c_prob = COMMENT_PROB[seg[viewer]] + 0.3 * (seg[e_sharer] == AdvSegment.SOCIALITE)
    comment_ts = np.where(rng.random(m) < c_prob, later(rng, ts, minimum=10, mean=1_800.0), -1)
    forward_ts = np.where(
        rng.random(m) < FORWARD_PROB[seg[e_sharer]], later(rng, ts, minimum=30, mean=7_200.0), -1
    )

    caused = rng.random(m) < pop.persuasion[e_sharer]
    c = np.flatnonzero(caused)
    keep = rng.random(c.shape[0]) < level.token_keep_rate
    orders.add(
        buyer=viewer[c],
        ts=later(rng, ts[c], minimum=300, mean=1.5 * 86_400.0, cap=6 * 86_400.0),
        cents=order_cents(rng, seg[viewer[c]]),
        kind=OrderKind.CAUSED_SHARE,
        cause=e_sharer[c],
        token_content=np.where(keep, share_no[c], -1),
    )
    return Exposures(
        share_sharer=sharer,
        share_ts=share_ts,
        sharer=e_sharer,
        viewer=viewer,
        content=share_no,
        ts=ts,
        logged=logged,
        comment_ts=comment_ts,
        forward_ts=forward_ts,
    )
