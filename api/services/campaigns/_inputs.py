"""What a campaign plan reads from the store: interaction histories, seed costs, KOC scores.

The one place the campaign planner does graph I/O (through the store protocol, so
the embedded store and Neo4j both work); everything it returns is arrays in node
order for :mod:`influence.campaign`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from graph.arrays import micros, node_index, node_indexes
from graph.errors import ParameterError
from graph.events import RECORD_SPECS, EventType
from graph.money import AMOUNT_SCALE
from graph.store import GraphStore
from influence.engagement import resolve_tokens

__all__ = ["Interactions", "read_interactions", "seed_costs_units", "koc_scores"]

#: interaction types whose content tells which of the sharer's shares was acted on
_CONTENT_TYPES = (EventType.VIEW, EventType.FORWARD, EventType.COMMENT)


@dataclass(frozen=True, eq=False)
class Interactions:
    """Who acted on whose shares, in node order (inputs of ``learn_probabilities``)."""

    node_ids: np.ndarray
    src: np.ndarray
    dst: np.ndarray
    content: np.ndarray
    ts: np.ndarray
    shares: np.ndarray
    counts: dict[str, int]


def read_interactions(
    store: GraphStore, start: datetime | None = None, end: datetime | None = None
) -> Interactions:
    """Interactions of the window ``[start, end)`` with their content codes.

    Views, forwards and comments carry the shared ``content_id``; an order whose
    attribution token names a share (:func:`influence.engagement.resolve_tokens`)
    counts as the buyer acting on that share; a referral has no content (-1).
    ``shares`` is each user's number of distinct shared contents.
    """
    node_ids = store.node_ids()
    cols: dict[str, list[np.ndarray]] = {"src": [], "dst": [], "ts": []}
    contents: list[pa.Array] = []
    counts: dict[str, int] = {}
    for etype in (*_CONTENT_TYPES, EventType.REFERRAL):
        spec = RECORD_SPECS[etype]
        table = store.read_events(etype, start, end)
        counts[etype.value] = table.num_rows
        s, d = node_indexes(node_ids, table.column(spec.src), table.column(spec.dst))
        cols["src"].append(s)
        cols["dst"].append(d)
        cols["ts"].append(micros(table.column("ts")))
        if etype is EventType.REFERRAL:
            contents.append(pa.nulls(table.num_rows, pa.string()))
        else:
            contents.append(table.column("content_id").combine_chunks().cast(pa.string()))
    shares_t = store.read_events(EventType.SHARE, start, end)
    orders = store.read_events(EventType.ORDER, start, end)
    counts.update(share=shares_t.num_rows, order=orders.num_rows)
    share_sharer = node_index(node_ids, shares_t.column("sharer"))
    order_ts = micros(orders.column("ts"))
    token_sharer = resolve_tokens(
        orders.column("attribution_token"),
        order_ts,
        shares_t.column("content_id"),
        share_sharer,
        micros(shares_t.column("ts")),
    )
    via = token_sharer >= 0
    counts["orders_through_shares"] = int(via.sum())
    cols["src"].append(token_sharer[via])
    cols["dst"].append(node_index(node_ids, orders.column("buyer"))[via])
    cols["ts"].append(order_ts[via])
    contents.append(
        orders.column("attribution_token").combine_chunks().cast(pa.string()).filter(pa.array(via))
    )
    all_content = pa.concat_arrays(
        [*contents, shares_t.column("content_id").combine_chunks().cast(pa.string())]
    )
    codes = pc.dictionary_encode(all_content).indices.fill_null(-1).to_numpy(zero_copy_only=False)
    codes = np.asarray(codes, dtype=np.int64)
    n_inter = sum(a.size for a in cols["src"])
    src = np.concatenate(cols["src"])
    dst = np.concatenate(cols["dst"])
    ts = np.concatenate(cols["ts"])
    content = codes[:n_inter]
    share_codes = codes[n_inter:]
    keep = (src >= 0) & (dst >= 0)
    n = len(node_ids)
    shares = np.zeros(n, dtype=np.int64)
    ok = share_sharer >= 0
    if ok.any():
        pairs = np.unique(share_sharer[ok] * (int(share_codes.max()) + 2) + share_codes[ok] + 1)
        shares = np.bincount(pairs // (int(share_codes.max()) + 2), minlength=n).astype(np.int64)
    return Interactions(
        node_ids=node_ids,
        src=src[keep],
        dst=dst[keep],
        content=content[keep],
        ts=ts[keep],
        shares=shares,
        counts=counts,
    )


def seed_costs_units(store: GraphStore, node_ids: np.ndarray, field: str) -> np.ndarray:
    """Each user's seed cost from the ``attrs`` field ``field``, in money units (float64).

    Costs are decimal numbers in the user records' ``attrs`` JSON (e.g.
    ``{"sample_cost": "12.50"}``), read as :class:`~decimal.Decimal` and turned into
    exact integer units of ``10**-AMOUNT_SCALE`` (held in float64, exact below 2**53).
    Users without the field get NaN: they are never chosen as seeds.

    Raises
    ------
    ParameterError
        A user's field is not a number >= 0 (names the user and the value).
    """
    users = store.read_events(EventType.USER)
    pos = node_index(node_ids, users.column("user_id"))
    out = np.full(len(node_ids), np.nan)
    scale = Decimal(10) ** AMOUNT_SCALE
    ids = users.column("user_id").to_pylist()
    for i, raw in enumerate(users.column("attrs").to_pylist()):
        if not raw or pos[i] < 0:
            continue
        value = json.loads(raw).get(field) if isinstance(raw, str) else raw.get(field)
        if value is None:
            continue
        try:
            amount = Decimal(str(value))
        except InvalidOperation:
            amount = Decimal(-1)
        if not amount.is_finite() or amount < 0:
            raise ParameterError(
                f"User {ids[i]!r} has {field}={value!r} in attrs, which is not a cost "
                "(a decimal number >= 0). Fix the user record or use another cost field.",
                parameter="cost_field",
                user_id=ids[i],
            )
        out[pos[i]] = float(int(amount * scale))
    return out


def koc_scores(store: GraphStore, node_ids: np.ndarray) -> tuple[np.ndarray, str] | None:
    """The latest succeeded ranking run's KOC score per node (NaN: unscored) and its id."""
    run = store.latest_run()
    if run is None:
        return None
    scores = store.read_scores(run.run_id)
    values = np.full(len(node_ids), np.nan)
    pos = node_index(node_ids, scores.column("user_id"))
    ok = pos >= 0
    values[pos[ok]] = np.asarray(scores.column("score").to_numpy(zero_copy_only=False))[ok]
    return values, run.run_id
