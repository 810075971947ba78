"""Review a recorded plan: who its seeds reached after the campaign started, and their GMV."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import numpy as np

from api.services.campaigns import _tables
from api.services.campaigns._inputs import read_interactions
from graph.arrays import US_PER_SECOND, micros, node_index
from graph.errors import ParameterError
from graph.events import EventType
from graph.money import to_units, units_to_decimal
from graph.store import GraphStore
from influence.campaign import NOT_REACHED, reach_times

__all__ = ["review_plan"]


def review_plan(
    store: GraphStore,
    plan_id: str,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Compare a plan's prediction with what happened; record and return the review.

    Realised spread: the seeds and every user a time-respecting chain of interactions
    (views, forwards, comments, referrals, orders through shares) leads to from them in
    ``[start, end)`` (:func:`influence.campaign.reach_times`). GMV: the orders those
    users placed at or after being reached, in the window (gross amounts, Decimal).

    Parameters
    ----------
    start : datetime, optional
        The campaign's start (default: when the plan was made).
    end : datetime, optional
        End of the window (default: none).

    Raises
    ------
    NotFoundError
        For an unknown plan id.
    """
    plan = _tables.load_plan(store, plan_id)
    t0 = start or plan["created_at"]
    if end is not None and end <= t0:
        raise ParameterError("The review window's end must be after its start.", parameter="end")
    inter = read_interactions(store, t0, end)
    seeds = node_index(inter.node_ids, _string_array([s["user_id"] for s in plan["seeds"]]))
    seeds = seeds[seeds >= 0]
    t0_us = int(t0.timestamp() * US_PER_SECOND)
    end_us = None if end is None else int(end.timestamp() * US_PER_SECOND)
    reached = reach_times(
        len(inter.node_ids), inter.src, inter.dst, inter.ts, seeds, start_us=t0_us, end_us=end_us
    )
    orders = store.read_events(EventType.ORDER, t0, end)
    buyer = node_index(inter.node_ids, orders.column("buyer"))
    ts = micros(orders.column("ts"))
    ok = buyer >= 0
    counted = np.zeros(orders.num_rows, dtype=bool)
    counted[ok] = (reached[buyer[ok]] != NOT_REACHED) & (ts[ok] >= reached[buyer[ok]])
    gmv = units_to_decimal(int(to_units(orders.column("amount"))[counted].sum()))
    review = {
        "review_id": uuid.uuid4().hex[:12],
        "plan_id": plan["plan_id"],
        "reviewed_at": now or datetime.now(UTC),
        "start": t0,
        "end": end,
        "predicted_spread": float(plan["expected_spread"]["mean"]),
        "predicted_low": float(plan["expected_spread"]["low"]),
        "predicted_high": float(plan["expected_spread"]["high"]),
        "realised_spread": int((reached != NOT_REACHED).sum()),
        "orders": int(counted.sum()),
        "gmv": gmv,
    }
    _tables.save_review(store, review)
    return review


def _string_array(values: list[str]) -> Any:
    import pyarrow as pa

    return pa.array(values, type=pa.string())
