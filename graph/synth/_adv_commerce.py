"""Orders nobody caused, and orders that only look caused.

* **organic** orders: ``Poisson(4 x organic_per_month[segment] x spend)`` per user,
  35% in the home store; in a store with sales guides, 80% of store orders get a
  guide's referral code keyed in (``ref-<employee>``, ``store_id`` set): the
  **store-code** channel, which no consumer caused;
* **coincidence**: an online organic order placed within 7 days of the buyer's last
  exposure carries that share's token with probability ``coincidence_rate``;
* **referrals**: 60% of in-window sign-ups are invited by an earlier-registered
  friend; 45% of invitees buy within a week with the code, caused by the invitation
  with probability 0.6; **coupon hunters** invite ``Poisson(30)`` sign-ups each,
  70% of whom place a small coupon order with the code (caused with probability
  0.1, refunded 30% of the time);
* **fraud rings** buy through each other's shares (70% of exposures between ring
  members) and refund 85% in full; ring members also invite each other in a chain;
* **self-dealers**' alt accounts buy through the main account's shares (80%) and
  its invitation, refunding 40%.
"""

from __future__ import annotations

import numpy as np

from graph.synth._adv_activity import Exposures
from graph.synth._adv_orders import OrderKind, OrderLog, order_cents
from graph.synth._adv_params import ORGANIC_PER_MONTH, AdversarialParams, AdvSegment
from graph.synth._adv_population import AdvPopulation, csr_pick
from graph.synth._time import START_S, later, sample_ts

__all__ = ["organic_orders", "referrals", "fraud_orders"]

_WEEK_S = 7 * 86_400


def _last_exposure(exp: Exposures, buyer: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """Index of each buyer's latest exposure at or before ``ts`` (-1 for none)."""
    key = exp.viewer * np.int64(1 << 31) + (exp.ts - exp.ts.min(initial=0))
    q = buyer * np.int64(1 << 31) + (ts - exp.ts.min(initial=0))
    pos = np.searchsorted(key, q, side="right") - 1
    ok = pos >= 0
    ok[ok] = exp.viewer[pos[ok]] == buyer[ok]
    return np.where(ok, pos, -1)


def organic_orders(
    pop: AdvPopulation,
    params: AdversarialParams,
    rng: np.random.Generator,
    exp: Exposures,
    orders: OrderLog,
) -> None:
    """Queue organic, store-code and coincidence orders (module docstring)."""
    seg = pop.segment
    k = rng.poisson(4 * ORGANIC_PER_MONTH[seg] * pop.spend)
    buyer = np.repeat(np.arange(pop.n, dtype=np.int64), k)
    ts = np.maximum(sample_ts(rng, np.zeros(buyer.shape[0], bool)), pop.created_at[buyer] + 600)
    cents = order_cents(rng, seg[buyer])
    in_store = rng.random(buyer.shape[0]) < 0.35
    guide = csr_pick(rng, pop.employee_ptr, pop.employees, pop.store[buyer])
    keyed = in_store & (guide >= 0) & (guide != buyer) & (rng.random(buyer.shape[0]) < 0.8)
    last = _last_exposure(exp, buyer, ts)
    recent = (last >= 0) & (ts - exp.ts[np.maximum(last, 0)] <= _WEEK_S)
    coincide = ~in_store & recent & (rng.random(buyer.shape[0]) < params.level.coincidence_rate)
    coincide &= exp.sharer[np.maximum(last, 0)] != buyer
    plain = ~keyed & ~coincide
    orders.add(
        buyer=buyer[plain],
        ts=ts[plain],
        cents=cents[plain],
        kind=OrderKind.ORGANIC,
        store=np.where(in_store[plain], pop.store[buyer[plain]], -1),
    )
    orders.add(
        buyer=buyer[keyed],
        ts=ts[keyed],
        cents=cents[keyed],
        kind=OrderKind.STORE_CODE,
        token_ref=guide[keyed],
        store=pop.store[buyer[keyed]],
    )
    orders.add(
        buyer=buyer[coincide],
        ts=ts[coincide],
        cents=cents[coincide],
        kind=OrderKind.COINCIDENCE,
        token_content=exp.content[last[coincide]],
    )


def referrals(
    pop: AdvPopulation, rng: np.random.Generator, orders: OrderLog
) -> dict[str, np.ndarray]:
    """Referral events (referrer, referee, ts) and the invitees' first orders."""
    seg = pop.segment
    new = np.flatnonzero(
        np.isin(seg, [AdvSegment.REGULAR, AdvSegment.BIG_SPENDER, AdvSegment.SOCIALITE])
        & (pop.created_at >= START_S)
    )
    hunters = np.flatnonzero(seg == AdvSegment.COUPON_HUNTER)
    n_inv = rng.poisson(30, hunters.shape[0])
    pool = rng.permutation(new)
    take = min(int(n_inv.sum()), pool.shape[0] // 2)
    coupon_referee = pool[:take]
    coupon_referrer = np.repeat(hunters, n_inv)[:take]
    rest = pool[take:]
    rest = rest[rng.random(rest.shape[0]) < 0.6]
    friend = csr_pick(rng, pop.friend_ptr, pop.friends, rest)
    ok = (friend >= 0) & (pop.created_at[np.maximum(friend, 0)] < pop.created_at[rest])
    ok &= ~np.isin(seg[np.maximum(friend, 0)], [AdvSegment.FRAUD_RING, AdvSegment.ALT_ACCOUNT])
    f_referee, f_referrer = rest[ok], friend[ok]

    buys = rng.random(f_referee.shape[0]) < 0.45
    caused = rng.random(f_referee.shape[0]) < 0.6
    b = np.flatnonzero(buys)
    orders.add(
        buyer=f_referee[b],
        ts=later(rng, pop.created_at[f_referee[b]], minimum=600, mean=2 * 86_400.0, cap=_WEEK_S),
        cents=order_cents(rng, seg[f_referee[b]]),
        kind=OrderKind.REFERRAL,
        cause=np.where(caused[b], f_referrer[b], -1),
        token_ref=f_referrer[b],
    )
    c_buys = np.flatnonzero(rng.random(coupon_referee.shape[0]) < 0.7)
    c_caused = rng.random(c_buys.shape[0]) < 0.1
    orders.add(
        buyer=coupon_referee[c_buys],
        ts=later(rng, pop.created_at[coupon_referee[c_buys]], minimum=600, mean=86_400.0),
        cents=order_cents(rng, seg[coupon_referee[c_buys]], scale=0.3),
        kind=OrderKind.COUPON,
        cause=np.where(c_caused, coupon_referrer[c_buys], -1),
        token_ref=coupon_referrer[c_buys],
        refund_prob=0.3,
    )
    chain_a, chain_b = [], []
    for ring in pop.rings:
        chain_a.append(ring[:-1])
        chain_b.append(ring[1:])
    for main, alts in pop.self_dealers:
        chain_a.append(np.full(alts.shape[0], main))
        chain_b.append(alts)
    g_referrer = np.concatenate(chain_a).astype(np.int64)
    g_referee = np.concatenate(chain_b).astype(np.int64)
    orders.add(
        buyer=g_referee,
        ts=later(rng, pop.created_at[g_referee], minimum=600, mean=86_400.0),
        cents=order_cents(rng, seg[g_referee]),
        kind=OrderKind.FRAUD_RING,
        token_ref=g_referrer,
        refund_prob=0.85,
    )
    referrer = np.concatenate([f_referrer, coupon_referrer, g_referrer])
    referee = np.concatenate([f_referee, coupon_referee, g_referee])
    return {"referrer": referrer, "referee": referee, "ts": pop.created_at[referee]}


def fraud_orders(
    pop: AdvPopulation, rng: np.random.Generator, exp: Exposures, orders: OrderLog
) -> None:
    """Orders placed through the share links of one's own ring or main account."""
    same = (pop.group[exp.sharer] >= 0) & (pop.group[exp.sharer] == pop.group[exp.viewer])
    seg_s = pop.segment[exp.sharer]
    ring = same & (seg_s == AdvSegment.FRAUD_RING) & (rng.random(exp.ts.shape[0]) < 0.7)
    alt = same & (seg_s == AdvSegment.SELF_DEALER) & (rng.random(exp.ts.shape[0]) < 0.8)
    for mask, kind, refund in (
        (ring, OrderKind.FRAUD_RING, 0.85),
        (alt, OrderKind.SELF_DEALING, 0.4),
    ):
        e = np.flatnonzero(mask)
        orders.add(
            buyer=exp.viewer[e],
            ts=later(rng, exp.ts[e], minimum=120, mean=3 * 3_600.0),
            cents=order_cents(rng, pop.segment[exp.viewer[e]]),
            kind=kind,
            token_content=exp.content[e],
            refund_prob=refund,
        )
