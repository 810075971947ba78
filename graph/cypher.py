"""Every Cypher statement KOC Graph sends to Neo4j, as named constants.

No other module builds Cypher text: the Neo4j store, the sync command and the
EXPLAIN check all take their statements from here, and
``tests/graph/test_cypher_lint.py`` lints every one of them with Neo4j's own
linter (``tools/cypher-lint``). Each :class:`Statement` declares its parameters
with an example value of the right type, so the linter flags any parameter a
statement uses without declaring it.

Data model (see ``docs/neo4j.md`` for the picture)::

    (:User {user_id, idx, declared, role, ...})
    (influencer:User)-[:VIEWED|FORWARDED|COMMENTED|REFERRED {event_id, ts, ...}]->(influenced:User)
    (:User)-[:SHARED]->(:Share {event_id, content_id, channel, ts})
    (:User)-[:PLACED]->(:Order {event_id, order_id, amount, amount_e4, currency, ts, ...})
    (:Refund {event_id, refund_id, order_id, amount, amount_e4, ts})   joined to orders by order_id
    (:Reject {reject_id, ...})   (:Run {run_id, ...})
    (:Score {run_id, user_id, rank, ...})   (:Component {run_id, user_id, component, ...})
    ranking results of the latest run also as User properties koc_score, koc_rank, ...
    (:KocMeta {name: 'graph', next_idx, schema_version})

Relationships point the way influence flows (:data:`graph.events.INFLUENCE_DIRECTION`):
``(a)-[:VIEWED]->(b)`` reads "b viewed a's share". Timestamps are stored as
``ZONED DATETIME`` in UTC and sent/returned as integer epoch seconds + nanoseconds
(writes) or epoch microseconds (reads), so no per-row temporal objects cross the
driver. Money is stored twice: ``amount`` (exact decimal text) and ``amount_e4``
(integer units of 1/10,000, summed exactly in Cypher).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from graph.events import EDGE_TYPES, RECORD_SPECS, EventType

__all__ = [
    "Statement",
    "REL_TYPES",
    "LABELS",
    "PROPERTY_KEYS",
    "SCHEMA_STATEMENTS",
    "SCHEMA_VERSION",
    "AWAIT_INDEXES",
    "META_INIT",
    "META_READ",
    "META_REVISION",
    "META_SET_VERSION",
    "META_LOCK",
    "META_SET_NEXT_IDX",
    "META_EDGE_TS_INIT",
    "META_BUMP_EDGE_TS",
    "DROPPED_SCHEMA_STATEMENTS",
    "EXISTING_USERS",
    "MISSING_USERS",
    "CREATE_USERS",
    "UPSERT_USERS",
    "LOAD_EDGES",
    "LOAD_SHARES",
    "LOAD_ORDERS",
    "LOAD_REFUNDS",
    "LOAD_REJECTS",
    "LOAD_STATEMENTS",
    "NODE_IDS",
    "READ_EDGES",
    "READ_EVENTS",
    "READ_SPEND",
    "READ_REJECTS",
    "CLEAR_REJECTS",
    "COUNTS",
    "WATERMARK",
    "USER_IDX",
    "FIRST_REFERRER",
    "DOWNLINE_STEP",
    "NET_SPEND",
    "SAVE_RUN",
    "DELETE_RUN_SCORES",
    "DELETE_RUN_COMPONENTS",
    "WRITE_RUN_SCORES",
    "WRITE_RUN_COMPONENTS",
    "WRITE_USER_SCORES",
    "CLEAR_STALE_USER_SCORES",
    "WRITE_BACK_STORED",
    "RUN_MAX_RANK",
    "GET_RUN",
    "LIST_RUNS",
    "LATEST_RUN",
    "READ_SCORES",
    "READ_COMPONENTS",
    "ALL_REL_TYPES",
    "WIPE",
    "explain",
    "all_statements",
]


@dataclass(frozen=True)
class Statement:
    """One Cypher statement with its declared parameters.

    Attributes
    ----------
    name : str
        Stable name (used in lint reports, EXPLAIN reports and logs).
    text : str
        The Cypher text, sent verbatim.
    params : dict
        Every parameter the statement uses, with an example value of the right
        type (used to declare parameters to the linter and to run ``EXPLAIN``).
    kind : str
        ``schema`` (constraints/indexes, auto-commit), ``load`` (batched writes
        that must plan without an Eager operator), ``write`` or ``read``.
    """

    name: str
    text: str
    params: dict[str, Any] = field(default_factory=dict)
    kind: str = "read"


#: Relationship type of each edge event type (direction: influencer -> influenced).
REL_TYPES: dict[EventType, str] = {
    EventType.VIEW: "VIEWED",
    EventType.FORWARD: "FORWARDED",
    EventType.COMMENT: "COMMENTED",
    EventType.REFERRAL: "REFERRED",
}

LABELS: tuple[str, ...] = (
    "User",
    "Share",
    "Order",
    "Refund",
    "Reject",
    "Run",
    "Score",
    "Component",
    "KocMeta",
)
_OTHER_REL_TYPES = ("SHARED", "PLACED")


def _ts_us(expr: str) -> str:
    """Cypher expression: a ZONED DATETIME as integer UTC epoch microseconds."""
    return f"({expr}.epochSeconds * 1000000 + {expr}.microsecond)"


def _ts_us_or_null(expr: str) -> str:
    return f"CASE WHEN {expr} IS NULL THEN null ELSE {_ts_us(expr)} END"


def _dt(prefix: str) -> str:
    """Cypher expression: a ZONED DATETIME from ``r.<prefix>_s`` / ``r.<prefix>_ns`` (null-safe)."""
    return (
        f"CASE WHEN r.{prefix}_s IS NULL THEN null "
        f"ELSE datetime({{epochSeconds: r.{prefix}_s, nanosecond: r.{prefix}_ns}}) END"
    )


_WINDOW = "($start IS NULL OR {v} >= $start) AND ($end IS NULL OR {v} < $end)"
_WINDOW_PARAMS: dict[str, Any] = {"start": None, "end": None}
_EXAMPLE_TS = {"ts_s": 1_700_000_000, "ts_ns": 0}

# --- schema -----------------------------------------------------------------------------


def _unique(name: str, pattern: str, prop: str) -> Statement:
    var = "e" if pattern.startswith("()") else "n"
    return Statement(
        f"constraint_{name}",
        f"CREATE CONSTRAINT koc_{name} IF NOT EXISTS FOR {pattern} REQUIRE {var}.{prop} IS UNIQUE",
        kind="schema",
    )


def _index(name: str, pattern: str, prop: str) -> Statement:
    var = "e" if pattern.startswith("()") else "n"
    return Statement(
        f"index_{name}",
        f"CREATE INDEX koc_{name} IF NOT EXISTS FOR {pattern} ON ({var}.{prop})",
        kind="schema",
    )


#: Constraints and indexes, created idempotently (``IF NOT EXISTS``) before any load.
#: Relationship property uniqueness needs Neo4j 5.7 or later.
SCHEMA_STATEMENTS: tuple[Statement, ...] = (
    _unique("user_id", "(n:User)", "user_id"),
    _unique("user_idx", "(n:User)", "idx"),
    *(
        _unique(f"{t.value}_event_id", f"()-[e:{rel}]-()", "event_id")
        for t, rel in REL_TYPES.items()
    ),
    _unique("share_event_id", "(n:Share)", "event_id"),
    _index("share_ts", "(n:Share)", "ts"),
    _unique("order_event_id", "(n:Order)", "event_id"),
    _index("order_order_id", "(n:Order)", "order_id"),
    _index("order_ts", "(n:Order)", "ts"),
    _index("order_token", "(n:Order)", "attribution_token"),
    _unique("refund_event_id", "(n:Refund)", "event_id"),
    _index("refund_order_id", "(n:Refund)", "order_id"),
    _index("refund_ts", "(n:Refund)", "ts"),
    _unique("reject_id", "(n:Reject)", "reject_id"),
    _unique("run_id", "(n:Run)", "run_id"),
    _unique("meta_name", "(n:KocMeta)", "name"),
    Statement(
        "index_score_run_rank",
        "CREATE INDEX koc_score_run_rank IF NOT EXISTS FOR (n:Score) ON (n.run_id, n.rank)",
        kind="schema",
    ),
    Statement(
        "index_component_run_user",
        "CREATE INDEX koc_component_run_user IF NOT EXISTS FOR (n:Component) "
        "ON (n.run_id, n.user_id)",
        kind="schema",
    ),
)
#: Indexes of earlier schema versions, dropped on upgrade. Version 1 had a range index on
#: each relationship type's ``ts``: it cost more server time than everything else of an
#: edge load together (5,000 against 12,700 rows per server CPU second with and without
#: it, benchmarks/RESULTS.md) and served only the watermark, which now lives on
#: ``KocMeta.edge_ts`` (:data:`META_EDGE_TS_INIT`, :data:`META_BUMP_EDGE_TS`).
DROPPED_SCHEMA_STATEMENTS: tuple[Statement, ...] = tuple(
    Statement(f"drop_index_{t.value}_ts", f"DROP INDEX koc_{t.value}_ts IF EXISTS", kind="schema")
    for t in REL_TYPES
)
#: Version recorded on the ``KocMeta`` node once :data:`SCHEMA_STATEMENTS` are applied.
SCHEMA_VERSION = 2

AWAIT_INDEXES = Statement("await_indexes", "CALL db.awaitIndexes($timeout)", {"timeout": 300})
META_INIT = Statement(
    "meta_init",
    "MERGE (m:KocMeta {name: 'graph'}) ON CREATE SET m.next_idx = 0, m.schema_version = 0",
    kind="write",
)
META_READ = Statement(
    "meta_read",
    "MATCH (m:KocMeta {name: 'graph'}) RETURN m.next_idx AS next_idx, m.schema_version AS schema_version",
)
#: The counter every ``append_batch`` transaction bumps (see :data:`META_LOCK`).
META_REVISION = Statement(
    "meta_revision",
    "MATCH (m:KocMeta {name: 'graph'}) RETURN coalesce(m.revision, 0) AS revision",
)
META_SET_VERSION = Statement(
    "meta_set_version",
    "MATCH (m:KocMeta {name: 'graph'}) SET m.schema_version = $version",
    {"version": SCHEMA_VERSION},
    kind="write",
)

_EDGE_PATTERN = "()-[e:" + "|".join(REL_TYPES.values()) + "]->()"
#: The latest ``ts`` of any user-to-user event, kept on ``KocMeta`` (a scan: run once,
#: when the schema is created or upgraded, e.g. after a bulk import).
META_EDGE_TS_INIT = Statement(
    "meta_edge_ts_init",
    "MATCH (m:KocMeta {name: 'graph'}) "
    f"SET m.edge_ts = COLLECT {{ MATCH {_EDGE_PATTERN} RETURN max(e.ts) AS t }}[0]",
    kind="write",
)
#: Raise ``KocMeta.edge_ts`` to the latest ``ts`` of the edges a batch inserted.
META_BUMP_EDGE_TS = Statement(
    "meta_bump_edge_ts",
    "MATCH (m:KocMeta {name: 'graph'}) "
    "WITH m, datetime({epochSeconds: $ts_s, nanosecond: $ts_ns}) AS t "
    "SET m.edge_ts = CASE WHEN m.edge_ts IS NULL OR t > m.edge_ts THEN t ELSE m.edge_ts END",
    dict(_EXAMPLE_TS),
    kind="write",
)

# --- loads (batched UNWIND ... MERGE, no Eager) ------------------------------------------

#: Takes the write lock on the counter node for the rest of the transaction, so
#: concurrent writers assign dense node indexes one after the other.
META_LOCK = Statement(
    "meta_lock",
    "MATCH (m:KocMeta {name: 'graph'}) "
    "SET m.locked_at = timestamp(), m.revision = coalesce(m.revision, 0) + 1 "
    "RETURN m.next_idx AS next_idx",
    kind="write",
)
META_SET_NEXT_IDX = Statement(
    "meta_set_next_idx",
    "MATCH (m:KocMeta {name: 'graph'}) SET m.next_idx = $next_idx",
    {"next_idx": 0},
    kind="write",
)
EXISTING_USERS = Statement(
    "existing_users",
    "UNWIND $ids AS id MATCH (u:User {user_id: id}) "
    "RETURN u.user_id AS user_id, u.event_id AS event_id",
    {"ids": ["u1"]},
)
#: The ids of ``$ids`` with no ``User`` yet (only those cross the network).
MISSING_USERS = Statement(
    "missing_users",
    "UNWIND $ids AS id WITH id WHERE NOT EXISTS { MATCH (:User {user_id: id}) } "
    "RETURN id AS user_id",
    {"ids": ["u1"]},
)
CREATE_USERS = Statement(
    "create_users",
    "UNWIND $rows AS r MERGE (u:User {user_id: r.user_id}) "
    "ON CREATE SET u.idx = r.idx, u.declared = false, u.role = 'unknown'",
    {"rows": [{"user_id": "u1", "idx": 0}]},
    kind="load",
)
UPSERT_USERS = Statement(
    "upsert_users",
    "UNWIND $rows AS r MATCH (u:User {user_id: r.user_id}) "
    "SET u.declared = true, u.role = r.role, u.display_name = r.display_name, "
    "u.store_id = r.store_id, u.channel = r.channel, u.created_at = "
    + _dt("created")
    + ", u.attrs = r.attrs, u.phone_hash = r.phone_hash, u.device_hash = r.device_hash, "
    "u.event_id = r.event_id",
    {
        "rows": [
            {
                "user_id": "u1",
                "role": "kol",
                "display_name": "A",
                "store_id": None,
                "channel": None,
                "created_s": None,
                "created_ns": None,
                "attrs": None,
                "phone_hash": None,
                "device_hash": None,
                "event_id": "e1",
            }
        ]
    },
    kind="load",
)


def _edge_load(event_type: EventType) -> Statement:
    rel = REL_TYPES[event_type]
    extra = (
        "e.campaign = r.campaign"
        if event_type is EventType.REFERRAL
        else ("e.content_id = r.content_id, e.channel = r.channel")
    )
    row: dict[str, Any] = {"event_id": "e1", "src": "u1", "dst": "u2", **_EXAMPLE_TS}
    row.update(
        {"campaign": "c"}
        if event_type is EventType.REFERRAL
        else {"content_id": "c", "channel": "wechat"}
    )
    return Statement(
        f"load_{event_type.value}",
        "UNWIND $rows AS r "
        "MATCH (a:User {user_id: r.src}) MATCH (b:User {user_id: r.dst}) "
        f"CREATE (a)-[e:{rel} {{event_id: r.event_id}}]->(b) "
        f"SET e.ts = {_dt('ts')}, {extra}",
        {"rows": [row]},
        kind="load",
    )


#: One CREATE statement per edge type; endpoints must exist (created by
#: :data:`CREATE_USERS` earlier in the same transaction). Only rows known to be new are
#: sent: ``append_batch`` classified them against the stored ``event_id``s under the
#: :data:`META_LOCK` (:mod:`graph.identity`), so a ``MERGE`` would only repeat the
#: uniqueness check the constraint ``koc_<type>_event_id`` still makes (a writer that
#: skips the lock gets a constraint error, not a second copy).
LOAD_EDGES: dict[EventType, Statement] = {t: _edge_load(t) for t in EDGE_TYPES}
LOAD_SHARES = Statement(
    "load_share",
    "UNWIND $rows AS r MATCH (a:User {user_id: r.src}) "
    "MERGE (s:Share {event_id: r.event_id}) "
    f"ON CREATE SET s.content_id = r.content_id, s.channel = r.channel, s.ts = {_dt('ts')} "
    "MERGE (a)-[:SHARED]->(s)",
    {"rows": [{"event_id": "e1", "src": "u1", "content_id": "c", "channel": None, **_EXAMPLE_TS}]},
    kind="load",
)
LOAD_ORDERS = Statement(
    "load_order",
    "UNWIND $rows AS r MATCH (b:User {user_id: r.src}) "
    "MERGE (o:Order {event_id: r.event_id}) "
    "ON CREATE SET o.order_id = r.order_id, o.amount = r.amount, o.amount_e4 = r.amount_e4, "
    f"o.currency = r.currency, o.ts = {_dt('ts')}, o.attribution_token = r.attribution_token, "
    "o.store_id = r.store_id "
    "MERGE (b)-[:PLACED]->(o)",
    {
        "rows": [
            {
                "event_id": "e1",
                "src": "u1",
                "order_id": "o1",
                "amount": "1.0000",
                "amount_e4": 10000,
                "currency": "CNY",
                "attribution_token": None,
                "store_id": None,
                **_EXAMPLE_TS,
            }
        ]
    },
    kind="load",
)
LOAD_REFUNDS = Statement(
    "load_refund",
    "UNWIND $rows AS r MERGE (f:Refund {event_id: r.event_id}) "
    "ON CREATE SET f.refund_id = r.refund_id, f.order_id = r.order_id, f.amount = r.amount, "
    f"f.amount_e4 = r.amount_e4, f.ts = {_dt('ts')}",
    {
        "rows": [
            {
                "event_id": "e1",
                "refund_id": None,
                "order_id": "o1",
                "amount": "1.0000",
                "amount_e4": 10000,
                **_EXAMPLE_TS,
            }
        ]
    },
    kind="load",
)
LOAD_REJECTS = Statement(
    "load_rejects",
    "UNWIND $rows AS r MERGE (x:Reject {reject_id: r.reject_id}) "
    "ON CREATE SET x.source = r.source, x.row_number = r.row_number, x.event_type = r.event_type, "
    "x.field = r.field, x.value = r.value, x.reason = r.reason, x.raw = r.raw, "
    "x.ingested_at = datetime()",
    {
        "rows": [
            {
                "reject_id": "r1",
                "source": "f.csv",
                "row_number": 1,
                "event_type": "view",
                "field": "ts",
                "value": "x",
                "reason": "bad",
                "raw": "{}",
            }
        ]
    },
    kind="load",
)
# --- reads --------------------------------------------------------------------------------

#: Reads of analytics arrays come back as *columns*: one record per range of user
#: indexes ``[$lo, $hi)`` (a seek on the ``koc_user_idx`` range index) holding one list
#: per column. The Python driver spends about 18 us per record but well under 1 us per
#: list element, so this reads an edge list about 10x faster (client CPU) than one
#: record per edge; the range bounds the server memory of one answer. ``collect``
#: skips nulls, so only never-null values are read this way.
_IDX_RANGE = "u.idx >= $lo AND u.idx < $hi"
_RANGE_PARAMS: dict[str, Any] = {"lo": 0, "hi": 10_000}
NODE_IDS = Statement(
    "node_ids",
    f"MATCH (u:User) WHERE {_IDX_RANGE} RETURN collect(u.idx) AS idx, collect(u.user_id) AS user_id",
    dict(_RANGE_PARAMS),
)


def _edge_read(event_type: EventType) -> Statement:
    rel = REL_TYPES[event_type]
    return Statement(
        f"read_edges_{event_type.value}",
        f"MATCH (u:User) WHERE {_IDX_RANGE} "
        f"MATCH (u)-[e:{rel}]->(b:User) WHERE {_WINDOW.format(v='e.ts')} "
        f"RETURN collect(u.idx) AS src, collect(b.idx) AS dst, collect({_ts_us('e.ts')}) AS ts",
        {**_RANGE_PARAMS, **_WINDOW_PARAMS},
    )


#: Edge reads as columns per range of influencer indexes (influencer idx, influenced
#: idx, ts in epoch microseconds).
READ_EDGES: dict[EventType, Statement] = {t: _edge_read(t) for t in EDGE_TYPES}


_Columns = tuple[tuple[str, str], ...]


def _as(columns: _Columns) -> str:
    """``expr AS name, ...`` of a record read's columns."""
    return ", ".join(f"{expr} AS {name}" for expr, name in columns)


def _event_parts(event_type: EventType) -> tuple[str, str, str, _Columns]:
    """``(pattern, variable, anchor, columns)`` of one record type's reads.

    ``pattern`` has a ``{key}`` slot for a property map on the record (empty
    for window reads, ``{event_id: id}`` for lookups by id); ``anchor`` is the
    pattern's ``User`` variable a columnar read ranges over (empty for refunds,
    which hang on no user); ``columns`` are ``(expression, name)`` pairs in
    :data:`graph.store.ARROW_SCHEMAS` order.
    """
    spec = RECORD_SPECS[event_type]
    cols: _Columns
    if event_type is EventType.USER:
        cols = (
            ("u.event_id", "event_id"),
            ("u.user_id", "user_id"),
            ("u.role", "role"),
            ("u.display_name", "display_name"),
            ("u.store_id", "store_id"),
            ("u.channel", "channel"),
            (_ts_us_or_null("u.created_at"), "created_at"),
            ("u.attrs", "attrs"),
            ("u.phone_hash", "phone_hash"),
            ("u.device_hash", "device_hash"),
        )
        return "(u:User{key})", "u", "u", cols
    if event_type is EventType.SHARE:
        cols = (
            ("s.event_id", "event_id"),
            ("a.user_id", "sharer"),
            ("s.content_id", "content_id"),
            ("s.channel", "channel"),
            (_ts_us("s.ts"), "ts"),
        )
        return "(a:User)-[:SHARED]->(s:Share{key})", "s", "a", cols
    if event_type is EventType.ORDER:
        cols = (
            ("o.event_id", "event_id"),
            ("o.order_id", "order_id"),
            ("b.user_id", "buyer"),
            ("o.amount_e4", "amount"),
            ("o.currency", "currency"),
            (_ts_us("o.ts"), "ts"),
            ("o.attribution_token", "attribution_token"),
            ("o.store_id", "store_id"),
        )
        return "(b:User)-[:PLACED]->(o:Order{key})", "o", "b", cols
    if event_type is EventType.REFUND:
        cols = (
            ("f.event_id", "event_id"),
            ("f.refund_id", "refund_id"),
            ("f.order_id", "order_id"),
            ("f.amount_e4", "amount"),
            (_ts_us("f.ts"), "ts"),
        )
        return "(f:Refund{key})", "f", "", cols
    rel = REL_TYPES[event_type]
    edge_cols: list[tuple[str, str]] = [("e.event_id", "event_id")]
    for name in spec.names:
        if name == spec.src:
            edge_cols.append(("a.user_id", name))
        elif name == spec.dst:
            edge_cols.append(("b.user_id", name))
        elif name == "ts":
            edge_cols.append((_ts_us("e.ts"), "ts"))
        else:
            edge_cols.append((f"e.{name}", name))
    return f"(a:User)-[e:{rel}{{key}}]->(b:User)", "e", "a", tuple(edge_cols)


def _event_read(event_type: EventType) -> Statement:
    """Read one record type in a time window as columns, rows in :data:`graph.store.ARROW_SCHEMAS` order.

    One record per range ``[$lo, $hi)`` of the anchor user's ``idx`` (all refunds in
    one record: they hang on no user), holding ``rows``: a list of row lists. The
    driver decodes list elements far faster than records (see :data:`NODE_IDS`); the
    caller sorts (users by index, events by ``ts`` then ``event_id``).
    """
    pattern, var, anchor, cols = _event_parts(event_type)
    when = f"{var}.created_at" if event_type is EventType.USER else f"{var}.ts"
    declared = "u.declared AND " if event_type is EventType.USER else ""
    rows = f"WITH {_as(cols)} RETURN collect([{', '.join(name for _e, name in cols)}]) AS rows"
    window = _WINDOW.format(v=when)
    params = dict(_WINDOW_PARAMS)
    if not anchor:
        text = f"MATCH {pattern.format(key='')} WHERE {window} {rows}"
    elif event_type is EventType.USER:
        params.update(_RANGE_PARAMS)
        text = (
            f"MATCH (u:User) WHERE {_IDX_RANGE} AND {declared}{window} WITH u ORDER BY u.idx {rows}"
        )
    else:
        params.update(_RANGE_PARAMS)
        text = (
            f"MATCH (u:User) WHERE {_IDX_RANGE} WITH u AS {anchor} "
            f"MATCH {pattern.format(key='')} WHERE {window} {rows}"
        )
    return Statement(f"read_events_{event_type.value}", text, params)


def _event_lookup(event_type: EventType) -> Statement:
    """The stored records of some ``event_id`` values (index lookups), same columns."""
    pattern, _var, _anchor, cols = _event_parts(event_type)
    return Statement(
        f"lookup_events_{event_type.value}",
        f"UNWIND $ids AS id MATCH {pattern.format(key=' {event_id: id}')} RETURN {_as(cols)}",
        {"ids": ["e1"]},
    )


#: Stored records by ``event_id``, read inside ``append_batch`` to classify a batch's rows
#: (new / duplicate / conflict, :mod:`graph.identity`). Users are upserted, not looked up.
LOOKUP_EVENTS: dict[EventType, Statement] = {
    t: _event_lookup(t) for t in EventType if t is not EventType.USER
}
#: Which of ``$ids`` are stored as an order's ``order_id`` (order identity, :mod:`graph.identity`).
STORED_ORDER_IDS = Statement(
    "stored_order_ids",
    "UNWIND $ids AS id MATCH (o:Order {order_id: id}) RETURN DISTINCT o.order_id AS order_id",
    {"ids": ["o1"]},
)

#: Streamed record reads per type (timestamps as epoch microseconds, money as ``amount_e4``).
READ_EVENTS: dict[EventType, Statement] = {t: _event_read(t) for t in EventType}

_REFUNDED = (
    "OPTIONAL MATCH (f:Refund {order_id: o.order_id}) "
    "WITH u, o, coalesce(sum(f.amount_e4), 0) AS r "
    "WITH u, o, CASE WHEN r > o.amount_e4 THEN o.amount_e4 ELSE r END AS refunded "
)
#: Spend per buyer (columns of ``influence.spend``), as rows lists per range of buyer indexes.
READ_SPEND = Statement(
    "read_spend",
    f"MATCH (u:User) WHERE {_IDX_RANGE} "
    f"MATCH (u)-[:PLACED]->(o:Order) WHERE {_WINDOW.format(v='o.ts')} "
    + _REFUNDED
    + "WITH u.user_id AS user_id, count(o) AS orders, sum(o.amount_e4) AS gross, "
    "sum(refunded) AS refunded, sum(o.amount_e4 - refunded) AS net, "
    f"min({_ts_us('o.ts')}) AS first_order_ts, max({_ts_us('o.ts')}) AS last_order_ts "
    "RETURN collect([user_id, orders, gross, refunded, net, first_order_ts, last_order_ts]) "
    "AS rows",
    {**_RANGE_PARAMS, **_WINDOW_PARAMS},
)
CLEAR_REJECTS = Statement(
    "clear_rejects",
    "MATCH (x:Reject) WHERE $sources IS NULL OR x.source IN $sources "
    "DETACH DELETE x RETURN count(*) AS deleted",
    {"sources": ["/data/orders.csv"]},
    kind="write",
)
READ_REJECTS = Statement(
    "read_rejects",
    "MATCH (x:Reject) RETURN x.reject_id AS reject_id, x.source AS source, "
    "x.row_number AS row_number, x.event_type AS event_type, x.field AS field, "
    "x.value AS value, x.reason AS reason, x.raw AS raw, "
    f"{_ts_us('x.ingested_at')} AS ingested_at "
    "ORDER BY ingested_at, source, row_number LIMIT $limit",
    {"limit": 100},
)
COUNTS = Statement(
    "counts",
    "RETURN "
    + ", ".join(f"COUNT {{ ()-[:{rel}]->() }} AS {t.value}" for t, rel in REL_TYPES.items())
    + ", COUNT { (:Share) } AS share, COUNT { (:Order) } AS `order`, "
    "COUNT { (:Refund) } AS refund, COUNT { (:Reject) } AS rejects, "
    "COUNT { (:User) } AS users, COUNT { MATCH (u:User) WHERE u.declared } AS user",
)
WATERMARK = Statement(
    "watermark",
    "WITH "
    + " + ".join(
        [
            "COLLECT { MATCH (k:KocMeta {name: 'graph'}) WHERE k.edge_ts IS NOT NULL RETURN k.edge_ts }"
        ]
        + [
            f"COLLECT {{ MATCH (n:{label}) RETURN n.ts ORDER BY n.ts DESC LIMIT 1 }}"
            for label in ("Share", "Order", "Refund")
        ]
    )
    + " AS latest UNWIND latest AS m WITH max(m) AS m "
    f"RETURN {_ts_us_or_null('m')} AS watermark",
)

# --- referral trees -----------------------------------------------------------------------

USER_IDX = Statement(
    "user_idx", "MATCH (u:User {user_id: $user_id}) RETURN u.idx AS idx", {"user_id": "u1"}
)
#: The one rule of :mod:`graph.referrals` in Cypher: of the ``REFERRED`` relationships
#: ``e`` from ``r`` into a referee, self-referrals left out, the first in this order binds.
_BINDING_REFERRAL = "WHERE r <> {referee} WITH {keep}r, e ORDER BY e.ts, e.event_id "

#: The referrer bound by the first referral (by ts, then event_id) of user ``$idx``.
FIRST_REFERRER = Statement(
    "first_referrer",
    "MATCH (r:User)-[e:REFERRED]->(u:User {idx: $idx}) "
    + _BINDING_REFERRAL.format(referee="u", keep="")
    + f"RETURN r.idx AS idx, r.user_id AS user_id, {_ts_us('e.ts')} AS referred_at LIMIT 1",
    {"idx": 0},
)
#: Users referred by anyone in ``$frontier``, each with the referrer of its first referral.
DOWNLINE_STEP = Statement(
    "downline_step",
    "UNWIND $frontier AS f MATCH (:User {idx: f})-[:REFERRED]->(c:User) "
    "WITH DISTINCT c MATCH (r:User)-[e:REFERRED]->(c) "
    + _BINDING_REFERRAL.format(referee="c", keep="c, ")
    + "WITH c, collect(r.idx)[0] AS first "
    "RETURN c.idx AS idx, first",
    {"frontier": [0]},
)
#: Net spend (orders minus refunds, all time) of each user in ``$idxs`` who bought.
NET_SPEND = Statement(
    "net_spend",
    "UNWIND $idxs AS i MATCH (u:User {idx: i})-[:PLACED]->(o:Order) "
    + _REFUNDED
    + "RETURN u.idx AS idx, sum(o.amount_e4 - refunded) AS net",
    {"idxs": [0]},
)

# --- runs and scores ----------------------------------------------------------------------

_RUN_FIELDS = (
    "created_at",
    "status",
    "config_hash",
    "window_start",
    "window_end",
    "watermark",
    "timings",
    "row_counts",
    "params",
    "error",
)
SAVE_RUN = Statement(
    "save_run",
    "MERGE (x:Run {run_id: $run_id}) SET " + ", ".join(f"x.{f} = ${f}" for f in _RUN_FIELDS),
    {"run_id": "r1", **dict.fromkeys(_RUN_FIELDS, "x")},
    kind="write",
)
_DELETE_LIMIT = {"run_id": "r1", "limit": 10_000}
DELETE_RUN_SCORES = Statement(
    "delete_run_scores",
    "MATCH (s:Score {run_id: $run_id}) WITH s LIMIT $limit DELETE s RETURN count(*) AS deleted",
    dict(_DELETE_LIMIT),
    kind="write",
)
DELETE_RUN_COMPONENTS = Statement(
    "delete_run_components",
    "MATCH (c:Component {run_id: $run_id}) WITH c LIMIT $limit DELETE c RETURN count(*) AS deleted",
    dict(_DELETE_LIMIT),
    kind="write",
)
#: A run's results are ``Score``/``Component`` nodes keyed by ``run_id`` (independent of
#: ``User`` nodes, so results of users deleted later stay readable, as in the embedded store).
WRITE_RUN_SCORES = Statement(
    "write_run_scores",
    "UNWIND $rows AS r CREATE (:Score {run_id: $run_id, user_id: r.user_id, rank: r.rank, "
    "score: r.score, role: r.role, community: r.community})",
    {
        "run_id": "r1",
        "rows": [{"user_id": "u1", "rank": 1, "score": 0.5, "role": "kol", "community": 0}],
    },
    kind="load",
)
WRITE_RUN_COMPONENTS = Statement(
    "write_run_components",
    "UNWIND $rows AS r CREATE (:Component {run_id: $run_id, user_id: r.user_id, "
    "component: r.component, raw: r.raw, normalized: r.normalized, "
    "contribution: r.contribution})",
    {
        "run_id": "r1",
        "rows": [
            {
                "user_id": "u1",
                "component": "pagerank",
                "raw": 0.1,
                "normalized": 0.5,
                "contribution": 0.2,
            }
        ],
    },
    kind="load",
)
#: Score write-back onto ``User`` nodes (``koc_*`` properties, replaced per batch).
WRITE_USER_SCORES = Statement(
    "write_user_scores",
    "UNWIND $rows AS r MATCH (u:User {user_id: r.user_id}) "
    "SET u.koc_run_id = $run_id, u.koc_score = r.score, u.koc_rank = r.rank, "
    "u.koc_role = r.role, u.koc_community = r.community, u.koc_pagerank = r.pagerank, "
    "u.koc_reach = r.reach",
    {
        "run_id": "r1",
        "rows": [
            {
                "user_id": "u1",
                "score": 0.5,
                "rank": 1,
                "role": "kol",
                "community": 0,
                "pagerank": 0.1,
                "reach": 3.0,
            }
        ],
    },
    kind="load",
)
#: Write-back of a stored run onto ``User`` nodes, ranks ``$first .. $first + $limit - 1``
#: (a seek on the (run_id, rank) index; components by the (run_id, user_id) index).
WRITE_BACK_STORED = Statement(
    "write_back_stored",
    "MATCH (s:Score) WHERE s.run_id = $run_id AND s.rank >= $first AND s.rank < $first + $limit "
    "MATCH (u:User {user_id: s.user_id}) "
    "OPTIONAL MATCH (p:Component {run_id: $run_id, user_id: s.user_id, component: 'pagerank'}) "
    "OPTIONAL MATCH (r:Component {run_id: $run_id, user_id: s.user_id, component: 'reach'}) "
    "SET u.koc_run_id = $run_id, u.koc_score = s.score, u.koc_rank = s.rank, "
    "u.koc_role = s.role, u.koc_community = s.community, u.koc_pagerank = p.raw, "
    "u.koc_reach = r.raw RETURN count(u) AS written",
    {"run_id": "r1", "first": 1, "limit": 10_000},
    kind="write",
)
#: The largest rank of a run (its number of ranked users).
RUN_MAX_RANK = Statement(
    "run_max_rank",
    "MATCH (s:Score) WHERE s.run_id = $run_id AND s.rank IS NOT NULL RETURN max(s.rank) AS top",
    {"run_id": "r1"},
)
CLEAR_STALE_USER_SCORES = Statement(
    "clear_stale_user_scores",
    "MATCH (u:User) WHERE u.koc_run_id IS NOT NULL AND u.koc_run_id <> $run_id "
    "WITH u LIMIT $limit "
    "REMOVE u.koc_run_id, u.koc_score, u.koc_rank, u.koc_role, u.koc_community, "
    "u.koc_pagerank, u.koc_reach RETURN count(u) AS cleared",
    dict(_DELETE_LIMIT),
    kind="write",
)
_RUN_RETURN = "RETURN x.run_id AS run_id, " + ", ".join(f"x.{f} AS {f}" for f in _RUN_FIELDS)
GET_RUN = Statement("get_run", f"MATCH (x:Run {{run_id: $run_id}}) {_RUN_RETURN}", {"run_id": "r1"})
LIST_RUNS = Statement(
    "list_runs",
    f"MATCH (x:Run) {_RUN_RETURN} ORDER BY created_at DESC, run_id DESC LIMIT $limit",
    {"limit": 20},
)
LATEST_RUN = Statement(
    "latest_run",
    f"MATCH (x:Run) WHERE x.status = $status {_RUN_RETURN} "
    "ORDER BY created_at DESC, run_id DESC LIMIT 1",
    {"status": "succeeded"},
)
#: Top scores of a run in rank order: a seek on the (run_id, rank) index, no sort.
READ_SCORES = Statement(
    "read_scores",
    "MATCH (s:Score) WHERE s.run_id = $run_id AND s.rank IS NOT NULL "
    "AND ($user_ids IS NULL OR s.user_id IN $user_ids) "
    "RETURN s.user_id AS user_id, s.rank AS rank, s.score AS score, s.role AS role, "
    "s.community AS community ORDER BY s.rank LIMIT $limit",
    {"run_id": "r1", "user_ids": None, "limit": 100},
)
READ_COMPONENTS = Statement(
    "read_components",
    "MATCH (c:Component) WHERE c.run_id = $run_id "
    "AND ($user_ids IS NULL OR c.user_id IN $user_ids) "
    "AND ($component IS NULL OR c.component = $component) "
    "RETURN c.user_id AS user_id, c.component AS component, c.raw AS raw, "
    "c.normalized AS normalized, c.contribution AS contribution ORDER BY user_id, component",
    {"run_id": "r1", "user_ids": None, "component": None},
)


#: The batched (``UNWIND $rows``) write statements, checked for Eager operators by ``explain_load_queries``.
LOAD_STATEMENTS: tuple[Statement, ...] = (
    CREATE_USERS,
    UPSERT_USERS,
    *LOAD_EDGES.values(),
    LOAD_SHARES,
    LOAD_ORDERS,
    LOAD_REFUNDS,
    LOAD_REJECTS,
    WRITE_RUN_SCORES,
    WRITE_RUN_COMPONENTS,
    WRITE_USER_SCORES,
)

#: Deletes everything, ``$limit`` nodes per call (tests and ``koc sync --to neo4j --replace``).
WIPE = Statement(
    "wipe",
    "MATCH (n) WITH n LIMIT $limit DETACH DELETE n RETURN count(*) AS deleted",
    {"limit": 10_000},
    kind="write",
)


def explain(statement: Statement) -> str:
    """The ``EXPLAIN`` form of a statement: planned, never executed."""
    return f"EXPLAIN {statement.text}"


def all_statements() -> list[Statement]:
    """Every statement defined in this module (what the linter and the docs list)."""
    out: list[Statement] = []
    for value in globals().values():
        if isinstance(value, Statement):
            out.append(value)
        elif isinstance(value, tuple | dict):
            items = value.values() if isinstance(value, dict) else value
            out.extend(v for v in items if isinstance(v, Statement))
    unique: dict[str, Statement] = {}
    for s in out:
        unique.setdefault(s.name, s)
    return list(unique.values())


#: Every property key the statements read or write (declared to the linter).
PROPERTY_KEYS: tuple[str, ...] = tuple(
    sorted(
        {
            *(f.name for spec in RECORD_SPECS.values() for f in spec.fields),
            *_RUN_FIELDS,
            "event_id",
            "idx",
            "declared",
            "amount_e4",
            "next_idx",
            "schema_version",
            "locked_at",
            "edge_ts",
            "revision",
            "name",
            "reject_id",
            "source",
            "row_number",
            "event_type",
            "field",
            "value",
            "reason",
            "raw",
            "ingested_at",
            "run_id",
            "rank",
            "score",
            "community",
            "component",
            "normalized",
            "contribution",
            "koc_run_id",
            "koc_score",
            "koc_rank",
            "koc_role",
            "koc_community",
            "koc_pagerank",
            "koc_reach",
        }
    )
)
ALL_REL_TYPES: tuple[str, ...] = (*REL_TYPES.values(), *_OTHER_REL_TYPES)
