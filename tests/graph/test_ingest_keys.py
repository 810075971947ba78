"""Derived ids: the SQL used by ingestion and the Python reference agree with a hand-built MD5."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from graph.events import EventType
from graph.ingest import derive_event_id, derive_reject_id, ingest_records


def test_derive_event_id_matches_hand_computed_md5() -> None:
    rec = {
        "order_id": "o1",
        "buyer": "b",
        "amount": Decimal("19.99"),
        "currency": "CNY",
        "ts": datetime(2024, 1, 1, 8, tzinfo=timezone(timedelta(hours=8))),
    }
    # type, then order_id, buyer, amount (4 places), currency, ts (UTC epoch us), token, store
    text = "\x1f".join(["order", "o1", "b", "19.9900", "CNY", "1704067200000000", "", ""])
    assert derive_event_id(EventType.ORDER, rec) == hashlib.md5(text.encode()).hexdigest()


def test_ingested_event_ids_match_python_reference(store) -> None:
    records = [
        {
            "type": "order",
            "order_id": "o1",
            "buyer": "b",
            "amount": "19.99",
            "currency": "cny",
            "ts": "2024-01-01T08:00:00+08:00",
        },
        {"type": "view", "viewer": "v", "sharer": "s", "content_id": "c", "ts": "1704067200123"},
        {"type": "user", "user_id": "u", "role": "KOL", "attrs": '{"a": 1}'},
    ]
    ingest_records(store, records)
    for t in (EventType.ORDER, EventType.VIEW, EventType.USER):
        [row] = store.read_events(t).to_pylist()
        assert row["event_id"] == derive_event_id(t, row)
    [view] = store.read_events(EventType.VIEW).to_pylist()
    assert view["ts"] == datetime(2024, 1, 1, tzinfo=UTC) + timedelta(milliseconds=123)


def test_derive_reject_id_deterministic() -> None:
    a = derive_reject_id("f.csv", 3, "amount", '{"amount":"-1"}')
    assert a == derive_reject_id("f.csv", 3, "amount", '{"amount":"-1"}')
    assert a != derive_reject_id("f.csv", 4, "amount", '{"amount":"-1"}')
    assert a == hashlib.md5(b'f.csv\x1f3\x1famount\x1f{"amount":"-1"}').hexdigest()


def test_stored_reject_ids_match_python_reference(store) -> None:
    ingest_records(
        store, [{"type": "share", "sharer": "s", "content_id": "c", "ts": "bad"}], source="api-test"
    )
    [rej] = store.read_rejects().to_pylist()
    assert rej["reject_id"] == derive_reject_id(
        rej["source"], rej["row_number"], rej["field"], rej["raw"]
    )
