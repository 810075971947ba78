"""The Neo4j store: pure row shaping and conversions (no server), plus live tests.

Tests marked ``neo4j`` need a server and skip with a visible reason unless
``KOC_NEO4J_URI`` is set (see docs/neo4j.md: ``docker compose up -d neo4j``).
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pytest
from neo4j import Record

from graph import cypher
from graph.errors import ConfigError, StoreError
from graph.events import EDGE_TYPE_CODES, INFLUENCE_DIRECTION, EventType
from graph.neo4j_explain import find_eager
from graph.neo4j_rows import (
    dedupe_first,
    edge_columns_to_arrays,
    iter_row_batches,
    records_to_table,
    shape_rows,
    ts_parts,
)
from graph.neo4j_store import Neo4jStore, check_neo4j_uri
from graph.settings import Settings
from graph.store import ARROW_SCHEMAS, COMPONENT_SCHEMA, SCORE_SCHEMA, RunRecord

T0 = datetime(2024, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def _table(event_type: EventType, rows: list[dict]) -> pa.Table:
    schema = ARROW_SCHEMAS[event_type]
    return pa.Table.from_pylist(
        [{name: r.get(name) for name in schema.names} for r in rows], schema=schema
    )


# --- money and time ---------------------------------------------------------------------


def test_ts_parts_floor_division_and_nulls() -> None:
    ts = pa.array([T0, None, datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)])
    seconds, nanos = ts_parts(ts.cast(pa.timestamp("us", tz="UTC")))
    assert seconds.to_pylist() == [int(T0.timestamp()), None, -1]
    assert nanos.to_pylist() == [123_456_000, None, 999_999_000]


# --- shaping Arrow batches into parameter rows -------------------------------------------


def _row_keys(stmt: cypher.Statement) -> set[str]:
    return set(re.findall(r"\br\.(\w+)", stmt.text))


@pytest.mark.parametrize("event_type", list(cypher.LOAD_EDGES))
def test_shape_rows_edges_follow_influence_direction(event_type: EventType) -> None:
    influencer, influenced = INFLUENCE_DIRECTION[event_type]
    row = {"event_id": "e1", influencer: "alice", influenced: "bob", "ts": T0}
    row.update({"content_id": "c1", "channel": "wechat", "campaign": "spring"})
    shaped = shape_rows(event_type, _table(event_type, [row])).to_pylist()[0]
    assert (shaped["src"], shaped["dst"]) == ("alice", "bob")
    assert (shaped["ts_s"], shaped["ts_ns"]) == (int(T0.timestamp()), 123_456_000)
    # every r.<key> the load statement reads is present in the parameter rows
    assert _row_keys(cypher.LOAD_EDGES[event_type]) <= set(shaped)


@pytest.mark.parametrize(
    ("event_type", "stmt"),
    [
        (EventType.USER, cypher.UPSERT_USERS),
        (EventType.SHARE, cypher.LOAD_SHARES),
        (EventType.ORDER, cypher.LOAD_ORDERS),
        (EventType.REFUND, cypher.LOAD_REFUNDS),
    ],
)
def test_shape_rows_cover_load_statement(event_type: EventType, stmt: cypher.Statement) -> None:
    shaped = shape_rows(event_type, _table(event_type, [])).column_names
    assert _row_keys(stmt) <= set(shaped)
    # the statement's declared example row has exactly the keys it reads
    assert _row_keys(stmt) == set(stmt.params["rows"][0])


def _return_aliases(stmt: cypher.Statement) -> list[str]:
    return re.findall(r"\bAS `?(\w+)`?", re.split(r"(?:^|\s)RETURN\s", stmt.text)[-1])


def _row_list_names(stmt: cypher.Statement) -> list[str]:
    """The names inside ``RETURN collect([a, b, ...]) AS rows`` of a columnar read."""
    inner = re.search(r"RETURN collect\(\[([^\]]*)\]\) AS rows$", stmt.text)
    assert inner is not None, stmt.text
    return [name.strip() for name in inner.group(1).split(",")]


@pytest.mark.parametrize("event_type", list(EventType))
def test_read_statements_return_schema_columns_in_order(event_type: EventType) -> None:
    # rows are converted by position, so the row lists' order must equal the Arrow schema
    assert _row_list_names(cypher.READ_EVENTS[event_type]) == ARROW_SCHEMAS[event_type].names
    if event_type in cypher.LOOKUP_EVENTS:
        lookup = cypher.LOOKUP_EVENTS[event_type]
        assert _return_aliases(lookup) == ARROW_SCHEMAS[event_type].names


def test_other_read_statements_match_their_schemas() -> None:
    from graph.neo4j_store import _REJECTS_OUT, SPEND_SCHEMA
    from graph.store import COMPONENT_SCHEMA, SCORE_SCHEMA

    assert _row_list_names(cypher.READ_SPEND) == SPEND_SCHEMA.names
    assert _return_aliases(cypher.READ_REJECTS) == _REJECTS_OUT.names
    assert _return_aliases(cypher.READ_SCORES) == SCORE_SCHEMA.names
    assert _return_aliases(cypher.READ_COMPONENTS) == COMPONENT_SCHEMA.names
    assert _return_aliases(cypher.READ_EDGES[EventType.VIEW]) == ["src", "dst", "ts"]
    counts = set(_return_aliases(cypher.COUNTS))
    assert counts == {t.value for t in EventType} | {"users", "rejects"}


def test_shape_rows_money_exact_and_role_default() -> None:
    order = {"event_id": "o", "order_id": "1", "buyer": "b", "currency": "CNY", "ts": T0}
    shaped = shape_rows(
        EventType.ORDER, _table(EventType.ORDER, [{**order, "amount": Decimal("19.99")}])
    ).to_pylist()[0]
    assert (shaped["src"], shaped["amount"], shaped["amount_e4"]) == ("b", "19.9900", 199900)
    users = shape_rows(EventType.USER, _table(EventType.USER, [{"event_id": "u", "user_id": "x"}]))
    assert users.to_pylist()[0]["role"] == "unknown"
    assert users.to_pylist()[0]["created_s"] is None


def test_iter_row_batches_sizes_and_content() -> None:
    table = pa.table({"event_id": [f"e{i}" for i in range(25)], "n": list(range(25))})
    batches = list(iter_row_batches(table, 10))
    assert [len(b) for b in batches] == [10, 10, 5]
    assert [r for b in batches for r in b] == table.to_pylist()
    assert list(iter_row_batches(table.slice(0, 0), 10)) == []
    with pytest.raises(StoreError, match="at least 1"):
        list(iter_row_batches(table, 0))


def test_dedupe_first_keeps_first_in_order() -> None:
    table = pa.table({"event_id": ["b", "a", "b", "c", "a"], "n": [0, 1, 2, 3, 4]})
    assert dedupe_first(table, "event_id").column("n").to_pylist() == [0, 1, 3]


# --- streamed records -> arrays --------------------------------------------------------------


def _records(keys: list[str], rows: list[tuple]) -> list[Record]:
    return [Record(dict(zip(keys, row, strict=True))) for row in rows]


def test_edge_columns_to_arrays_dtypes() -> None:
    src, dst, ts = edge_columns_to_arrays([[0, 2], [1, 0], [10, -5]])
    assert (src.dtype, dst.dtype, ts.dtype) == (np.int32, np.int32, np.int64)
    assert src.tolist() == [0, 2] and dst.tolist() == [1, 0] and ts.tolist() == [10, -5]
    assert [a.size for a in edge_columns_to_arrays([[], [], []])] == [0, 0, 0]
    with pytest.raises(StoreError, match="3 equally long columns"):
        edge_columns_to_arrays([[0], [1]])
    with pytest.raises(StoreError, match="3 equally long columns"):
        edge_columns_to_arrays([[0], [1], []])


def test_records_to_table_converts_time_and_money() -> None:
    schema = ARROW_SCHEMAS[EventType.REFUND]
    us = int(T0.timestamp()) * 1_000_000 + T0.microsecond
    keys = schema.names
    chunks = [
        _records(keys, [("e1", None, "o1", 12345, us)]),
        [],
        _records(keys, [("e2", "r2", "o1", None, us + 1)]),
    ]
    table = records_to_table(chunks, schema, money=["amount"])
    assert table.schema == schema
    assert table.to_pylist()[0] == {
        "event_id": "e1",
        "refund_id": None,
        "order_id": "o1",
        "amount": Decimal("1.2345"),
        "ts": T0,
    }
    assert table.column("amount").null_count == 1
    assert records_to_table([], schema).num_rows == 0


class _FakeResult:
    def __init__(self, records: list[Record]) -> None:
        self._records = records

    def fetch(self, n: int) -> list[Record]:
        out, self._records = self._records[:n], self._records[n:]
        return out

    def single(self) -> Record | None:
        return self._records[0] if self._records else None


class _FakeSession:
    """A record source standing in for a server: statement text -> records."""

    def __init__(self, answers: dict[str, list[Record]]) -> None:
        self.answers = answers

    def __enter__(self) -> _FakeSession:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def run(self, text: str, params: dict | None = None) -> _FakeResult:
        answer = self.answers.get(text, [])
        if callable(answer):  # a columnar read: answered per user-index range
            return _FakeResult(answer(params or {}))
        return _FakeResult(list(answer))

    def execute_read(self, work):  # noqa: ANN001, ANN201
        return work(self)


class _FakeDriver:
    def __init__(self, answers: dict[str, list[Record]]) -> None:
        self.answers = answers

    def verify_connectivity(self) -> None:
        pass

    def session(self, **config: object) -> _FakeSession:
        return _FakeSession(self.answers)

    def close(self) -> None:
        pass


def _columnar(keys: list[str], rows: list[tuple]):  # noqa: ANN202
    """Answer a columnar read as a server would: the rows whose first field is in [lo, hi)."""

    def answer(params: dict) -> list[Record]:
        inside = [r for r in rows if params["lo"] <= r[0] < params["hi"]]
        return [Record({k: [r[i] for r in inside] for i, k in enumerate(keys)})]

    return answer


def test_read_edges_assembles_index_ranges() -> None:
    edge_keys = ["src", "dst", "ts"]
    answers = {
        cypher.META_READ.text: _records(
            ["next_idx", "schema_version"], [(3, cypher.SCHEMA_VERSION)]
        ),
        cypher.NODE_IDS.text: _columnar(["idx", "user_id"], [(2, "c"), (0, "a"), (1, "b")]),
        cypher.READ_EDGES[EventType.VIEW].text: _columnar(
            edge_keys, [(0, 1, 5), (0, 2, 6), (1, 2, 7)]
        ),
        cypher.READ_EDGES[EventType.REFERRAL].text: _columnar(edge_keys, [(2, 0, 9)]),
    }
    store = Neo4jStore(_FakeDriver(answers), range_users=2)  # ranges [0, 2) and [2, 4)
    edges = store.read_edges([EventType.REFERRAL, EventType.VIEW, EventType.COMMENT])
    assert edges.node_ids.tolist() == ["a", "b", "c"]
    assert edges.src.tolist() == [0, 0, 1, 2] and edges.dst.tolist() == [1, 2, 2, 0]
    view, referral = EDGE_TYPE_CODES[EventType.VIEW], EDGE_TYPE_CODES[EventType.REFERRAL]
    assert edges.etype.tolist() == [view, view, view, referral]
    assert edges.ts.tolist() == [5, 6, 7, 9]
    assert (edges.src.dtype, edges.etype.dtype) == (np.int32, np.int8)


def test_revision_reads_the_meta_counter() -> None:
    answers = {
        cypher.META_READ.text: _records(
            ["next_idx", "schema_version"], [(0, cypher.SCHEMA_VERSION)]
        ),
        cypher.META_REVISION.text: _records(["revision"], [(7,)]),
    }
    assert Neo4jStore(_FakeDriver(answers)).revision() == 7
    assert "m.revision = coalesce(m.revision, 0) + 1" in cypher.META_LOCK.text


# --- the write path, against a recording stand-in for the server ---------------------------


def _views(pairs: list[tuple[str, str, str]]) -> pa.Table:
    return _table(
        EventType.VIEW,
        [
            {"event_id": e, "sharer": s, "viewer": v, "content_id": "c", "ts": T0}
            for e, s, v in pairs
        ],
    )


def test_append_batch_assigns_dense_indexes_in_user_id_order() -> None:
    from tests.graph.neo4j_fake import RecordingNeo4j

    server = RecordingNeo4j()
    store = Neo4jStore(server)
    store.append_batch({EventType.VIEW: _views([("v1", "zoe", "bob"), ("v2", "zoe", "amy")])})
    store.append_batch({EventType.VIEW: _views([("v3", "amy", "carl"), ("v4", "amy", "bob")])})
    created = [r for call in server.calls("create_users") for r in call["rows"]]
    assert created == [
        {"user_id": "amy", "idx": 0},
        {"user_id": "bob", "idx": 1},
        {"user_id": "zoe", "idx": 2},
        {"user_id": "carl", "idx": 3},
    ]
    assert [c["next_idx"] for c in server.calls("meta_set_next_idx")] == [3, 4]
    assert server.counts()["meta_lock"] == 2  # one transaction per append_batch


def test_append_batch_dedupes_and_chunks_statements() -> None:
    from tests.graph.neo4j_fake import RecordingNeo4j

    server = RecordingNeo4j()
    store = Neo4jStore(server, batch_size=2)
    pairs = [
        ("v1", "a", "b"),
        ("v2", "a", "c"),
        ("v1", "a", "b"),
        ("v3", "b", "c"),
        ("v4", "c", "a"),
    ]
    first = store.append_batch({EventType.VIEW: _views(pairs)})
    sent = server.calls("load_view")
    assert [len(c["rows"]) for c in sent] == [2, 2]  # 4 distinct events in statements of 2
    assert [r["event_id"] for c in sent for r in c["rows"]] == ["v1", "v2", "v3", "v4"]
    assert (first.inserted, first.duplicates) == (4, 1)
    second = store.append_batch({EventType.VIEW: _views(pairs)})
    assert (second.inserted, second.duplicates) == (0, 5)
    assert server.counts()["meta_set_next_idx"] == 1  # no new users the second time


def test_append_batch_upserts_only_changed_users() -> None:
    from tests.graph.neo4j_fake import RecordingNeo4j

    server = RecordingNeo4j()
    store = Neo4jStore(server)
    users = [{"event_id": "u-a", "user_id": "a"}, {"event_id": "u-b", "user_id": "b"}]
    first = store.append_batch({EventType.USER: _table(EventType.USER, users)})
    users[1]["event_id"] = "u-b2"  # b changed, a did not
    second = store.append_batch({EventType.USER: _table(EventType.USER, users)})
    assert (first.inserted, second.inserted, second.duplicates) == (2, 1, 1)
    assert [r["user_id"] for r in server.calls("upsert_users")[-1]["rows"]] == ["b"]


def test_append_batch_rejects_and_node_records() -> None:
    from tests.graph.neo4j_fake import RecordingNeo4j

    server = RecordingNeo4j()
    store = Neo4jStore(server)
    batch = _demo_batch()
    result = store.append_batch({t: batch[t] for t in (EventType.ORDER, EventType.REFUND)})
    assert result.by_type["order"].inserted == 1 and result.by_type["refund"].inserted == 1
    [order_rows] = [c["rows"] for c in server.calls("load_order")]
    assert order_rows[0]["src"] == "c" and order_rows[0]["amount_e4"] == 100_000
    assert [r["user_id"] for c in server.calls("create_users") for r in c["rows"]] == ["c"]


def test_upline_downline_walk_first_referrals_and_stop_at_cycles() -> None:
    from tests.graph.neo4j_fake import RecordingNeo4j

    # a -> b -> c -> d, a later referral of c by x (ignored), d -> a closing a cycle
    server = RecordingNeo4j()
    names = ["a", "b", "c", "d", "x"]
    server.users = {n: {"idx": i, "event_id": None} for i, n in enumerate(names)}
    a, b, c, d, x = range(5)
    server.referrals = [
        (a, b, 1, "1"),
        (b, c, 2, "2"),
        (c, d, 3, "3"),
        (x, c, 4, "4"),
        (d, a, 5, "5"),
    ]
    server.net = {c: 60_000, d: 50_000}  # 10 - 4 and 5, in 1/10,000 units
    store = Neo4jStore(server)
    up = store.upline("d", levels=10).to_pylist()
    assert [(r["level"], r["user_id"]) for r in up] == [(1, "c"), (2, "b"), (3, "a")]
    assert up[0]["referred_at"] == datetime(1970, 1, 1, 0, 0, 0, 3, tzinfo=UTC)
    assert store.upline("d", levels=2).num_rows == 2
    down = store.downline("b", levels=5).to_pylist()
    assert [(r["level"], r["users"], r["buyers"], r["gmv"]) for r in down] == [
        (1, 1, 1, Decimal("6")),
        (2, 1, 1, Decimal("5")),
        (3, 1, 0, Decimal("0")),
    ]
    assert store.upline("nobody").num_rows == 0 and store.downline("nobody").num_rows == 0


def test_save_run_replaces_results_and_writes_back_scores() -> None:
    from graph.store import COMPONENT_SCHEMA, SCORE_SCHEMA, RunRecord
    from tests.graph.neo4j_fake import RecordingNeo4j

    server = RecordingNeo4j()
    store = Neo4jStore(server, batch_size=2)
    run = RunRecord("r1", T0, status="succeeded", timings={"pagerank": 1.5})
    scores = pa.Table.from_pylist(
        [
            {"user_id": u, "rank": i + 1, "score": 1.0 - i / 10, "role": "kol", "community": 0}
            for i, u in enumerate("abc")
        ],
        SCORE_SCHEMA,
    )
    comps = pa.Table.from_pylist(
        [
            {
                "user_id": "b",
                "component": "pagerank",
                "raw": 0.25,
                "normalized": 1.0,
                "contribution": 0.5,
            }
        ],
        COMPONENT_SCHEMA,
    )
    store.save_run(run, scores, comps)
    staged, saved = server.calls("save_run")  # "running" while results go in, then the status
    assert staged["status"] == "running" and saved["status"] == "succeeded"
    assert saved["run_id"] == "r1" and saved["timings"] == '{"pagerank": 1.5}'
    assert [len(c["rows"]) for c in server.calls("write_run_scores")] == [2, 1]
    assert server.transactions >= 2 + 2 + 1  # a transaction per batch of results, not one
    assert server.counts()["delete_run_scores"] == 1  # asked once, nothing left to delete
    written = {r["user_id"]: r for c in server.calls("write_user_scores") for r in c["rows"]}
    assert written["b"]["pagerank"] == 0.25 and written["a"]["pagerank"] is None
    assert written["c"]["rank"] == 3 and written["c"]["reach"] is None
    failed = RunRecord("r2", T0, status="failed")
    store.save_run(failed, scores)
    assert len(server.calls("write_user_scores")) == 2  # no write-back for a failed run


def test_runs_read_back_as_run_records() -> None:
    from neo4j.time import DateTime

    from graph.errors import NotFoundError
    from tests.graph.neo4j_fake import RecordingNeo4j

    server = RecordingNeo4j()
    row = {
        "run_id": "r1",
        "created_at": DateTime(2024, 3, 1, 12, 0, 0, 123456000, tzinfo=UTC),
        "status": "succeeded",
        "config_hash": "h",
        "window_start": None,
        "window_end": None,
        "watermark": None,
        "timings": '{"pagerank": 1.5}',
        "row_counts": "{}",
        "params": '{"alpha": 0.85}',
        "error": None,
    }
    server.answers = {"get_run": [row], "latest_run": []}
    store = Neo4jStore(server)
    got = store.get_run("r1")
    assert (got.created_at, got.timings, got.params) == (T0, {"pagerank": 1.5}, {"alpha": 0.85})
    assert store.latest_run() is None
    server.answers["get_run"] = []
    with pytest.raises(NotFoundError):
        store.get_run("nope")


# --- plans, settings and errors ------------------------------------------------------------


def test_find_eager_reports_only_eager_operators() -> None:
    plan = {
        "operatorType": "ProduceResults@neo4j",
        "children": [
            {
                "operatorType": "EagerAggregation@neo4j",
                "children": [
                    {"operatorType": "Eager@neo4j", "args": {"Details": "read/set conflict"}},
                    {"operatorType": "NodeUniqueIndexSeek@neo4j", "children": []},
                ],
            }
        ],
    }
    assert find_eager(plan) == ["Eager read/set conflict"]
    assert find_eager({"operatorType": "Merge@neo4j", "children": []}) == []
    assert find_eager(None) == []


@pytest.mark.parametrize(
    "uri", ["neo4j://localhost:7687", "bolt://db.example.com", "neo4j+s://x.databases.neo4j.io"]
)
def test_check_neo4j_uri_accepts_bolt_uris(uri: str) -> None:
    assert check_neo4j_uri(uri) == uri


@pytest.mark.parametrize("uri", [None, "", "http://localhost:7474", "localhost:7687", "neo4j://"])
def test_check_neo4j_uri_rejects_others(uri: str | None) -> None:
    with pytest.raises(ConfigError) as info:
        check_neo4j_uri(uri)
    assert info.value.context["key"] == "neo4j_uri"


def test_from_settings_unreachable_server_names_uri() -> None:
    settings = Settings(store="neo4j", neo4j_uri="bolt://127.0.0.1:9")
    with pytest.raises(StoreError, match=r"Cannot reach Neo4j at bolt://127\.0\.0\.1:9"):
        Neo4jStore.from_settings(settings)


def test_store_rejects_bad_batch_size() -> None:
    with pytest.raises(ConfigError, match="neo4j_batch_size"):
        Neo4jStore(_FakeDriver({}), batch_size=0)


# --- live server ---------------------------------------------------------------------------

LIVE_URI = os.environ.get("KOC_NEO4J_URI")
live = pytest.mark.skipif(
    not LIVE_URI, reason="needs a live Neo4j 5 server: set KOC_NEO4J_URI (docs/neo4j.md)"
)


@pytest.fixture
def neo4j_store():
    """A Neo4j store on the server named by KOC_NEO4J_URI, wiped before and after."""
    if not LIVE_URI:
        pytest.skip("needs a live Neo4j 5 server: set KOC_NEO4J_URI (docs/neo4j.md)")
    store = Neo4jStore.from_settings(
        Settings(store="neo4j", neo4j_uri=LIVE_URI, neo4j_batch_size=3)
    )
    store.wipe()
    yield store
    store.wipe()
    store.close()


def _demo_batch() -> dict[EventType, pa.Table]:
    users = [
        {"event_id": "u-a", "user_id": "a", "role": "kol"},
        {"event_id": "u-b", "user_id": "b"},
    ]
    views = [
        {"event_id": f"v{i}", "viewer": v, "sharer": "a", "content_id": "c", "ts": T0}
        for i, v in enumerate(["b", "c", "d", "e"])
    ]
    refs = [
        {"event_id": "r1", "referrer": "a", "referee": "b", "ts": T0},
        {"event_id": "r2", "referrer": "b", "referee": "c", "ts": T0},
    ]
    orders = [
        {
            "event_id": "o1",
            "order_id": "1",
            "buyer": "c",
            "amount": Decimal("10"),
            "currency": "CNY",
            "ts": T0,
        }
    ]
    refunds = [{"event_id": "f1", "order_id": "1", "amount": Decimal("2.5"), "ts": T0}]
    return {
        EventType.USER: _table(EventType.USER, users),
        EventType.VIEW: _table(EventType.VIEW, views),
        EventType.REFERRAL: _table(EventType.REFERRAL, refs),
        EventType.ORDER: _table(EventType.ORDER, orders),
        EventType.REFUND: _table(EventType.REFUND, refunds),
    }


@pytest.mark.neo4j
@live
def test_live_load_twice_changes_nothing(neo4j_store: Neo4jStore) -> None:
    first = neo4j_store.append_batch(_demo_batch())
    counts = neo4j_store.counts()
    second = neo4j_store.append_batch(_demo_batch())
    assert first.by_type["view"].inserted == 4
    assert second.by_type["view"].duplicates == 4 and second.inserted == 0
    assert neo4j_store.counts() == counts
    assert counts["users"] == 5 and counts["view"] == 4


@pytest.mark.neo4j
@live
def test_live_matches_embedded_store(neo4j_store: Neo4jStore, store) -> None:  # noqa: ANN001
    for s in (neo4j_store, store):
        s.append_batch(_demo_batch())
    for event_type in (EventType.VIEW, EventType.REFERRAL, EventType.ORDER, EventType.REFUND):
        assert neo4j_store.read_events(event_type).equals(store.read_events(event_type))
    mine, ref = neo4j_store.read_edges(), store.read_edges()
    pairs = lambda e: sorted(zip(e.node_ids[e.src], e.node_ids[e.dst], strict=True))  # noqa: E731
    assert pairs(mine) == pairs(ref)
    assert neo4j_store.read_spend().to_pylist() == store.read_spend().to_pylist()
    assert neo4j_store.downline("a").to_pylist() == store.downline("a").to_pylist()
    assert neo4j_store.upline("c").to_pylist() == store.upline("c").to_pylist()
    assert neo4j_store.watermark() == store.watermark()


@pytest.mark.neo4j
@live
def test_live_run_saved_in_batches_previous_run_served_until_complete(
    neo4j_store: Neo4jStore,
) -> None:
    neo4j_store.append_batch(_demo_batch())  # users a..e; batch size 3: several transactions

    def scores(order: str) -> pa.Table:
        rows = [
            {"user_id": u, "rank": i + 1, "score": 1.0 - i / 10, "role": "consumer", "community": 0}
            for i, u in enumerate(order)
        ]
        return pa.Table.from_pylist(rows, SCORE_SCHEMA)

    comps = pa.Table.from_pylist(
        [
            {"user_id": u, "component": c, "raw": raw, "normalized": 0.5, "contribution": 0.1}
            for u, raw in (("a", 2.0), ("e", 7.0))
            for c in ("pagerank", "reach")
        ],
        COMPONENT_SCHEMA,
    )
    neo4j_store.save_run(RunRecord("r1", T0, status="succeeded"), scores("abcde"), comps)
    assert neo4j_store.latest_run().run_id == "r1"
    # koc rank's flow: results while "running", then the status alone
    r2 = RunRecord("r2", T0 + timedelta(hours=1), status="running")
    neo4j_store.save_run(r2, scores("edcba"), comps)
    assert neo4j_store.latest_run().run_id == "r1"  # the new run is not served yet
    assert neo4j_store.read_scores("r2").num_rows == 5
    r2.status = "succeeded"
    neo4j_store.save_run(r2)  # written back from the stored results on the server
    assert neo4j_store.latest_run().run_id == "r2"
    with neo4j_store._session() as session:
        users = {
            r["id"]: r
            for r in session.run(
                "MATCH (u:User) RETURN u.user_id AS id, u.koc_run_id AS run, "
                "u.koc_rank AS rank, u.koc_reach AS reach"
            )
        }
    assert {u: (r["run"], r["rank"]) for u, r in users.items()} == {
        u: ("r2", i + 1) for i, u in enumerate("edcba")
    }
    assert users["e"]["reach"] == 7.0 and users["b"]["reach"] is None


@live
def test_live_runs_in_tables_file_copy_old_nodes_and_write_no_result_nodes(
    neo4j_store: Neo4jStore, tmp_path
) -> None:
    neo4j_store.append_batch(_demo_batch())
    scores = pa.Table.from_pylist(
        [
            {"user_id": u, "rank": i + 1, "score": 1.0 - i / 10, "role": "consumer", "community": 0}
            for i, u in enumerate("abcde")
        ],
        SCORE_SCHEMA,
    )
    comps = pa.Table.from_pylist(
        [
            {"user_id": u, "component": c, "raw": raw, "normalized": 0.5, "contribution": 0.1}
            for u, raw in (("a", 2.0), ("e", 7.0))
            for c in ("pagerank", "reach")
        ],
        COMPONENT_SCHEMA,
    )
    # an older KOC Graph (or no tables file): the run is Run/Score/Component nodes
    neo4j_store.save_run(RunRecord("r1", T0, status="succeeded"), scores, comps)

    def result_nodes(run_id: str) -> int:
        with neo4j_store._session() as session:
            return session.run(
                "MATCH (n) WHERE (n:Score OR n:Component) AND n.run_id = $r RETURN count(n) AS n",
                r=run_id,
            ).single()["n"]

    assert result_nodes("r1") == 9
    settings = Settings(
        store="neo4j", neo4j_uri=LIVE_URI, neo4j_batch_size=3, ledger_path=tmp_path / "t.duckdb"
    )
    with Neo4jStore.from_settings(settings) as tabled:
        assert [r.run_id for r in tabled.list_runs()] == ["r1"]  # copied on first use
        assert tabled.read_scores("r1").equals(scores)
        assert tabled.read_components("r1").equals(
            comps.sort_by([("user_id", "ascending"), ("component", "ascending")])
        )
        r2 = RunRecord("r2", T0 + timedelta(hours=1), status="running")
        tabled.save_run(
            r2,
            scores.take([4, 3, 2, 1, 0]).set_column(
                1, "rank", pa.array([1, 2, 3, 4, 5], pa.int32())
            ),
            comps,
        )
        assert tabled.latest_run().run_id == "r1"  # the new run is not served yet
        r2.status = "succeeded"
        tabled.save_run(r2)  # written back onto the users from the tables
        assert tabled.latest_run().run_id == "r2"
        assert result_nodes("r2") == 0  # results live in the tables file, not on the server
        with neo4j_store._session() as session:
            users = {
                r["id"]: (r["run"], r["rank"], r["reach"])
                for r in session.run(
                    "MATCH (u:User) RETURN u.user_id AS id, u.koc_run_id AS run, "
                    "u.koc_rank AS rank, u.koc_reach AS reach"
                )
            }
        assert users["e"] == ("r2", 1, 7.0) and users["a"] == ("r2", 5, 2.0)
    with Neo4jStore.from_settings(settings, read_only=True) as again:
        assert [r.run_id for r in again.list_runs()] == ["r2", "r1"]


def test_append_batch_out_of_transaction_memory_is_not_retried_and_names_the_setting() -> None:
    from neo4j.exceptions import Neo4jError

    from tests.graph.neo4j_fake import RecordingNeo4j

    server = RecordingNeo4j()
    oom = Neo4jError._hydrate_neo4j(
        code="Neo.TransientError.General.MemoryPoolOutOfMemoryError",
        message="The allocation of an extra 2.0 MiB would use more than the limit 1.0 GiB.",
    )
    assert oom.is_retryable()  # what the server says, and why the driver would retry it
    server.fail_with["load_view"] = oom
    store = Neo4jStore(server, batch_size=2, uri="bolt://test:7687")
    views = [
        {"event_id": f"v{i}", "viewer": f"u{i}", "sharer": "s", "content_id": "c", "ts": T0}
        for i in range(5)
    ]
    before = server.transactions
    with pytest.raises(StoreError, match="KOC_INGEST_BATCH_ROWS") as caught:
        store.append_batch({EventType.VIEW: _table(EventType.VIEW, views)})
    assert server.transactions - before == 1  # one attempt: the same batch would fail again
    assert "MemoryPoolOutOfMemoryError" in caught.value.message


@pytest.mark.neo4j
@live
def test_live_reads_of_a_fresh_database_log_no_server_notifications(
    neo4j_store: Neo4jStore, caplog: pytest.LogCaptureFixture
) -> None:
    # a fresh database has none of the property keys most reads mention (koc_*, campaign...)
    caplog.set_level("DEBUG", logger="neo4j.notifications")
    neo4j_store.counts()
    neo4j_store.watermark()
    neo4j_store.latest_run()
    neo4j_store.read_scores("nope", limit=5)
    neo4j_store.read_components("nope")
    neo4j_store.read_spend()
    neo4j_store.read_edges()
    for event_type in EventType:
        neo4j_store.read_events(event_type)
    neo4j_store.append_batch(_demo_batch())
    neo4j_store.upline("c")
    neo4j_store.downline("a")
    assert [r.getMessage() for r in caplog.records if r.name.startswith("neo4j.notif")] == []


@pytest.mark.neo4j
@live
def test_live_load_plans_have_no_eager(neo4j_store: Neo4jStore) -> None:
    from graph.neo4j_explain import explain_load_queries

    report = explain_load_queries(neo4j_store._driver, neo4j_store.database)
    assert set(report) == {s.name for s in cypher.LOAD_STATEMENTS}
    assert {k: v for k, v in report.items() if v} == {}


# --- bulk export for neo4j-admin ----------------------------------------------------------

#: neo4j-admin CSV header field: [name][:ID(space)|:START_ID(space)|:END_ID(space)|:type]
_HEADER_FIELD = re.compile(
    r"^(?:\w+)?(?::(?:ID|START_ID|END_ID)(?:\((\w+)\))?)$"
    r"|^\w+(?::(?:int|long|float|double|boolean|byte|short|char|string|date|localtime|time"
    r"|localdatetime|datetime|duration|point)(?:\[\])?)?$"
)
_ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def _read_export_csv(path) -> list[list[str]]:  # noqa: ANN001
    import csv
    import gzip

    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", newline="") as f:
        return list(csv.reader(f))


@pytest.fixture
def exported(store, tmp_path):  # noqa: ANN001, ANN201
    from graph.neo4j_export import export_neo4j_import

    batch = _demo_batch()
    tricky = {"event_id": "u-x", "user_id": "x", "display_name": 'Li, "Ann"\nB', "role": "consumer"}
    batch[EventType.USER] = pa.concat_tables(
        [batch[EventType.USER], _table(EventType.USER, [tricky])]
    )
    store.append_batch(batch)
    return export_neo4j_import(store, tmp_path / "import", database="graph")


def test_export_headers_follow_neo4j_admin_syntax(exported) -> None:  # noqa: ANN001
    from graph.neo4j_export import IMPORT_FILES

    id_spaces = set()
    for f in IMPORT_FILES:
        header = (exported.directory / f"{f.name}.header.csv").read_text().strip().split(",")
        assert header == list(f.header)
        assert all(_HEADER_FIELD.match(h) for h in header), header
        if f.kind == "nodes":
            ids = [h for h in header if ":ID(" in h]
            assert len(ids) == 1 and ids[0].endswith(f"({f.label})")
            id_spaces.add(f.label)
    for f in IMPORT_FILES:
        if f.kind == "relationships":
            spaces = re.findall(r":(?:START|END)_ID\((\w+)\)", ",".join(f.header))
            assert len(spaces) == 2 and set(spaces) <= id_spaces


def test_export_data_files_match_headers(exported) -> None:  # noqa: ANN001
    from graph.neo4j_export import IMPORT_FILES

    for f in IMPORT_FILES:
        rows = _read_export_csv(exported.directory / f"{f.name}.csv")
        assert len(rows) == exported.rows[f.name]
        assert all(len(r) == len(f.header) for r in rows), f.name
        for i, h in enumerate(f.header):
            if h.endswith(":datetime"):
                assert all(_ISO_UTC.match(r[i]) for r in rows if r[i]), (f.name, h)
    users = {r[0]: r for r in _read_export_csv(exported.directory / "users.csv")}
    assert users["a"][1:4] == ["0", "true", "kol"]
    assert users["c"][2:4] == ["false", "unknown"]  # created by reference only
    assert users["x"][4] == 'Li, "Ann"\nB'  # quoting survives commas, quotes, newlines
    viewed = _read_export_csv(exported.directory / "viewed.csv")
    assert sorted((r[0], r[1]) for r in viewed) == [("a", v) for v in "bcde"]  # sharer -> viewer
    assert _read_export_csv(exported.directory / "orders.csv")[0][1:4] == ["1", "10.0000", "100000"]
    assert _read_export_csv(exported.directory / "meta.csv") == [["graph", "6", "0"]]


def test_export_command_names_every_file(exported) -> None:  # noqa: ANN001
    from graph.neo4j_export import IMPORT_FILES

    cmd = exported.command
    assert cmd.startswith("neo4j-admin database import full graph ")
    for f in IMPORT_FILES:
        header = exported.directory / f"{f.name}.header.csv"
        assert f"--{f.kind}={f.label}={header},{exported.directory / f.name}.csv" in cmd
    # the display name 'Li, "Ann"\nB' holds a line break: the importer must allow it
    assert exported.multiline and "--multiline-fields=true" in cmd


def test_export_without_line_breaks_parses_single_line(store, tmp_path) -> None:  # noqa: ANN001
    from graph.neo4j_export import export_neo4j_import

    store.append_batch(_demo_batch())
    plan = export_neo4j_import(store, tmp_path / "import")
    assert not plan.multiline and "--multiline-fields=false" in plan.command
    assert _read_export_csv(plan.directory / "meta.csv") == [["graph", "5", "0"]]


def test_export_gzip_writes_csv_gz(store, tmp_path) -> None:  # noqa: ANN001
    from graph.neo4j_export import IMPORT_FILES, export_neo4j_import

    store.append_batch(_demo_batch())
    plan = export_neo4j_import(store, tmp_path / "import", compress=True)
    plain = export_neo4j_import(store, tmp_path / "plain")
    for f in IMPORT_FILES:
        rows = _read_export_csv(plan.directory / f"{f.name}.csv.gz")
        assert sorted(rows) == sorted(_read_export_csv(plain.directory / f"{f.name}.csv"))
        assert f"{plan.directory / f.name}.csv.gz" in plan.command
    assert "--multiline-fields=true" in plan.command  # not checked inside gzip files


def test_cli_export_neo4j_import_json(exported, store, tmp_path, capsys) -> None:  # noqa: ANN001
    import json

    from api.cli import main

    store.close()  # the CLI opens the file itself (read only)
    main(
        [
            "--db",
            store.path,
            "export",
            "neo4j-import",
            str(tmp_path / "cli"),
            "--location",
            "/import",
            "--json",
        ]
    )
    payload = json.loads(capsys.readouterr().out)
    assert payload["rows"] == exported.rows
    assert "--nodes=User=/import/users.header.csv,/import/users.csv" in payload["command"]
