"""Referral trees, invited buyers, and the planted referral fraud.

Users who sign up inside the window were mostly invited: by a friend who
signed up earlier (so chains grow several levels deep as invitees invite in
turn) or by a sales guide of their store. An invitee's first order often
follows within days and carries ``attribution_token = "ref-<referrer id>"``.

Planted for the referral/fraud checks (all listed in ``ground_truth.json``):
fraud rings (4-8 accounts sharing one device and phone, inviting each other in
a chain and placing small orders), self-referrals (a second account on the
same device), and one referral cycle A -> B -> C -> A.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from graph.synth._arrays import first_of_each
from graph.synth._orders import OrderBuffer, amounts
from graph.synth._params import Segment, SynthParams
from graph.synth._population import Population
from graph.synth._time import END_S, START_S, later
from graph.synth._writer import take_ids

__all__ = ["CAMPAIGNS", "generate_referrals", "referral_depths"]

CAMPAIGNS: tuple[str, ...] = ("summer-invite", "qixi", "mid-autumn", "national-day", "store-qr")
_CAMPAIGNS = pa.array(list(CAMPAIGNS), pa.string())
#: Probability that an invitee was invited by a sales guide of their store.
EMPLOYEE_INVITE_PROB = 0.15
#: Probability that an invitee buys within a week, through the invitation.
FIRST_ORDER_PROB = 0.45
_FRIEND_TRIES = 4


def _referrers(pop: Population, rng: np.random.Generator, referee: np.ndarray) -> np.ndarray:
    """An earlier-signed-up friend of each referee, else a sales guide of their store."""
    out = np.full(referee.shape[0], -1, dtype=np.int64)
    by_guide = rng.random(referee.shape[0]) < EMPLOYEE_INVITE_PROB
    for _ in range(_FRIEND_TRIES):
        todo = np.flatnonzero((out < 0) & ~by_guide)
        cand = pop.friends.pick(rng, pop.community[referee[todo]])
        seg = pop.segment[np.maximum(cand, 0)]
        ok = (cand >= 0) & (cand < referee[todo]) & (seg != Segment.KOL) & (seg != Segment.FRAUD)
        out[todo[ok]] = cand[ok]
    guide = np.flatnonzero(out < 0)
    out[guide] = pop.employees.pick(rng, pop.store[referee[guide]])
    return out


def generate_referrals(
    pop: Population, params: SynthParams, rng: np.random.Generator, orders: OrderBuffer
) -> tuple[dict[str, object], np.ndarray]:
    """Referral records (as columns) and a referrer-of array (-1 = not referred).

    The first-order of each invitee is queued in ``orders``, credited to the referrer.
    """
    n = pop.n
    planted = np.zeros(n, dtype=bool)
    for ring in pop.fraud_rings:
        planted[ring] = True
    for a, b in pop.self_referrals:
        planted[[a, b]] = True
    planted[list(pop.cycle)] = True
    new = np.flatnonzero(pop.created_at >= START_S)
    new = new[~planted[new] & (rng.random(new.shape[0]) < params.referred_fraction)]
    ref = _referrers(pop, rng, new)
    ok = ref >= 0
    referee, referrer = new[ok], ref[ok]
    ts = pop.created_at[referee]
    honest = referee.shape[0]

    # planted fraud: ring chains, self-referrals, then the cycle
    extra_r, extra_e, extra_ts = [], [], []
    for ring in pop.fraud_rings:
        extra_r.append(ring[:-1])
        extra_e.append(ring[1:])
        extra_ts.append(pop.created_at[ring[1:]])
    if pop.self_referrals:
        a, b = np.array(pop.self_referrals, dtype=np.int64).T
        extra_r.append(a)
        extra_e.append(b)
        extra_ts.append(pop.created_at[b])
    if len(pop.cycle) == 3:
        c = np.array(pop.cycle, dtype=np.int64)
        t0 = START_S + int(rng.integers(0, 30 * 86_400))
        extra_r.append(c)
        extra_e.append(np.roll(c, -1))
        extra_ts.append(t0 + np.array([0, 86_400, 2 * 86_400]))
    referrer = np.concatenate([referrer, *extra_r])
    referee = np.concatenate([referee, *extra_e])
    ts = np.concatenate([ts, *extra_ts]).astype(np.int64)
    campaign = rng.integers(0, len(CAMPAIGNS), size=int(referrer.shape[0]))
    campaign[:honest][pop.segment[referrer[:honest]] == Segment.EMPLOYEE] = len(CAMPAIGNS) - 1

    # first orders through the invitation (fraud accounts always buy, small amounts)
    k = referee.shape[0]
    is_cycle = np.zeros(k, dtype=bool)
    if len(pop.cycle) == 3:
        is_cycle[-3:] = True
    fraud = pop.segment[referee] == Segment.FRAUD
    buy = ~is_cycle & ((rng.random(k) < FIRST_ORDER_PROB) | fraud)
    b, r = referee[buy], referrer[buy]
    b_ts = later(rng, ts[buy], minimum=600, mean=86_400.0, cap=7 * 86_400.0)
    store = np.where(pop.segment[r] == Segment.EMPLOYEE, pop.store[r], -1)
    token = pc.binary_join_element_wise(pa.scalar("ref-"), take_ids(pop.ids, r), "")
    orders.add(b, np.minimum(b_ts, END_S), amounts(rng, pop.segment[b]), token, store, r)

    referrer_of = np.full(n, -1, dtype=np.int64)
    first = first_of_each(referee, ts)  # the earliest referral defines the tree
    referrer_of[referee[first]] = referrer[first]
    columns = {
        "referrer": take_ids(pop.ids, referrer),
        "referee": take_ids(pop.ids, referee),
        "campaign": _CAMPAIGNS.take(pa.array(campaign)),
        "ts": ts,
    }
    return columns, referrer_of


def referral_depths(referrer_of: np.ndarray, max_depth: int = 64) -> np.ndarray:
    """Number of distinct users in each user's upline (0 = not referred).

    Walks all users up at once; the few walks still going after ``max_depth``
    steps are inside or below a cycle and are finished one by one, stopping at
    the first repeated user (as the store's upline does).
    """
    depth = np.zeros(referrer_of.shape[0], dtype=np.int64)
    cur = referrer_of.copy()
    for level in range(1, max_depth + 1):
        has = cur >= 0
        if not has.any():
            return depth
        depth[has] = level
        cur[has] = referrer_of[cur[has]]
    for user in np.flatnonzero(cur >= 0).tolist():
        seen = {user}
        up = int(referrer_of[user])
        while up >= 0 and up not in seen:
            seen.add(up)
            up = int(referrer_of[up])
        depth[user] = len(seen) - 1
    return depth
