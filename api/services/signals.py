"""Conversion and engagement signals of a store's window, for the KOC score and role views.

The one place that reads orders, shares and refunds for the score: the ranking
(:mod:`api.services.ranking`) and the role views (:mod:`api.services.roles`) both
call :func:`conversion_signals`, so a KOL's attributed GMV in a role view is the
same number the KOC score's conversion uses. The attribution itself is pure
(:mod:`influence.engagement`).
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pyarrow.compute as pc

from graph.arrays import US_PER_DAY, micros, node_index, node_indexes
from graph.events import EDGE_TYPE_CODES, EventType
from graph.money import to_units
from graph.referrals import first_referrers
from graph.snapshot import GraphSnapshot
from graph.store import GraphStore
from influence.config import ScoreConfig
from influence.engagement import (
    attribute_orders,
    conversion_totals,
    engagement_signals,
    resolve_referral_codes,
    resolve_tokens,
)
from influence.evidence import conversion_evidence

__all__ = ["conversion_signals", "identity_codes"]


def identity_codes(store: GraphStore, node_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Device and phone of each node as small integer codes (0 = unknown), from user records.

    Equal codes mean the same ``device_hash`` / ``phone_hash``; the evidence of
    :mod:`influence.evidence` compares them without seeing the hashes.
    """
    users = store.read_events(EventType.USER)
    pos = node_index(node_ids, users.column("user_id"))
    ok = pos >= 0
    out = []
    for column in ("device_hash", "phone_hash"):
        encoded = pc.dictionary_encode(users.column(column)).combine_chunks()
        codes = np.asarray(encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False), np.int64)
        per_node = np.zeros(len(node_ids), dtype=np.int64)
        per_node[pos[ok]] = codes[ok] + 1
        out.append(per_node)
    return out[0], out[1]


def conversion_signals(
    store: GraphStore,
    snapshot: GraphSnapshot,
    config: ScoreConfig,
    start: datetime | None,
    end: datetime | None,
    counts: dict[str, int],
) -> dict[str, np.ndarray]:
    """Engagement signals and attributed conversions per node (see :mod:`influence.engagement`).

    Reads the window's orders, shares, referrals, (all) refunds and the user records'
    devices and phones; views come from ``snapshot``. ``counts`` receives row counts.
    Returns the arrays of :func:`influence.engagement.engagement_signals`, of
    :func:`influence.engagement.conversion_totals` (``conversions``,
    ``attributed_gmv_units``, ``token_gmv_units``: exact, units of 10**-4) and of
    :func:`influence.evidence.conversion_evidence` with the prefix ``evidence.``.
    """
    n = snapshot.n_nodes
    orders = store.read_events(EventType.ORDER, start, end)
    shares = store.read_events(EventType.SHARE, start, end)
    refunds = store.read_events(EventType.REFUND)  # refunds of window orders, whenever made
    counts.update(orders=orders.num_rows, shares=shares.num_rows, refunds=refunds.num_rows)

    buyer = node_index(snapshot.node_ids, orders.column("buyer"))
    order_ts = micros(orders.column("ts"))
    amount = to_units(orders.column("amount"))
    refunded = np.zeros(orders.num_rows, dtype=np.int64)
    if refunds.num_rows and orders.num_rows:
        per_order = refunds.group_by("order_id").aggregate([("amount", "sum")])
        pos = np.asarray(
            pc.index_in(orders.column("order_id"), value_set=per_order.column("order_id"))
            .fill_null(-1)
            .to_numpy(zero_copy_only=False),
            dtype=np.int64,
        )
        ref_units = to_units(per_order.column("amount_sum"))
        hit = pos >= 0
        refunded[hit] = ref_units[pos[hit]]
    net = amount - np.minimum(refunded, amount)

    share_sharer = node_index(snapshot.node_ids, shares.column("sharer"))
    share_ts = micros(shares.column("ts"))
    token_sharer = None
    via_code = np.zeros(orders.num_rows, dtype=bool)
    if config.attribution.use_token:
        tokens = orders.column("attribution_token")
        token_sharer = resolve_tokens(
            tokens, order_ts, shares.column("content_id"), share_sharer, share_ts
        )
        code = resolve_referral_codes(
            tokens, snapshot.node_ids, config.attribution.referral_code_prefix
        )
        via_code = (token_sharer < 0) & (code >= 0)
        token_sharer = np.where(token_sharer >= 0, token_sharer, code)
    # the binding referral of each user (graph.referrals: ties to the smallest event id)
    refs = store.read_events(EventType.REFERRAL, start, end)
    referrer, referee = node_indexes(
        snapshot.node_ids, refs.column("referrer"), refs.column("referee")
    )
    binding = first_referrers(
        n, referrer, referee, micros(refs.column("ts")), refs.column("event_id")
    )
    is_view = snapshot.etype == EDGE_TYPE_CODES[EventType.VIEW]
    attribution = attribute_orders(
        buyer=buyer,
        ts=order_ts,
        token_sharer=token_sharer,
        view_sharer=snapshot.src[is_view],
        view_viewer=snapshot.dst[is_view],
        view_ts=snapshot.ts[is_view],
        binding=binding,
        view_window_us=int(config.attribution.view_window_days * US_PER_DAY),
        referral_window_us=int(config.attribution.referral_window_days * US_PER_DAY),
    )
    counts["orders_attributed"] = int((attribution.credited >= 0).sum())
    signals = engagement_signals(
        n,
        src=snapshot.src,
        dst=snapshot.dst,
        etype=snapshot.etype,
        ts=snapshot.ts,
        share_sharer=share_sharer[share_sharer >= 0],
        buyer=buyer,
        order_ts=order_ts,
        binding=binding,
    )
    device, phone = identity_codes(store, snapshot.node_ids)
    is_ref = snapshot.etype == EDGE_TYPE_CODES[EventType.REFERRAL]
    tie = ~is_ref & (snapshot.src != snapshot.dst)
    evidence = conversion_evidence(
        n,
        buyer=buyer,
        ts=order_ts,
        net_units=net,
        gross_units=amount,
        credited=attribution.credited,
        rule=attribution.rule,
        via_code=via_code,
        has_store=np.asarray(pc.is_valid(orders.column("store_id")), dtype=bool),
        device=device,
        phone=phone,
        tie_src=snapshot.src[tie],
        tie_dst=snapshot.dst[tie],
        weights=config.evidence,
    )
    return {
        **signals,
        **conversion_totals(n, attribution, net),
        **{f"evidence.{k}": v for k, v in evidence.items()},
    }
