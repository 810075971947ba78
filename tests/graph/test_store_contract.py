"""The GraphStore contract: every store implementation must pass these tests.

Parametrized over :data:`tests.graph.conftest.STORE_FACTORIES` through the
``contract_store`` fixture; expected values are worked out by hand in each test.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pyarrow as pa
import pytest

from graph.errors import NotFoundError
from graph.events import EDGE_TYPE_CODES, EventType
from graph.store import ARROW_SCHEMAS, REJECT_SCHEMA, SCORE_SCHEMA, GraphStore, RunRecord

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def table(event_type: EventType, rows: list[dict]) -> pa.Table:
    schema = ARROW_SCHEMAS[event_type]
    return pa.Table.from_pylist([{n: r.get(n) for n in schema.names} for r in rows], schema=schema)


def view(eid: str, sharer: str, viewer: str, hours: float = 0) -> dict:
    return {
        "event_id": eid,
        "sharer": sharer,
        "viewer": viewer,
        "content_id": "c",
        "ts": T0 + timedelta(hours=hours),
    }


def order(eid: str, buyer: str, amount: str, days: float = 0) -> dict:
    return {
        "event_id": eid,
        "order_id": eid,
        "buyer": buyer,
        "amount": Decimal(amount),
        "currency": "CNY",
        "ts": T0 + timedelta(days=days),
    }


def refund(eid: str, order_id: str, amount: str, days: float = 1) -> dict:
    return {
        "event_id": eid,
        "order_id": order_id,
        "amount": Decimal(amount),
        "ts": T0 + timedelta(days=days),
    }


def referral(eid: str, referrer: str, referee: str, hours: float) -> dict:
    return {
        "event_id": eid,
        "referrer": referrer,
        "referee": referee,
        "ts": T0 + timedelta(hours=hours),
    }


def edge_set(store: GraphStore, **kw) -> set[tuple[str, str, int]]:
    e = store.read_edges(**kw)
    ids = e.node_ids
    return {(ids[s], ids[d], int(t)) for s, d, t in zip(e.src, e.dst, e.etype, strict=True)}


def test_contract_is_a_graph_store(contract_store: GraphStore) -> None:
    assert isinstance(contract_store, GraphStore)
    assert contract_store.schema_version() >= 1


def test_contract_append_batch_idempotent(contract_store: GraphStore) -> None:
    views = table(
        EventType.VIEW, [view("v1", "a", "b"), view("v2", "a", "c"), view("v1", "a", "b")]
    )
    first = contract_store.append_batch({EventType.VIEW: views})
    assert (first.inserted, first.duplicates) == (2, 1)  # v1 repeated within the batch
    second = contract_store.append_batch({EventType.VIEW: views})
    assert (second.inserted, second.duplicates) == (0, 3)
    assert contract_store.counts()["view"] == 2


def test_contract_rejects_idempotent(contract_store: GraphStore) -> None:
    rejects = pa.Table.from_pylist(
        [
            {
                "reject_id": "r1",
                "source": "f.csv",
                "row_number": 2,
                "event_type": "order",
                "field": "amount",
                "value": "-1",
                "reason": "negative amount",
                "raw": "{}",
            }
        ],
        schema=REJECT_SCHEMA,
    )
    assert contract_store.append_batch({}, rejects).rejects_stored == 1
    assert contract_store.append_batch({}, rejects).rejects_stored == 0
    [row] = contract_store.read_rejects().to_pylist()
    assert (row["source"], row["row_number"], row["reason"]) == ("f.csv", 2, "negative amount")
    assert row["ingested_at"] is not None
    assert contract_store.counts()["rejects"] == 1


def test_contract_clear_rejects_by_source_then_all(contract_store: GraphStore) -> None:
    def reject(rid: str, source: str) -> dict:
        return {
            "reject_id": rid,
            "source": source,
            "row_number": 2,
            "event_type": "order",
            "field": "amount",
            "value": "x",
            "reason": "not a decimal amount",
            "raw": "{}",
        }

    rows = [reject("a1", "/d/a.csv"), reject("a2", "/d/a.csv"), reject("b1", "/d/b.csv")]
    contract_store.append_batch({}, pa.Table.from_pylist(rows, schema=REJECT_SCHEMA))
    assert contract_store.clear_rejects(["/d/a.csv", "/d/none.csv"]) == 2
    assert [r["reject_id"] for r in contract_store.read_rejects().to_pylist()] == ["b1"]
    assert contract_store.clear_rejects(["/d/a.csv"]) == 0
    assert contract_store.clear_rejects() == 1
    assert contract_store.counts()["rejects"] == 0


def test_contract_placeholder_users(contract_store: GraphStore) -> None:
    contract_store.append_batch(
        {
            EventType.USER: table(
                EventType.USER, [{"event_id": "u-a", "user_id": "a", "role": "kol"}]
            ),
            EventType.VIEW: table(EventType.VIEW, [view("v1", "a", "b")]),
            EventType.ORDER: table(EventType.ORDER, [order("o1", "c", "10")]),
        }
    )
    counts = contract_store.counts()
    assert (counts["user"], counts["users"]) == (1, 3)  # a declared; b and c placeholders
    assert sorted(contract_store.node_ids().tolist()) == ["a", "b", "c"]
    [declared] = contract_store.read_events(EventType.USER).to_pylist()
    assert (declared["user_id"], declared["role"]) == ("a", "kol")


def test_contract_user_upsert(contract_store: GraphStore) -> None:
    u1 = table(EventType.USER, [{"event_id": "e1", "user_id": "a", "role": "consumer"}])
    u2 = table(
        EventType.USER,
        [{"event_id": "e2", "user_id": "a", "role": "employee", "display_name": "A"}],
    )
    assert contract_store.append_batch({EventType.USER: u1}).inserted == 1
    assert contract_store.append_batch({EventType.USER: u1}).duplicates == 1
    assert contract_store.append_batch({EventType.USER: u2}).inserted == 1
    [row] = contract_store.read_events(EventType.USER).to_pylist()
    assert (row["role"], row["display_name"], row["event_id"]) == ("employee", "A", "e2")
    assert contract_store.counts()["users"] == 1


def test_contract_read_edges_direction_types_and_window(contract_store: GraphStore) -> None:
    contract_store.append_batch(
        {
            EventType.VIEW: table(EventType.VIEW, [view("v1", "s", "v", hours=0)]),
            EventType.FORWARD: table(
                EventType.FORWARD,
                [
                    {
                        "event_id": "f1",
                        "forwarder": "f",
                        "from_user": "s",
                        "content_id": "c",
                        "ts": T0 + timedelta(hours=1),
                    }
                ],
            ),
            EventType.COMMENT: table(
                EventType.COMMENT,
                [
                    {
                        "event_id": "c1",
                        "commenter": "m",
                        "on_user": "s",
                        "content_id": "c",
                        "ts": T0 + timedelta(hours=2),
                    }
                ],
            ),
            EventType.REFERRAL: table(EventType.REFERRAL, [referral("r1", "s", "n", hours=3)]),
            EventType.SHARE: table(
                EventType.SHARE, [{"event_id": "sh1", "sharer": "s", "content_id": "c", "ts": T0}]
            ),
        }
    )
    code = EDGE_TYPE_CODES
    # influencer -> influenced for every edge type; the share is not an edge
    assert edge_set(contract_store) == {
        ("s", "v", code[EventType.VIEW]),
        ("s", "f", code[EventType.FORWARD]),
        ("s", "m", code[EventType.COMMENT]),
        ("s", "n", code[EventType.REFERRAL]),
    }
    assert edge_set(contract_store, types=[EventType.FORWARD, EventType.COMMENT]) == {
        ("s", "f", code[EventType.FORWARD]),
        ("s", "m", code[EventType.COMMENT]),
    }
    # start inclusive, end exclusive
    window = edge_set(contract_store, start=T0 + timedelta(hours=1), end=T0 + timedelta(hours=3))
    assert window == {("s", "f", code[EventType.FORWARD]), ("s", "m", code[EventType.COMMENT])}
    e = contract_store.read_edges(start=T0 + timedelta(hours=3))
    assert e.n_edges == 1 and int(e.ts[0]) == int((T0 + timedelta(hours=3)).timestamp() * 1_000_000)
    assert e.n_nodes == len(contract_store.node_ids()) == 5


def test_contract_read_events_round_trip(contract_store: GraphStore) -> None:
    rows = {
        EventType.ORDER: [
            {**order("o1", "b", "19.99"), "attribution_token": "c1", "store_id": "s1"},
            order("o2", "b", "5", days=2),
        ],
        EventType.REFUND: [{**refund("r1", "o1", "4.5"), "refund_id": "R1"}],
        EventType.REFERRAL: [{**referral("x1", "a", "b", 1), "campaign": "spring"}],
        EventType.COMMENT: [
            {
                "event_id": "c1",
                "commenter": "m",
                "on_user": "s",
                "content_id": "c",
                "channel": "wechat",
                "ts": T0,
            }
        ],
    }
    contract_store.append_batch({t: table(t, r) for t, r in rows.items()})
    for t, r in rows.items():
        got = contract_store.read_events(t)
        assert got.schema == ARROW_SCHEMAS[t]
        assert sorted(got.to_pylist(), key=lambda x: x["event_id"]) == sorted(
            table(t, r).to_pylist(), key=lambda x: x["event_id"]
        )
    late = contract_store.read_events(EventType.ORDER, start=T0 + timedelta(days=1))
    assert late.column("order_id").to_pylist() == ["o2"]


def test_contract_read_spend_partial_refunds(contract_store: GraphStore) -> None:
    contract_store.append_batch(
        {
            EventType.ORDER: table(
                EventType.ORDER,
                [
                    order("o1", "a", "100.00"),
                    order("o2", "a", "50.00", days=1),
                    order("o3", "b", "30.00"),
                    order("o4", "b", "99.00", days=40),
                ],
            ),
            # o1: two partial refunds (30 + 20); o3: refunded more than paid (capped at 30)
            EventType.REFUND: table(
                EventType.REFUND,
                [
                    refund("r1", "o1", "30"),
                    refund("r2", "o1", "20", days=5),
                    refund("r3", "o3", "45"),
                ],
            ),
        }
    )
    spend = {
        r["user_id"]: r for r in contract_store.read_spend(end=T0 + timedelta(days=10)).to_pylist()
    }
    a, b = spend["a"], spend["b"]
    assert (a["orders"], a["gross"], a["refunded"], a["net"]) == (
        2,
        Decimal("150"),
        Decimal("50"),
        Decimal("100"),
    )
    assert (b["orders"], b["gross"], b["refunded"], b["net"]) == (
        1,
        Decimal("30"),
        Decimal("30"),
        Decimal("0"),
    )
    assert a["first_order_ts"] == T0 and a["last_order_ts"] == T0 + timedelta(days=1)
    assert contract_store.watermark() == T0 + timedelta(days=40)


def test_contract_upline_downline(contract_store: GraphStore) -> None:
    # a -> b -> c -> d, plus a later referral of c by x (ignored: the first referral wins)
    # and d -> a closing a cycle (a's own referrer is d, found at level 4 from d's side)
    contract_store.append_batch(
        {
            EventType.REFERRAL: table(
                EventType.REFERRAL,
                [
                    referral("1", "a", "b", 1),
                    referral("2", "b", "c", 2),
                    referral("3", "c", "d", 3),
                    referral("4", "x", "c", 4),
                    referral("5", "d", "a", 5),
                ],
            ),
            EventType.ORDER: table(
                EventType.ORDER, [order("o1", "c", "10.00"), order("o2", "d", "5.00")]
            ),
            EventType.REFUND: table(EventType.REFUND, [refund("r1", "o1", "4.00")]),
        }
    )
    up = contract_store.upline("d", levels=3).to_pylist()
    assert [(r["level"], r["user_id"]) for r in up] == [(1, "c"), (2, "b"), (3, "a")]
    assert up[0]["referred_at"] == T0 + timedelta(hours=3)
    # the walk stops at the cycle: d's upline never returns to d
    assert [r["user_id"] for r in contract_store.upline("d", levels=10).to_pylist()] == [
        "c",
        "b",
        "a",
    ]
    down = contract_store.downline("b", levels=3).to_pylist()
    # level 1: c (net 10 - 4 = 6), level 2: d (5), level 3: a (no orders)
    assert [(r["level"], r["users"], r["buyers"], r["gmv"]) for r in down] == [
        (1, 1, 1, Decimal("6")),
        (2, 1, 1, Decimal("5")),
        (3, 1, 0, Decimal("0")),
    ]
    assert contract_store.upline("nobody").num_rows == 0


def _scores(n: int) -> pa.Table:
    return pa.Table.from_pylist(
        [
            {
                "user_id": f"u{i}",
                "rank": i + 1,
                "score": 1 - i / 10,
                "role": "consumer",
                "community": 0,
            }
            for i in range(n)
        ],
        schema=SCORE_SCHEMA,
    )


def test_contract_runs(contract_store: GraphStore) -> None:
    r1 = RunRecord(
        run_id="r1",
        created_at=T0,
        status="succeeded",
        timings={"pagerank": 1.5},
        params={"alpha": 0.85},
    )
    r2 = RunRecord(run_id="r2", created_at=T0 + timedelta(days=1), status="failed", error="boom")
    contract_store.save_run(r1, _scores(5))
    contract_store.save_run(r2)
    got = contract_store.get_run("r1")
    assert (got.status, got.timings, got.params) == (
        "succeeded",
        {"pagerank": 1.5},
        {"alpha": 0.85},
    )
    assert contract_store.latest_run().run_id == "r1"
    assert contract_store.latest_run("failed").error == "boom"
    assert [r.run_id for r in contract_store.list_runs()] == ["r2", "r1"]
    assert contract_store.read_scores("r1").column("user_id").to_pylist() == [
        "u0",
        "u1",
        "u2",
        "u3",
        "u4",
    ]
    assert contract_store.read_scores("r1", limit=2).num_rows == 2
    assert contract_store.read_scores("r1", user_ids=["u3", "u1"]).column("rank").to_pylist() == [
        2,
        4,
    ]
    contract_store.save_run(r1, _scores(2))  # replacing the results
    assert contract_store.read_scores("r1").num_rows == 2
    with pytest.raises(NotFoundError):
        contract_store.get_run("nope")
    assert contract_store.latest_run("running") is None


# --- identity: order_id and event_id enforced inside the write transaction (issue 14) -------
def _order_row(eid: str, order_id: str, buyer: str, amount: str) -> dict:
    return {**order(eid, buyer, amount), "order_id": order_id}


def test_contract_order_id_unique_across_batches(contract_store: GraphStore) -> None:
    # H1: two writers, same order_id, different content: the first wins, the second is refused
    first = contract_store.append_batch(
        {EventType.ORDER: table(EventType.ORDER, [_order_row("e1", "o1", "u1", "10.00")])}
    )
    second = contract_store.append_batch(
        {EventType.ORDER: table(EventType.ORDER, [_order_row("e2", "o1", "u1", "9999.00")])}
    )
    assert first.by_type["order"].inserted == 1
    assert (second.by_type["order"].inserted, second.by_type["order"].conflicts) == (0, 1)
    [c] = second.conflicts.to_pylist()
    assert (c["event_type"], c["index"], c["field"], c["value"]) == ("order", 0, "order_id", "o1")
    assert "order_id" in c["reason"] and "conflict" in c["reason"]
    orders = contract_store.read_events(EventType.ORDER).to_pylist()
    assert [(o["order_id"], o["amount"]) for o in orders] == [("o1", Decimal("10.0000"))]
    assert contract_store.read_spend().column("gross").to_pylist() == [Decimal("10.0000")]


def test_contract_order_id_unique_within_batch(contract_store: GraphStore) -> None:
    rows = [
        _order_row("e1", "o1", "u1", "10.00"),
        _order_row("e2", "o1", "u1", "11.00"),  # same order, other content: refused
        _order_row("e1", "o1", "u1", "10.00"),  # exact repeat: a duplicate
        _order_row("e3", "o2", "u2", "5.00"),
    ]
    r = contract_store.append_batch({EventType.ORDER: table(EventType.ORDER, rows)})
    wr = r.by_type["order"]
    assert (wr.inserted, wr.duplicates, wr.conflicts) == (2, 1, 1)
    assert r.conflicts.column("index").to_pylist() == [1]
    got = sorted(
        (o["order_id"], o["amount"])
        for o in contract_store.read_events(EventType.ORDER).to_pylist()
    )
    assert got == [("o1", Decimal("10.0000")), ("o2", Decimal("5.0000"))]


def test_contract_event_id_reused_for_other_content(contract_store: GraphStore) -> None:
    # M3: a supplied event_id with different content is a conflict, never a silent duplicate
    contract_store.append_batch(
        {EventType.ORDER: table(EventType.ORDER, [_order_row("e1", "o1", "u1", "10.00")])}
    )
    r = contract_store.append_batch(
        {
            EventType.ORDER: table(EventType.ORDER, [_order_row("e1", "o9", "u1", "10.00")]),
            EventType.VIEW: table(EventType.VIEW, [view("v1", "a", "b"), view("v1", "a", "c")]),
        }
    )
    assert (r.by_type["order"].inserted, r.by_type["order"].conflicts) == (0, 1)
    assert (r.by_type["view"].inserted, r.by_type["view"].conflicts) == (1, 1)
    got = {(c["event_type"], c["index"], c["field"]) for c in r.conflicts.to_pylist()}
    assert got == {("order", 0, "event_id"), ("view", 1, "event_id")}
    assert [o["order_id"] for o in contract_store.read_events(EventType.ORDER).to_pylist()] == [
        "o1"
    ]
    assert [v["viewer"] for v in contract_store.read_events(EventType.VIEW).to_pylist()] == ["b"]
    again = contract_store.append_batch(
        {EventType.VIEW: table(EventType.VIEW, [view("v1", "a", "c")])}
    )
    assert again.by_type["view"].conflicts == 1  # against the stored copy, deterministically
    same = contract_store.append_batch(
        {EventType.VIEW: table(EventType.VIEW, [view("v1", "a", "b")])}
    )
    assert (same.by_type["view"].duplicates, same.by_type["view"].conflicts) == (1, 0)


# --- the relational side: store.tables ----------------------------------------------------


def test_contract_schema_current_after_open(contract_store: GraphStore) -> None:
    assert contract_store.schema_current()
    assert contract_store.schema_version() >= 1


def test_contract_tables_hold_api_keys(contract_store: GraphStore) -> None:
    from api.services.keys import create_key, ensure_schema, list_keys, revoke_key, verify_token
    from api.services.keys import schema_current as keys_current

    assert contract_store.tables.available
    ensure_schema(contract_store)
    assert keys_current(contract_store)
    key, token = create_key(contract_store, "contract", "read")
    found = verify_token(contract_store, token)
    assert found is not None and found.key_id == key.key_id and found.allows("read")
    assert verify_token(contract_store, token[:-2] + "xx") is None
    revoke_key(contract_store, key.key_id)
    assert verify_token(contract_store, token) is None
    assert [k.key_id for k in list_keys(contract_store)] == [key.key_id]


def test_contract_tables_hold_the_ledger(contract_store: GraphStore) -> None:
    from referral.ledger import Ledger

    ledger = Ledger.open(contract_store)
    assert ledger.closed_periods() == []
    view = contract_store.tables.cursor()  # another thread's private cursor, same tables
    try:
        assert view.path == contract_store.tables.path
        assert view.conn.execute("SELECT 42").fetchone() == (42,)
    finally:
        view.close()
