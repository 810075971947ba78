"""Engagement and conversion per user, and the attribution of orders to sharers and referrers.

Everything here is vectorised (numpy sort / searchsorted / bincount, Arrow kernels);
there is no Python loop over events or orders. Inputs are arrays in node-index space
(see :class:`graph.store.EdgeArrays`: edges point from the influencer to the
influenced user), money comes in as exact int64 *units* of ``10**-4`` (the store's
``DECIMAL(20, 4)``, see :func:`graph.money.to_units`).

Attribution of an order by buyer B at time t (first matching rule wins)
-----------------------------------------------------------------------
1. **token**: the order's ``attribution_token`` equals the ``content_id`` of a share
   (the sharer of the latest such share made at or before t is credited), or else is a
   referral code ``<prefix><user_id>`` (default prefix ``ref-``) naming a known user.
2. **last view**: the sharer of the share B viewed *last* at or before t, provided
   that view happened at most ``view_window`` before t (``t - view_ts <= window``).
3. **referral**: B's referrer (B's first referral), when t falls within
   ``referral_window`` after that referral (``0 <= t - referral_ts <= window``).

A rule that would credit the buyer themself is skipped (the next rule applies). An
explicit token is the strongest evidence, so it goes first; a recent view is
closer to the purchase than a sign-up weeks earlier, so it beats the referral.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from graph.arrays import node_index
from graph.events import EDGE_TYPE_CODES, EventType
from graph.referrals import first_referrers

__all__ = [
    "RULE_NONE",
    "RULE_TOKEN",
    "RULE_VIEW",
    "RULE_REFERRAL",
    "Attribution",
    "last_at_or_before",
    "resolve_tokens",
    "resolve_referral_codes",
    "attribute_orders",
    "engagement_signals",
    "conversion_totals",
]

RULE_NONE, RULE_TOKEN, RULE_VIEW, RULE_REFERRAL = 0, 1, 2, 3

_FORWARD = EDGE_TYPE_CODES[EventType.FORWARD]
_COMMENT = EDGE_TYPE_CODES[EventType.COMMENT]
_REFERRAL = EDGE_TYPE_CODES[EventType.REFERRAL]


def last_at_or_before(
    group: np.ndarray, ts: np.ndarray, q_group: np.ndarray, q_ts: np.ndarray
) -> np.ndarray:
    """For each query, the index of the latest item of the same group with ``ts <= q_ts``.

    Parameters
    ----------
    group, ts : numpy.ndarray of int
        Items (e.g. views: viewer, time). Ties on (group, ts) resolve to the item
        that comes last in the input.
    q_group, q_ts : numpy.ndarray of int
        Queries (e.g. orders: buyer, time).

    Returns
    -------
    numpy.ndarray of int64
        Index into the items, or ``-1`` when the group has no item at or before ``q_ts``.
    """
    group = np.asarray(group, dtype=np.int64)
    q_group = np.asarray(q_group, dtype=np.int64)
    n_a, n_q = group.shape[0], q_group.shape[0]
    out = np.full(n_q, -1, dtype=np.int64)
    if n_a == 0 or n_q == 0:
        return out
    # one merged sort by (group, time, items before queries at the same instant); the
    # answer of a query is then the last item position before it (a running maximum)
    g = np.concatenate([group, q_group])
    t2 = np.concatenate([ts, q_ts]).astype(np.int64) * 2
    t2[n_a:] += 1
    order = np.lexsort((t2, g))
    del t2
    pos = np.where(order < n_a, np.arange(n_a + n_q), -1)
    last = np.maximum.accumulate(pos)
    q_pos = np.flatnonzero(order >= n_a)
    cand = last[q_pos]
    q_idx = order[q_pos] - n_a
    ok = cand >= 0
    item = order[cand[ok]]
    same = g[item] == q_group[q_idx[ok]]
    out[q_idx[ok][same]] = item[same]
    return out


def resolve_tokens(
    tokens: pa.Array | pa.ChunkedArray,
    order_ts: np.ndarray,
    share_content: pa.Array | pa.ChunkedArray,
    share_sharer: np.ndarray,
    share_ts: np.ndarray,
) -> np.ndarray:
    """Sharer named by each order's token: latest share of that content at or before the order.

    Returns
    -------
    numpy.ndarray of int64
        Sharer node index per order, ``-1`` for no token / unknown content / no share yet.
    """
    n = len(order_ts)
    out = np.full(n, -1, dtype=np.int64)
    if n == 0 or len(share_content) == 0:
        return out
    if isinstance(share_content, pa.ChunkedArray):
        share_content = share_content.combine_chunks()
    content = share_content.dictionary_encode()
    codes = np.asarray(content.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    q = pc.index_in(tokens, value_set=content.dictionary)
    q_codes = np.asarray(q.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int64)
    known = q_codes >= 0
    pos = last_at_or_before(codes, share_ts, q_codes[known], np.asarray(order_ts)[known])
    hit = np.flatnonzero(known)[pos >= 0]
    out[hit] = np.asarray(share_sharer, dtype=np.int64)[pos[pos >= 0]]
    return out


def resolve_referral_codes(
    tokens: pa.Array | pa.ChunkedArray, node_ids: np.ndarray | pa.Array, prefix: str
) -> np.ndarray:
    """User named by each referral-code token ``<prefix><user_id>``.

    Returns
    -------
    numpy.ndarray of int64
        Node index per order; ``-1`` without a token, without the prefix, for an unknown
        user, or when ``prefix`` is empty (codes disabled).
    """
    n = len(tokens)
    if not prefix or n == 0:
        return np.full(n, -1, dtype=np.int64)
    tokens = tokens.combine_chunks() if isinstance(tokens, pa.ChunkedArray) else tokens
    has = pc.fill_null(pc.starts_with(tokens, prefix), False)
    user = pc.if_else(
        has, pc.utf8_slice_codeunits(tokens, len(prefix)), pa.scalar(None, pa.string())
    )
    return node_index(node_ids, user)


def _binding(
    referrer: np.ndarray | None, referee: np.ndarray | None, ts: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`graph.referrals.first_referrers` of referral arrays in ``(ts, event_id)`` order."""
    if referrer is None or referee is None or ts is None:
        raise ValueError("attribute_orders needs the referral arrays or a binding.")
    referrer = np.asarray(referrer, dtype=np.int64)
    referee = np.asarray(referee, dtype=np.int64)
    size = int(max(referee.max(initial=-1), referrer.max(initial=-1))) + 1
    return first_referrers(size, referrer, referee, ts)


@dataclass(frozen=True)
class Attribution:
    """Who is credited with each order, and by which rule.

    Attributes
    ----------
    credited : numpy.ndarray of int64
        Node index of the credited user per order, ``-1`` when no rule applies.
    rule : numpy.ndarray of int8
        :data:`RULE_TOKEN`, :data:`RULE_VIEW`, :data:`RULE_REFERRAL` or :data:`RULE_NONE`.
    """

    credited: np.ndarray
    rule: np.ndarray


def attribute_orders(
    *,
    buyer: np.ndarray,
    ts: np.ndarray,
    token_sharer: np.ndarray | None,
    view_sharer: np.ndarray,
    view_viewer: np.ndarray,
    view_ts: np.ndarray,
    referrer: np.ndarray | None = None,
    referee: np.ndarray | None = None,
    referral_ts: np.ndarray | None = None,
    view_window_us: int,
    referral_window_us: int,
    binding: tuple[np.ndarray, np.ndarray] | None = None,
) -> Attribution:
    """Credit each order to a sharer or referrer (rules and precedence: module docstring).

    Parameters
    ----------
    buyer, ts : numpy.ndarray of int64
        Buyer node index and time (epoch microseconds) of each order.
    token_sharer : numpy.ndarray of int64, optional
        Output of :func:`resolve_tokens` (``None`` disables the token rule).
    view_sharer, view_viewer, view_ts : numpy.ndarray
        View events (sharer, viewer, time).
    referrer, referee, referral_ts : numpy.ndarray, optional
        Referral events in ``(ts, event_id)`` order; the buyer's binding (first)
        referral counts. Not needed with ``binding``.
    view_window_us, referral_window_us : int
        Attribution windows in microseconds (inclusive).
    binding : tuple of numpy.ndarray, optional
        ``(parent, bound_ts)`` per node from :func:`graph.referrals.first_referrers`
        (with the referrals' event ids as tie-break); computed from the referral
        arrays when omitted.

    Returns
    -------
    Attribution
    """
    buyer = np.asarray(buyer, dtype=np.int64)
    ts = np.asarray(ts, dtype=np.int64)
    n = buyer.shape[0]
    credited = np.full(n, -1, dtype=np.int64)
    rule = np.zeros(n, dtype=np.int8)

    def apply(candidate: np.ndarray, code: int) -> None:
        take = (credited < 0) & (candidate >= 0) & (candidate != buyer)
        credited[take] = candidate[take]
        rule[take] = code

    if token_sharer is not None:
        apply(np.asarray(token_sharer, dtype=np.int64), RULE_TOKEN)

    view_sharer = np.asarray(view_sharer, dtype=np.int64)
    view_viewer = np.asarray(view_viewer, dtype=np.int64)
    view_ts = np.asarray(view_ts, dtype=np.int64)
    # viewing one's own share is not a lead; only buyers' views can win an order
    size = int(max(view_viewer.max(initial=-1), buyer.max(initial=-1))) + 1
    is_buyer = np.zeros(size, dtype=bool)
    is_buyer[buyer[buyer >= 0]] = True
    own = (view_sharer != view_viewer) & is_buyer[np.maximum(view_viewer, 0)]
    v_pos = last_at_or_before(view_viewer[own], view_ts[own], buyer, ts)
    cand = np.full(n, -1, dtype=np.int64)
    ok = v_pos >= 0
    ok[ok] = ts[ok] - view_ts[own][v_pos[ok]] <= view_window_us
    cand[ok] = view_sharer[own][v_pos[ok]]
    apply(cand, RULE_VIEW)

    parent, bound_ts = binding if binding is not None else _binding(referrer, referee, referral_ts)
    cand = np.full(n, -1, dtype=np.int64)
    known = np.flatnonzero((buyer >= 0) & (buyer < parent.shape[0]))
    age = ts[known] - bound_ts[buyer[known]]
    ok = known[(age >= 0) & (age <= referral_window_us)]
    cand[ok] = parent[buyer[ok]]
    apply(cand, RULE_REFERRAL)
    return Attribution(credited=credited, rule=rule)


def conversion_totals(
    n_nodes: int, attribution: Attribution, net_units: np.ndarray
) -> dict[str, np.ndarray]:
    """Per user: attributed orders and their net GMV (exact int64 units).

    Returns
    -------
    dict
        ``conversions`` (int64 count of credited orders), ``attributed_gmv_units``
        (int64, units of ``10**-4``; net of refunds when ``net_units`` is) and
        ``token_gmv_units`` (the part credited by an explicit token, the most
        reliable evidence; :func:`influence.calibration` fits against it).
    """
    net = np.asarray(net_units, dtype=np.int64)
    hit = attribution.credited >= 0
    who = attribution.credited[hit]
    gmv = np.zeros(n_nodes, dtype=np.int64)
    np.add.at(gmv, who, net[hit])
    tok = attribution.rule == RULE_TOKEN
    token_gmv = np.zeros(n_nodes, dtype=np.int64)
    np.add.at(token_gmv, attribution.credited[tok], net[tok])
    return {
        "conversions": np.bincount(who, minlength=n_nodes).astype(np.int64),
        "attributed_gmv_units": gmv,
        "token_gmv_units": token_gmv,
    }


def _distinct_per_source(src: np.ndarray, dst: np.ndarray, n_nodes: int) -> np.ndarray:
    """Number of distinct ``dst`` per ``src`` (a sort, not a hash set: faster at 10M pairs)."""
    if src.shape[0] == 0:
        return np.zeros(n_nodes, dtype=np.int64)
    key = src * np.int64(n_nodes) + dst
    key.sort()
    first = np.empty(key.shape[0], dtype=bool)
    first[0] = True
    np.not_equal(key[1:], key[:-1], out=first[1:])
    return np.bincount(key[first] // n_nodes, minlength=n_nodes).astype(np.int64)


def engagement_signals(
    n_nodes: int,
    *,
    src: np.ndarray,
    dst: np.ndarray,
    etype: np.ndarray,
    ts: np.ndarray,
    share_sharer: np.ndarray,
    buyer: np.ndarray,
    order_ts: np.ndarray,
    binding: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """Engagement counts per user from the window's edges, shares and orders.

    Parameters
    ----------
    n_nodes : int
    src, dst, etype, ts : numpy.ndarray
        Edges (influencer -> influenced) with type codes and times.
    share_sharer : numpy.ndarray
        Sharer node index of each share event.
    buyer, order_ts : numpy.ndarray
        Buyer node index and time of each order.
    binding : tuple of numpy.ndarray, optional
        ``(parent, bound_ts)`` per node from :func:`graph.referrals.first_referrers`
        over the window's referral events (event ids as tie-break); when omitted it
        is computed from the referral edges, which must then be in ``(ts, event_id)``
        order.

    Returns
    -------
    dict of str to numpy.ndarray of int64
        ``comments_received`` (comments on the user's content), ``forwards_received``
        (forwards of the user's content), ``shares_made``, ``unique_audience``
        (distinct users the user reached by a view, forward, comment or referral),
        ``referrals_made`` (distinct referees) and ``referrals_converted``
        (referees, by their binding referral, with an order at or after it).
    """
    src = np.asarray(src, dtype=np.int64)
    dst = np.asarray(dst, dtype=np.int64)
    etype = np.asarray(etype)

    def count(mask: np.ndarray) -> np.ndarray:
        return np.bincount(src[mask], minlength=n_nodes).astype(np.int64)

    audience = _distinct_per_source(src, dst, n_nodes)

    is_ref = etype == _REFERRAL
    r_src, r_dst, r_ts = src[is_ref], dst[is_ref], np.asarray(ts)[is_ref]
    parent, bound_ts = (
        binding if binding is not None else first_referrers(n_nodes, r_src, r_dst, r_ts)
    )
    referee = np.flatnonzero(parent >= 0)
    # a referee converted when their last order is at or after the binding referral
    last_order = np.full(n_nodes, np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(last_order, np.asarray(buyer, dtype=np.int64), np.asarray(order_ts, np.int64))
    converted = last_order[referee] >= bound_ts[referee]
    return {
        "comments_received": count(etype == _COMMENT),
        "forwards_received": count(etype == _FORWARD),
        "shares_made": np.bincount(
            np.asarray(share_sharer, dtype=np.int64), minlength=n_nodes
        ).astype(np.int64),
        "unique_audience": audience,
        "referrals_made": _distinct_per_source(r_src, r_dst, n_nodes),
        "referrals_converted": np.bincount(parent[referee][converted], minlength=n_nodes).astype(
            np.int64
        ),
    }
