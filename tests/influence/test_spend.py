"""RFM spend: worked by hand on a tiny store (orders, partial and full refunds)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pytest

from graph.events import EventType
from graph.store import ARROW_SCHEMAS
from influence.spend import RFM, rfm_from_spend, rfm_value

T0 = datetime(2026, 7, 1, tzinfo=UTC)
DAY_US = 86_400_000_000


def _table(event_type, rows):
    schema = ARROW_SCHEMAS[event_type]
    return pa.Table.from_pylist([{n: r.get(n) for n in schema.names} for r in rows], schema=schema)


def _order(oid, buyer, amount, day):
    return {
        "event_id": oid,
        "order_id": oid,
        "buyer": buyer,
        "amount": Decimal(amount),
        "currency": "CNY",
        "ts": T0 + timedelta(days=day),
    }


@pytest.fixture
def spend_store(store):
    store.append_batch(
        {
            EventType.USER: _table(
                EventType.USER, [{"event_id": u, "user_id": u} for u in ("a", "b", "c", "d")]
            ),
            EventType.ORDER: _table(
                EventType.ORDER,
                [
                    _order("o1", "a", "100", 1),
                    _order("o2", "a", "50", 10),
                    _order("o3", "b", "500", 2),
                    _order("o4", "c", "10", 12),
                ],
            ),
            EventType.REFUND: _table(
                EventType.REFUND,
                [
                    {
                        "event_id": "f1",
                        "order_id": "o2",
                        "amount": Decimal("20"),
                        "ts": T0 + timedelta(days=11),
                    },
                    {
                        "event_id": "f2",
                        "order_id": "o4",
                        "amount": Decimal("10"),
                        "ts": T0 + timedelta(days=13),
                    },
                ],
            ),
        }
    )
    return store


def test_rfm_from_spend_by_hand(spend_store):
    ids = spend_store.node_ids()
    now = int((T0 + timedelta(days=15)).timestamp() * 1e6)
    rfm = rfm_from_spend(spend_store.read_spend(), ids, now)
    pos = {u: i for i, u in enumerate(ids)}
    get = lambda arr: [arr[pos[u]] for u in "abcd"]  # noqa: E731
    assert get(rfm.buyer) == [True, True, True, False]
    assert get(rfm.frequency) == [2, 1, 1, 0]
    assert get(rfm.monetary_units) == [1_300_000, 5_000_000, 0, 0]
    assert get(rfm.recency_days)[:3] == pytest.approx([5.0, 13.0, 3.0])
    assert np.isnan(get(rfm.recency_days)[3])


def test_rfm_value_by_hand(spend_store):
    ids = spend_store.node_ids()
    now = int((T0 + timedelta(days=15)).timestamp() * 1e6)
    value = rfm_value(rfm_from_spend(spend_store.read_spend(), ids, now))
    pos = {u: i for i, u in enumerate(ids)}
    # percentiles among the 3 buyers (d has no order: 0)
    # R on -days: b(13) < a(5) < c(3) -> 1/3, 2/3, 3/3
    # F: a 2 > b = c 1 -> a 3/3, b = c 1.5/3
    # M: c 0 < a 130 < b 500 -> 1/3, 2/3, 3/3
    expected = {"a": (2 + 3 + 2) / 9, "b": (1 + 1.5 + 3) / 9, "c": (3 + 1.5 + 1) / 9, "d": 0.0}
    assert [value[pos[u]] for u in "abcd"] == pytest.approx([expected[u] for u in "abcd"])


def test_rfm_value_weights_select_one_letter():
    rfm = RFM(
        buyer=np.array([True, True, False]),
        recency_days=np.array([1.0, 9.0, np.nan]),
        frequency=np.array([1, 5, 0]),
        monetary_units=np.array([10, 5, 0]),
    )
    assert rfm_value(rfm, recency=0, frequency=1, monetary=0) == pytest.approx([0.5, 1.0, 0.0])
    assert rfm_value(rfm, recency=1, frequency=0, monetary=0) == pytest.approx([1.0, 0.5, 0.0])


def test_rfm_value_rejects_zero_weights():
    rfm = RFM(np.array([True]), np.array([1.0]), np.array([1]), np.array([1]))
    with pytest.raises(ValueError):
        rfm_value(rfm, recency=0, frequency=0, monetary=0)


def test_rfm_window_excludes_orders_outside(spend_store):
    ids = spend_store.node_ids()
    spend = spend_store.read_spend(T0 + timedelta(days=5), T0 + timedelta(days=11))
    rfm = rfm_from_spend(spend, ids, int((T0 + timedelta(days=11)).timestamp() * 1e6))
    pos = {u: i for i, u in enumerate(ids)}
    assert [rfm.frequency[pos[u]] for u in "abcd"] == [1, 0, 0, 0]
    assert rfm.monetary_units[pos["a"]] == 300_000
