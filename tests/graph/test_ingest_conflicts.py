"""Conflicting rows at scale: the quarantine rows written in SQL, the stored-key filter."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pytest

from graph.duckdb_store import DuckDBStore
from graph.events import EventType
from graph.ingest import ingest_records
from graph.ingest.keys import derive_reject_id
from graph.ingest.loader import _conflict_rejects
from graph.ingest.validate import ValidatedBatch
from graph.key_filter import StoredKeys, sorted_unique
from graph.store import ARROW_SCHEMAS, CONFLICT_SCHEMA, ORDER_ID_CONFLICT, BatchResult

TRICKY = ["plain", 'quote " and \\ back', "new\nline\ttab\x01\x1f\x7f", "é 中 😀 \u2028", "", None]


def _expected(vb: ValidatedBatch, conflicts: pa.Table, source: str) -> list[dict]:
    """The quarantine rows as one ``json.dumps`` per refused record (the reference)."""
    out = []
    for c in conflicts.to_pylist():
        et = EventType(c["event_type"])
        record = vb.tables[et].slice(c["index"], 1).to_pylist()[0]
        raw = json.dumps({"type": et.value, **record}, default=str, ensure_ascii=False)[:4096]
        row = int(vb.rows[et][c["index"]])
        out.append(
            dict(
                reject_id=derive_reject_id(source, row, c["field"], raw),
                source=source,
                row_number=row,
                event_type=et.value,
                field=c["field"],
                value=(c["value"] or "")[:256],
                reason=c["reason"],
                raw=raw,
            )
        )
    return sorted(out, key=lambda r: r["row_number"])


def test_conflict_rejects_raw_equals_json_dumps_of_the_record() -> None:
    n = len(TRICKY)
    ts = [datetime(2024, 1, 1, 8, 0, 0, us, tzinfo=UTC) for us in (0, 1, 999_999, 120_000, 0, 5)]
    orders = pa.table(
        {
            "event_id": [f"e{i}" for i in range(n)],
            "order_id": TRICKY,
            "buyer": list(reversed(TRICKY)),
            "amount": [
                Decimal("10.0000"),
                Decimal("-0.5000"),
                Decimal("0"),
                None,
                Decimal("1e6"),
                Decimal("0.0001"),
            ],
            "currency": ["CNY"] * n,
            "ts": ts,
            "attribution_token": ["x" * 5000, None, "t", "t", "t", "t"],
            "store_id": TRICKY,
        },
        schema=ARROW_SCHEMAS[EventType.ORDER],
    )
    views = pa.table(
        {
            "event_id": TRICKY[:-1] + ["v"],
            "viewer": TRICKY[:-1] + ["v"],
            "sharer": ["s"] * n,
            "content_id": TRICKY,
            "channel": TRICKY,
            "ts": ts,
        },
        schema=ARROW_SCHEMAS[EventType.VIEW],
    )
    vb = ValidatedBatch(
        tables={EventType.ORDER: orders, EventType.VIEW: views},
        rows={EventType.ORDER: np.arange(n) * 2 + 2, EventType.VIEW: np.arange(n) * 2 + 3},
    )
    conflicts = pa.table(
        {
            "event_type": ["view", "order", "order", "view", "order", "view", "order"],
            "index": [5, 0, 1, 2, 3, 4, 5],
            "field": [
                "event_id",
                "order_id",
                "order_id",
                "event_id",
                "order_id",
                "event_id",
                "order_id",
            ],
            "value": ["v", "a" * 300, None, "x", "y", "z", "w"],
            "reason": [ORDER_ID_CONFLICT] * 7,
        },
        schema=CONFLICT_SCHEMA,
    )
    got = _conflict_rejects(vb, BatchResult(conflicts=conflicts), "/data/in'put.csv")
    assert got.to_pylist() == _expected(vb, conflicts, "/data/in'put.csv")


def test_conflict_rejects_many_conflicts_balance_and_name_their_rows() -> None:
    n = 3000
    first = [
        dict(
            type="view",
            event_id=f"e{i}",
            viewer=f"u{i}",
            sharer="s",
            content_id="c",
            ts="2024-01-01T00:00:00Z",
        )
        for i in range(n)
    ]
    orders = [
        dict(type="order", order_id=f"o{i}", buyer=f"b{i}", amount="1.00", currency="CNY",
             ts="2024-01-01T00:00:00Z")
        for i in range(n)
    ]  # fmt: skip
    with DuckDBStore(":memory:") as store:
        ingest_records(store, first + orders)
        # same event ids, other viewers; same order ids, other amounts
        again = [{**r, "viewer": f"w{i}"} for i, r in enumerate(first)]
        again += [{**r, "amount": "2.00"} for r in orders]
        summary = ingest_records(store, again)
        assert (summary.read, summary.inserted, summary.rejected) == (2 * n, 0, 2 * n)
        rejects = store.read_rejects().to_pylist()
        assert len(rejects) == 2 * n
        by_row = {r["row_number"]: r for r in rejects}
        assert sorted(by_row) == list(range(2 * n))
        for i in (0, n - 1, n, 2 * n - 1):
            rec = json.loads(by_row[i]["raw"])
            assert by_row[i]["field"] == ("event_id" if i < n else "order_id")
            assert by_row[i]["value"] == (f"e{i}" if i < n else f"o{i - n}")
            assert rec["type"] == ("view" if i < n else "order")
            assert rec.get("viewer", f"w{i}") == f"w{i}" and rec.get("amount", "2.0000") == "2.0000"
        # quarantined idempotently: the same load again stores no second copy
        ingest_records(store, again)
        assert store.counts()["rejects"] == 2 * n


def test_stored_keys_never_misses_a_stored_key() -> None:
    rng = np.random.default_rng(0)
    stored = rng.integers(0, 2**63, size=50_000, dtype=np.uint64)
    keys = StoredKeys(stored[:1000])
    for chunk in np.array_split(stored[1000:], 40):
        keys.add(chunk)
    assert keys.runs <= int(np.log2(stored.size)) + 1
    assert keys.maybe(stored).all()
    others = rng.integers(0, 2**63, size=50_000, dtype=np.uint64)
    assert (keys.maybe(others) == np.isin(others, stored)).all()
    assert len(StoredKeys(np.array([], dtype=np.uint64))) == 0
    assert not StoredKeys(np.array([], dtype=np.uint64)).maybe(stored[:3]).any()


@pytest.mark.parametrize("n", [0, 1, 2, 7, 5_000])
def test_sorted_unique_equals_np_unique(n: int) -> None:
    rng = np.random.default_rng(n)
    values = rng.integers(0, 2**64 - 1, size=n, dtype=np.uint64, endpoint=True)
    values = np.concatenate((values, values[: n // 3], rng.integers(0, 9, size=n, dtype=np.uint64)))
    got = sorted_unique(values)
    assert got.dtype == np.uint64
    assert np.array_equal(got, np.unique(values))
    halves = np.concatenate((got[::2], got[1::2]))  # two sorted runs, merged
    assert np.array_equal(sorted_unique(halves), got)


@pytest.mark.parametrize("kind", ["event", "order"])
def test_stored_keys_another_writer_is_seen(tmp_path, kind: str) -> None:
    """A second store object on the same file writes a key after the first loaded its
    filter: the first must still see that key as stored (a conflict, not a second row)."""
    path = tmp_path / "s.duckdb"
    rec = (
        dict(type="view", event_id="x", viewer="a", sharer="s", content_id="c",
             ts="2024-01-01T00:00:00Z")
        if kind == "event"
        else dict(type="order", order_id="o", buyer="b", amount="1.00", currency="CNY",
                  ts="2024-01-01T00:00:00Z")
    )  # fmt: skip
    other = {**rec, "viewer": "b"} if kind == "event" else {**rec, "amount": "3.00"}
    a = DuckDBStore(path)
    b = DuckDBStore(path)
    try:
        ingest_records(a, [{**rec, ("event_id" if kind == "event" else "order_id"): "y"}])
        ingest_records(b, [rec])
        summary = ingest_records(a, [other])
        assert (summary.inserted, summary.rejected) == (0, 1)
        assert a.counts()["view" if kind == "event" else "order"] == 2
    finally:
        a.close()
        b.close()
