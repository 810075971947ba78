"""Social activity of one chunk of users: shares, view/forward cascades, comments, orders.

For the users ``lo <= u < hi`` of a chunk, everything that follows from their
shares is generated here, generation by generation:

1. shares (Poisson, heavy-tailed activity; employees during working hours);
2. views of each share by friends (same community), store customers (for
   employees) or random users (weighted towards hubs), each later than the share;
3. from each view, with segment-dependent probabilities: a comment, an order
   carrying ``attribution_token = content_id`` (more likely when the sharer is a
   friend: "trusted" views), and a forward, whose own views start the next
   generation (so cascade timestamps increase along every chain);
4. repeat purchases after a converted order, and organic orders.

A user views a given content at most once, and never their own content.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from graph.synth._arrays import first_of_each, in_sorted
from graph.synth._orders import OrderBuffer, amounts
from graph.synth._params import BEHAVIOUR, Segment, SynthParams
from graph.synth._population import CHANNEL_P, CHANNELS, Population
from graph.synth._time import END_S, later, sample_ts
from graph.synth._writer import prefixed_ids, take_ids

__all__ = ["ChunkEvents", "generate_chunk", "MAX_GENERATIONS"]

#: Forward cascades stop after this many generations (they die out long before).
MAX_GENERATIONS = 12
#: Conversion multiplier when the sharer is a friend (same community) / a stranger.
TRUSTED_BOOST, STRANGER_DAMP = 1.6, 0.6
#: Probability that a store employee views (and likely comments on) a customer's share.
EMPLOYEE_CARE_PROB = 0.2
#: Probability that a converted buyer buys again later (no attribution).
REPEAT_PROB = 0.25
_CHANNELS = pa.array(list(CHANNELS), pa.string())


@dataclass
class ChunkEvents:
    """Columns of one chunk's social records, keyed by field name, per record type."""

    shares: dict[str, object]
    views: dict[str, object]
    forwards: dict[str, object]
    comments: dict[str, object]
    n_contents: int


def _cat(parts: list[np.ndarray], dtype: type = np.int64) -> np.ndarray:
    return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)


def _viewers(pop: Population, rng: np.random.Generator, shower: np.ndarray) -> np.ndarray:
    """One viewer for each entry of ``shower`` (the user whose share/forward is seen)."""
    seg = pop.segment[shower]
    u = rng.random(shower.shape[0])
    friend_p = BEHAVIOUR.friend_prob[seg]
    cust_p = friend_p + BEHAVIOUR.customer_prob[seg]
    out = pop.random_viewers(rng, shower.shape[0])
    f = u < friend_p
    out[f] = pop.friends.pick(rng, pop.community[shower[f]])
    c = ~f & (u < cust_p)
    out[c] = pop.customers.pick(rng, pop.store[shower[c]])
    return out


def _audience(pop: Population, params: SynthParams, shower: np.ndarray, scale: float) -> np.ndarray:
    seg = pop.segment[shower]
    base = np.where(seg == Segment.KOL, params.kol_audience, BEHAVIOUR.audience[seg])
    return base * pop.audience[shower] * scale


def generate_chunk(
    pop: Population,
    params: SynthParams,
    rng: np.random.Generator,
    lo: int,
    hi: int,
    first_content: int,
    orders: OrderBuffer,
) -> ChunkEvents:
    """Generate the activity of users ``lo..hi-1``; queue their orders in ``orders``.

    Parameters
    ----------
    pop, params : Population, SynthParams
        The world.
    rng : numpy.random.Generator
        This chunk's own generator.
    lo, hi : int
        User index range of the chunk.
    first_content : int
        Number of the chunk's first content (content ids are ``c<number>``).
    orders : OrderBuffer
        Receives conversion, repeat and organic orders.
    """
    users = np.arange(lo, hi, dtype=np.int64)
    seg = pop.segment[users]
    steady = (seg == Segment.KOL) | (seg == Segment.EMPLOYEE) | (seg == Segment.HUB)
    act = np.where(steady, 0.6 + 0.4 * pop.activity[users], pop.activity[users])
    n_sh = rng.poisson(BEHAVIOUR.share_rate[seg] * act)
    sharer = np.repeat(users, n_sh)
    k = sharer.shape[0]
    is_emp = pop.segment[sharer] == Segment.EMPLOYEE
    share_ts = sample_ts(rng, is_emp)
    content = first_content + np.arange(k, dtype=np.int64)
    channel = rng.choice(len(CHANNELS), size=k, p=CHANNEL_P)
    channel[is_emp] = np.where(rng.random(int(is_emp.sum())) < 0.6, 0, len(CHANNELS) - 1)
    n = pop.n

    seen = np.sort(content * n + sharer)  # (content, viewer) pairs already used: owners never view
    views_parts: list[tuple[np.ndarray, ...]] = []
    fwd_parts: list[tuple[np.ndarray, ...]] = []
    com_parts: list[tuple[np.ndarray, ...]] = []

    # generation 0: views of the shares, plus store employees looking after customers
    counts = rng.poisson(_audience(pop, params, sharer, 1.0))
    src = np.repeat(np.arange(k), counts)
    shower, c_num, c_ts, c_ch = sharer[src], content[src], share_ts[src], channel[src]
    viewer = _viewers(pop, rng, shower)
    cared = np.flatnonzero(
        (pop.segment[sharer] != Segment.EMPLOYEE)
        & (pop.segment[sharer] != Segment.KOL)
        & (rng.random(k) < EMPLOYEE_CARE_PROB)
    )
    shower = np.concatenate((shower, sharer[cared]))
    viewer = np.concatenate((viewer, pop.employees.pick(rng, pop.store[sharer[cared]])))
    c_num = np.concatenate((c_num, content[cared]))
    c_ts = np.concatenate((c_ts, share_ts[cared]))
    c_ch = np.concatenate((c_ch, channel[cared]))

    for _generation in range(MAX_GENERATIONS):
        v_ts = later(rng, c_ts, minimum=60, mean=6 * 3_600.0)
        ok = (viewer >= 0) & (viewer != shower) & (v_ts < END_S)
        shower, viewer, c_num, c_ch, v_ts = shower[ok], viewer[ok], c_num[ok], c_ch[ok], v_ts[ok]
        pick = first_of_each(c_num * n + viewer, v_ts)
        pick = pick[~in_sorted(c_num[pick] * n + viewer[pick], seen)]
        shower, viewer, c_num, c_ch, v_ts = (
            shower[pick],
            viewer[pick],
            c_num[pick],
            c_ch[pick],
            v_ts[pick],
        )
        seen = np.sort(np.concatenate((seen, c_num * n + viewer)))
        if shower.shape[0] == 0:
            break
        views_parts.append((viewer, shower, c_num, c_ch, v_ts))
        m = shower.shape[0]

        # comments
        com = rng.random(m) < BEHAVIOUR.comment_prob[pop.segment[viewer]]
        com_ts = later(rng, v_ts[com], minimum=10, mean=1_800.0)
        ok = com_ts < END_S
        com_parts.append(
            (viewer[com][ok], shower[com][ok], c_num[com][ok], c_ch[com][ok], com_ts[ok])
        )

        _queue_conversions(pop, rng, shower, viewer, c_num, v_ts, orders)

        # forwards start the next generation
        fwd = np.flatnonzero(rng.random(m) < BEHAVIOUR.forward_prob[pop.segment[shower]])
        f_ts = later(rng, v_ts[fwd], minimum=30, mean=2 * 3_600.0)
        ok = f_ts < END_S
        fwd, f_ts = fwd[ok], f_ts[ok]
        if fwd.shape[0] == 0:
            break
        fwd_parts.append((viewer[fwd], shower[fwd], c_num[fwd], c_ch[fwd], f_ts))
        forwarder = viewer[fwd]
        counts = rng.poisson(_audience(pop, params, forwarder, 0.4))
        src = np.repeat(np.arange(fwd.shape[0]), counts)
        shower, c_num, c_ts, c_ch = forwarder[src], c_num[fwd][src], f_ts[src], c_ch[fwd][src]
        viewer = _viewers(pop, rng, shower)

    # organic orders
    n_org = rng.poisson(BEHAVIOUR.organic_orders[seg] * pop.spend[users])
    buyer = np.repeat(users, n_org)
    o_ts = sample_ts(rng, pop.segment[buyer] == Segment.EMPLOYEE, work_share=0.3)
    store = np.where(rng.random(buyer.shape[0]) < 0.4, pop.store[buyer], -1)
    orders.add(
        buyer,
        o_ts,
        amounts(rng, pop.segment[buyer]),
        None,
        store,
        np.full(buyer.shape[0], -1, dtype=np.int64),
    )

    ids = pop.ids
    return ChunkEvents(
        shares={
            "sharer": take_ids(ids, sharer),
            "content_id": prefixed_ids("c", content),
            "channel": _CHANNELS.take(pa.array(channel)),
            "ts": share_ts,
        },
        views=_edge_columns(views_parts, ids, ("viewer", "sharer")),
        forwards=_edge_columns(fwd_parts, ids, ("forwarder", "from_user")),
        comments=_edge_columns(com_parts, ids, ("commenter", "on_user")),
        n_contents=k,
    )


def _queue_conversions(
    pop: Population,
    rng: np.random.Generator,
    shower: np.ndarray,
    viewer: np.ndarray,
    c_num: np.ndarray,
    v_ts: np.ndarray,
    orders: OrderBuffer,
) -> None:
    """Orders caused by views (a friend's share converts more), and later repeat purchases.

    ``p = conversion[segment of the shower] * (TRUSTED_BOOST if same community else
    STRANGER_DAMP)``; employees and fraud accounts never buy this way. The order carries
    the content id as attribution token, the employee's store when an employee showed
    it, and credits the shower in the ground truth.
    """
    s_seg, v_seg = pop.segment[shower], pop.segment[viewer]
    trusted = pop.community[viewer] == pop.community[shower]
    p = BEHAVIOUR.conversion[s_seg] * np.where(trusted, TRUSTED_BOOST, STRANGER_DAMP)
    p = np.where((v_seg == Segment.EMPLOYEE) | (v_seg == Segment.FRAUD), 0.0, p)
    buy = np.flatnonzero(rng.random(shower.shape[0]) < p)
    if buy.shape[0] == 0:
        return
    b_ts = later(rng, v_ts[buy], minimum=300, mean=1.5 * 86_400.0, cap=6 * 86_400.0)
    buyer = viewer[buy]
    shows_emp = s_seg[buy] == Segment.EMPLOYEE
    home = np.where(rng.random(buy.shape[0]) < 0.3, pop.store[buyer], -1)
    store = np.where(shows_emp, pop.store[shower[buy]], home)
    credit = shower[buy]
    orders.add(
        buyer, b_ts, amounts(rng, pop.segment[buyer]), prefixed_ids("c", c_num[buy]), store, credit
    )
    again = rng.random(buy.shape[0]) < REPEAT_PROB
    r_ts = later(rng, b_ts[again], minimum=7 * 86_400, mean=20 * 86_400.0)
    nobody = np.full(int(again.sum()), -1, dtype=np.int64)
    orders.add(
        buyer[again], r_ts, amounts(rng, pop.segment[buyer[again]]), None, store[again], nobody
    )


def _edge_columns(
    parts: list[tuple[np.ndarray, ...]], ids: pa.Array, names: tuple[str, str]
) -> dict[str, object]:
    cols = [_cat([p[i] for p in parts]) for i in range(5)]
    actor, other, c_num, ch, ts = cols
    return {
        names[0]: take_ids(ids, actor),
        names[1]: take_ids(ids, other),
        "content_id": prefixed_ids("c", c_num),
        "channel": _CHANNELS.take(pa.array(ch.astype(np.int64))),
        "ts": ts,
    }
