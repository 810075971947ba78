"""Fixtures for the referral tests: a tiny event builder over a real embedded store."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest

from graph.duckdb_store import DuckDBStore
from graph.events import EventType
from graph.store import ARROW_SCHEMAS
from referral.attribution import RunSummary, attribute
from referral.ledger import Ledger, entries_sql
from referral.rules import CommissionRules, default_rules

T0 = datetime(2026, 7, 1, tzinfo=UTC)


def day(d: float, hours: float = 0) -> datetime:
    """2026-07-01 00:00 UTC plus ``d`` days and ``hours`` hours."""
    return T0 + timedelta(days=d, hours=hours)


class Events:
    """Collects hand-made records and appends them to a store as Arrow batches."""

    def __init__(self) -> None:
        self.rows: dict[EventType, list[dict[str, Any]]] = {t: [] for t in EventType}
        self._ids = itertools.count(1)

    def _add(self, etype: EventType, **row: Any) -> Events:
        row.setdefault("event_id", f"{etype.value}-{next(self._ids)}")
        self.rows[etype].append(row)
        return self

    def user(self, user_id: str, role: str = "consumer", **kw: Any) -> Events:
        return self._add(
            EventType.USER, event_id=f"user-{user_id}", user_id=user_id, role=role, **kw
        )

    def referral(self, referrer: str, referee: str, ts: datetime, **kw: Any) -> Events:
        return self._add(EventType.REFERRAL, referrer=referrer, referee=referee, ts=ts, **kw)

    def order(self, order_id: str, buyer: str, amount: str, ts: datetime, **kw: Any) -> Events:
        kw.setdefault("currency", "CNY")
        return self._add(
            EventType.ORDER, order_id=order_id, buyer=buyer, amount=Decimal(amount), ts=ts, **kw
        )

    def refund(self, order_id: str, amount: str, ts: datetime, **kw: Any) -> Events:
        return self._add(EventType.REFUND, order_id=order_id, amount=Decimal(amount), ts=ts, **kw)

    def share(self, sharer: str, content_id: str, ts: datetime) -> Events:
        return self._add(EventType.SHARE, sharer=sharer, content_id=content_id, ts=ts)

    def view(self, viewer: str, sharer: str, content_id: str, ts: datetime) -> Events:
        return self._add(EventType.VIEW, viewer=viewer, sharer=sharer, content_id=content_id, ts=ts)

    def forward(self, forwarder: str, from_user: str, content_id: str, ts: datetime) -> Events:
        return self._add(
            EventType.FORWARD,
            forwarder=forwarder,
            from_user=from_user,
            content_id=content_id,
            ts=ts,
        )

    def tables(self) -> dict[EventType, pa.Table]:
        out = {}
        for etype, rows in self.rows.items():
            if rows:
                schema = ARROW_SCHEMAS[etype]
                out[etype] = pa.table(
                    {n: [r.get(n) for r in rows] for n in schema.names}, schema=schema
                )
        return out

    def load(self, store: DuckDBStore) -> None:
        """Append everything collected so far, then forget it."""
        store.append_batch(self.tables())
        self.rows = {t: [] for t in EventType}


class World:
    """A store, its ledger and an event builder; ``run()`` attributes with ``rules``."""

    def __init__(self, store: DuckDBStore) -> None:
        self.store = store
        self.ledger = Ledger.open(store)
        self.ev = Events()
        self.rules: CommissionRules = default_rules()

    def set_rules(self, **overrides: Any) -> None:
        """Defaults with ``overrides``, under a version derived from their content."""
        rules = default_rules(**overrides)
        self.rules = rules.model_copy(update={"version": f"t-{rules.digest()[:10]}"})

    def run(self) -> RunSummary:
        self.ev.load(self.store)
        return attribute(self.store, self.ledger, self.rules)

    def entries(self, where: str = "true", **params: Any) -> list[dict[str, Any]]:
        # a test may ask anything: raw SQL over the ledger view (the library takes typed filters)
        sql = f"{entries_sql()} SELECT * FROM ledger WHERE {where} ORDER BY seq"
        t = self.ledger.arrow(sql, {"as_of": self.ledger.as_of(), **params})
        return t.to_pylist() if t.num_rows else []

    def amounts(self, kind: str | None = None) -> dict[tuple[str, str, int], Decimal]:
        """``{(order_id, beneficiary, level): amount}`` of the entries (of one kind)."""
        out: dict[tuple[str, str, int], Decimal] = {}
        for e in self.entries():
            if kind is None or e["kind"] == kind:
                key = (e["order_id"], e["beneficiary"], e["level"])
                out[key] = out.get(key, Decimal(0)) + e["amount"]
        return out


@pytest.fixture
def mem_store() -> Iterator[DuckDBStore]:
    s = DuckDBStore(":memory:", threads=1)  # tiny tables: one thread plans and runs faster
    yield s
    s.close()


@pytest.fixture
def world(mem_store: DuckDBStore) -> World:
    return World(mem_store)
