"""The production store: a Neo4j 5 server through the official ``neo4j`` driver.

Implements :class:`graph.store.GraphStore` with the data model of
:mod:`graph.cypher` (every statement lives there). Writes go through managed
transactions (``session.execute_write``): the driver retries the whole
transaction function on transient errors (deadlocks, leader switches, lost
connections) for up to ``max_transaction_retry_time`` (30 s by default), which
is safe because every load is an idempotent ``MERGE`` keyed on ``event_id``.

``append_batch`` is one transaction: users referenced by the batch are created
first (dense ``idx`` assigned under a lock on the ``KocMeta`` node), then each
record type is sent as batched ``UNWIND``/``MERGE`` statements of
``batch_size`` rows. Reads stream results with ``fetch_size`` and turn each
chunk into numpy/Arrow at once (:mod:`graph.neo4j_rows`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from graph import cypher as q
from graph.errors import ConfigError, SchemaError, StoreError
from graph.events import EDGE_TYPE_CODES, EDGE_TYPES, EventType
from graph.identity import (
    class_counts,
    classify,
    content_columns,
    mark_order_conflicts,
    new_rows,
    refused_rows,
    with_ord,
)
from graph.money import MONEY_TYPE, from_units
from graph.neo4j_rows import (
    dedupe_first,
    edge_columns_to_arrays,
    iter_row_batches,
    records_to_table,
    shape_rows,
)
from graph.neo4j_runs import Neo4jRunsMixin
from graph.store import (
    ARROW_SCHEMAS,
    CONFLICT_SCHEMA,
    REJECT_SCHEMA,
    BatchResult,
    EdgeArrays,
    WriteResult,
)
from graph.tables import DuckDBTables, NoTables, TableStore
from graph.transaction import transaction

__all__ = ["Neo4jStore", "check_neo4j_uri", "SPEND_SCHEMA", "NOTIFICATION_FILTER"]

_T = TypeVar("_T")
_TS = pa.timestamp("us", tz="UTC")
_NO_LIMIT = 2**62
URI_SCHEMES = ("neo4j", "neo4j+s", "neo4j+ssc", "bolt", "bolt+s", "bolt+ssc")

#: Columns of :meth:`Neo4jStore.read_spend` (same as the embedded store).
SPEND_SCHEMA = pa.schema(
    [
        ("user_id", pa.string()),
        ("orders", pa.int64()),
        ("gross", MONEY_TYPE),
        ("refunded", MONEY_TYPE),
        ("net", MONEY_TYPE),
        ("first_order_ts", _TS),
        ("last_order_ts", _TS),
    ]
)
_EXISTING = pa.schema([("user_id", pa.string()), ("event_id", pa.string())])
_MISSING = pa.schema([("user_id", pa.string())])
_ORDER_IDS = pa.schema([("order_id", pa.string())])
_REJECTS_OUT = REJECT_SCHEMA.append(pa.field("ingested_at", _TS))
_UPLINE = pa.schema([("level", pa.int32()), ("user_id", pa.string()), ("referred_at", _TS)])
_DOWNLINE = pa.schema(
    [("level", pa.int32()), ("users", pa.int64()), ("buyers", pa.int64()), ("gmv", MONEY_TYPE)]
)
_NODE_LOADS = {
    EventType.SHARE: q.LOAD_SHARES,
    EventType.ORDER: q.LOAD_ORDERS,
    EventType.REFUND: q.LOAD_REFUNDS,
}


#: What the server may send as notifications (driver 5.22+ options). Warnings only, and
#: none of class UNRECOGNIZED (a property key or label no record carries yet, normal in
#: a fresh or partly loaded database: ``koc_*`` before the first run, ``campaign`` before
#: the first referral...), PERFORMANCE (the full scans analytics reads mean to do) or
#: HINT/GENERIC; deprecations, unsupported features and security warnings still arrive
#: and are logged by the driver.
NOTIFICATION_FILTER: dict[str, Any] = {
    "notifications_min_severity": "WARNING",
    "notifications_disabled_classifications": ["UNRECOGNIZED", "PERFORMANCE", "HINT", "GENERIC"],
}
#: Neo4j error codes of a transaction that outgrew the server's transaction memory.
_MEMORY_ERRORS = ("MemoryPoolOutOfMemoryError", "TransactionOutOfMemoryError")


def _memory_error(exc: BaseException) -> bool:
    code = getattr(exc, "code", None) or ""
    return any(code.endswith(name) for name in _MEMORY_ERRORS)


def _distinct(ids: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Distinct non-null ids."""
    arr = ids.combine_chunks() if isinstance(ids, pa.ChunkedArray) else ids
    return pc.unique(pc.drop_null(arr))


def check_neo4j_uri(uri: str | None) -> str:
    """Return ``uri`` when it is a Bolt/Neo4j URI with a host; raise :class:`ConfigError` otherwise."""
    if not uri:
        raise ConfigError(
            "The Neo4j store needs KOC_NEO4J_URI (for example neo4j://localhost:7687).",
            key="neo4j_uri",
        )
    parts = urlsplit(uri)
    if parts.scheme not in URI_SCHEMES or not parts.hostname:
        raise ConfigError(
            f"The 'neo4j_uri' setting must be a URI like neo4j://host:7687 with scheme one of "
            f"{', '.join(URI_SCHEMES)}. Got {uri!r} instead.",
            key="neo4j_uri",
            value=uri,
        )
    return uri


def _micros_to_datetime(us: int | None) -> datetime | None:
    return None if us is None else datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)


class Neo4jStore(Neo4jRunsMixin):
    """:class:`graph.store.GraphStore` on a Neo4j 5.7+ server.

    Parameters
    ----------
    driver : neo4j.Driver
        An open driver (see :meth:`from_settings`); the store closes it.
    database : str
        Database name.
    batch_size : int
        Rows per batched load statement and per score write-back transaction.
    fetch_size : int
        Records per network fetch and per numpy conversion when streaming reads.
    range_users : int
        Users per answer of a columnar read (node ids, edges): one record of lists
        per range of ``range_users`` user indexes.
    uri : str
        Shown in error messages.
    tables : graph.tables.TableStore, optional
        The relational side (closed with the store); default :class:`graph.tables.NoTables`.
    """

    def __init__(
        self,
        driver: Any,
        *,
        database: str = "neo4j",
        batch_size: int = 10_000,
        fetch_size: int = 10_000,
        range_users: int = 20_000,
        uri: str = "",
        tables: TableStore | None = None,
    ) -> None:
        if batch_size < 1:
            raise ConfigError(
                f"The 'neo4j_batch_size' parameter must be at least 1. Got {batch_size} instead.",
                key="neo4j_batch_size",
            )
        self._driver = driver
        self.database = database
        self.batch_size = int(batch_size)
        self.fetch_size = int(fetch_size)
        self.range_users = int(range_users)
        self.uri = uri
        #: keys, ledger and role history: a DuckDB file beside the server (KOC_LEDGER_PATH)
        self.tables: TableStore = tables or NoTables(
            "The Neo4j store was opened without a tables file (KOC_LEDGER_PATH is not set)."
        )
        with self._errors("connect"):
            driver.verify_connectivity()
        self.ensure_schema()

    @classmethod
    def from_settings(cls, settings: Any, *, read_only: bool = False) -> Neo4jStore:
        """Open the store named by ``KOC_NEO4J_*`` settings (called by :func:`graph.factory.open_store`).

        Its tables (keys, ledger, role history) are the DuckDB file ``KOC_LEDGER_PATH``
        when set, opened read-only with ``read_only``.
        """
        import neo4j

        uri = check_neo4j_uri(settings.neo4j_uri)
        try:
            driver = neo4j.GraphDatabase.driver(
                uri,
                auth=(settings.neo4j_user, settings.neo4j_password.get_secret_value()),
                max_connection_pool_size=settings.neo4j_pool_size,
                **NOTIFICATION_FILTER,
            )
        except (ValueError, neo4j.exceptions.ConfigurationError) as exc:
            raise ConfigError(f"Invalid Neo4j settings for {uri}: {exc}", key="neo4j_uri") from exc
        tables = None
        try:
            if settings.ledger_path is not None:
                tables = DuckDBTables.open(settings.ledger_path, read_only=read_only)
            return cls(
                driver,
                database=settings.neo4j_database,
                batch_size=settings.neo4j_batch_size,
                uri=uri,
                tables=tables,
            )
        except BaseException:
            driver.close()
            if tables is not None:
                tables.close()
            raise

    # --- plumbing -----------------------------------------------------------------------
    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        """Turn driver errors into :class:`StoreError` messages that name the next step."""
        from neo4j import exceptions as nx

        try:
            yield
        except nx.AuthError as exc:
            raise StoreError(
                f"Neo4j at {self.uri} refused the credentials while trying to {action}; "
                "check KOC_NEO4J_USER and KOC_NEO4J_PASSWORD.",
                uri=self.uri,
            ) from exc
        except (nx.ServiceUnavailable, nx.SessionExpired) as exc:
            raise StoreError(
                f"Cannot reach Neo4j at {self.uri} to {action}: {exc}. Start the server "
                "(docker compose up -d neo4j) or fix KOC_NEO4J_URI.",
                uri=self.uri,
            ) from exc
        except nx.ConstraintError as exc:
            raise StoreError(
                f"Neo4j refused to {action}: {exc.message}. An event_id is reused for a "
                "different pair of users; nothing of this batch was written.",
                uri=self.uri,
            ) from exc
        except (nx.Neo4jError, nx.DriverError) as exc:
            if _memory_error(exc):
                raise self._too_large(action, exc) from exc
            raise StoreError(f"Neo4j failed to {action}: {exc}", uri=self.uri) from exc

    def _too_large(self, action: str, exc: BaseException) -> StoreError:
        return StoreError(
            f"Neo4j at {self.uri} ran out of transaction memory trying to {action} "
            f"({getattr(exc, 'code', '')}); nothing of this transaction was written. Load "
            "smaller batches: lower KOC_INGEST_BATCH_ROWS (koc ingest --batch-rows; "
            "koc sync --chunk-rows), about 4 KB of server transaction memory per row, or "
            "raise db.memory.transaction.max / db.memory.transaction.total.max on the server.",
            uri=self.uri,
            neo4j_code=getattr(exc, "code", None),
        )

    def _session(self) -> Any:
        return self._driver.session(database=self.database, fetch_size=self.fetch_size)

    def _write(self, action: str, work: Callable[[Any], _T]) -> _T:
        """Run ``work`` in a managed write transaction (retried on transient errors).

        Running out of transaction memory is reported as transient by the server
        (``MemoryPoolOutOfMemoryError``), but retrying the same transaction fails the
        same way after the same work: it is raised at once instead.
        """

        def guarded(tx: Any) -> _T:
            try:
                return work(tx)
            except Exception as exc:
                if _memory_error(exc):  # a non-driver error: execute_write does not retry it
                    raise self._too_large(action, exc) from exc
                raise

        with self._errors(action), self._session() as session:
            return session.execute_write(guarded)

    def _read(self, action: str, work: Callable[[Any], _T]) -> _T:
        with self._errors(action), self._session() as session:
            return session.execute_read(work)

    def _stream(self, tx: Any, stmt: q.Statement, **params: Any) -> Iterator[list[Any]]:
        """Chunks of ``fetch_size`` records (as tuples) of one statement."""
        result = tx.run(stmt.text, params)
        while chunk := result.fetch(self.fetch_size):
            yield chunk  # Records are tuples: numpy and zip read them directly

    def _table(
        self, stmt: q.Statement, schema: pa.Schema, money: Iterable[str] = (), **params: Any
    ) -> pa.Table:
        return self._read(
            f"read {stmt.name}",
            lambda tx: records_to_table(self._stream(tx, stmt, **params), schema, money=money),
        )

    # --- lifecycle --------------------------------------------------------------------------
    def __enter__(self) -> Neo4jStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._driver.close()
        self.tables.close()

    def wipe(self) -> int:
        """Delete every node and relationship (batched); constraints and indexes stay.

        The ``KocMeta`` counter node is recreated, so the next user gets ``idx`` 0.
        Runs kept in the tables file (:mod:`graph.neo4j_runs`) are deleted too: they
        rank the graph that is gone.
        """
        sql = self._run_sql()
        if sql is not None:
            with transaction(sql) as cur:
                for table in ("run_components", "run_scores", "runs"):
                    cur.execute(f"DELETE FROM {table}")
        deleted = 0
        params = {"limit": self.batch_size}
        while n := self._write(
            "wipe the graph", lambda tx: tx.run(q.WIPE.text, params).single()[0]
        ):
            deleted += n
        self._write("reset the counter", lambda tx: tx.run(q.META_INIT.text).consume())
        self._write(
            "reset the counter",
            lambda tx: tx.run(q.META_SET_VERSION.text, q.META_SET_VERSION.params).consume(),
        )
        return deleted

    def _meta(self) -> dict[str, Any] | None:
        def work(tx: Any) -> dict[str, Any] | None:
            record = tx.run(q.META_READ.text).single()
            return None if record is None else dict(record)

        return self._read("read the schema version", work)

    def schema_version(self) -> int:
        meta = self._meta()
        return int(meta["schema_version"] or 0) if meta else 0

    def schema_current(self) -> bool:
        return self.schema_version() == q.SCHEMA_VERSION

    def ensure_schema(self) -> None:
        """Create constraints and indexes (idempotent) and the ``KocMeta`` counter node."""
        version = self.schema_version()
        if version > q.SCHEMA_VERSION:
            raise SchemaError(
                f"The Neo4j graph schema is version {version}, newer than this KOC Graph knows "
                f"({q.SCHEMA_VERSION}). Upgrade KOC Graph.",
                version=version,
            )
        if version == q.SCHEMA_VERSION:
            return
        with self._errors("create constraints and indexes"), self._session() as session:
            for stmt in (*q.SCHEMA_STATEMENTS, *q.DROPPED_SCHEMA_STATEMENTS):
                session.run(stmt.text).consume()
            session.run(q.AWAIT_INDEXES.text, q.AWAIT_INDEXES.params).consume()
            session.execute_write(lambda tx: tx.run(q.META_INIT.text).consume())
            session.execute_write(lambda tx: tx.run(q.META_EDGE_TS_INIT.text).consume())
            session.execute_write(
                lambda tx: tx.run(q.META_SET_VERSION.text, q.META_SET_VERSION.params).consume()
            )

    # --- writes -----------------------------------------------------------------------------
    def _run_batches(self, tx: Any, stmt: q.Statement, table: pa.Table, **params: Any) -> Any:
        """Send ``table`` through ``stmt`` in ``batch_size`` slices; return summed counters."""
        nodes = rels = 0
        for rows in iter_row_batches(table, self.batch_size):
            counters = tx.run(stmt.text, {**params, "rows": rows}).consume().counters
            nodes += counters.nodes_created
            rels += counters.relationships_created
        return nodes, rels

    def _lookup(
        self,
        tx: Any,
        stmt: q.Statement,
        ids: pa.Array,
        schema: pa.Schema,
        money: Iterable[str] = (),
    ) -> pa.Table:
        """Run a lookup over ``ids`` in ``batch_size`` slices; one Arrow table back."""
        chunks: list[Any] = []  # streamed record chunks, converted to Arrow together
        for start in range(0, len(ids), self.batch_size):
            batch = ids.slice(start, self.batch_size).to_pylist()
            chunks.extend(self._stream(tx, stmt, ids=batch))
        return records_to_table(chunks, schema, money=money)

    def _create_users(self, tx: Any, new: pa.Array, next_idx: int) -> int:
        """Create users ``new`` (absent so far) with indexes from ``next_idx``; return the next free one.

        Indexes are handed out in ``user_id`` order, as in the embedded store.
        """
        new = pc.take(new, pc.sort_indices(new))
        if len(new):
            idx = pa.array(np.arange(next_idx, next_idx + len(new), dtype=np.int64))
            self._run_batches(tx, q.CREATE_USERS, pa.table({"user_id": new, "idx": idx}))
        return next_idx + len(new)

    def _ensure_users(self, tx: Any, ids: pa.Array, next_idx: int) -> int:
        """Create the users of ``ids`` that do not exist yet (only missing ids cross the network)."""
        missing = self._lookup(tx, q.MISSING_USERS, _distinct(ids), _MISSING).column("user_id")
        return self._create_users(tx, missing.combine_chunks(), next_idx)

    def _write_users(self, tx: Any, table: pa.Table, next_idx: int) -> tuple[WriteResult, int]:
        # the last record of a user in the batch wins (as in the embedded store)
        last_first = pa.array(np.arange(table.num_rows - 1, -1, -1, dtype=np.int64))
        rows = dedupe_first(shape_rows(EventType.USER, table).take(last_first), "user_id")
        ids = _distinct(rows.column("user_id"))
        existing = self._lookup(tx, q.EXISTING_USERS, ids, _EXISTING)
        new = pc.filter(ids, pc.invert(pc.is_in(ids, value_set=existing.column("user_id"))))
        next_idx = self._create_users(tx, new, next_idx)
        joined = rows.join(existing, "user_id", join_type="left outer", right_suffix="_old")
        same = pc.fill_null(
            pc.equal(joined.column("event_id"), joined.column("event_id_old")), False
        )
        changed = joined.filter(pc.invert(same)).drop_columns(["event_id_old"])
        unchanged = joined.num_rows - changed.num_rows
        self._run_batches(tx, q.UPSERT_USERS, changed)
        return WriteResult(inserted=table.num_rows - unchanged, duplicates=unchanged), next_idx

    def _classified(
        self, tx: Any, event_type: EventType, table: pa.Table
    ) -> tuple[pa.Table, WriteResult, pa.Table]:
        """The rows of ``table`` to insert, the counts and the conflicts (:mod:`graph.identity`).

        Runs inside the write transaction, after :data:`graph.cypher.META_LOCK`
        took the lock every writer takes first, so no other batch can store the
        same ``event_id`` or ``order_id`` between this lookup and the load.
        """
        schema = ARROW_SCHEMAS[event_type]
        table = table.select(schema.names).cast(schema)
        ids = _distinct(table.column("event_id"))
        money = ("amount",) if "amount" in schema.names else ()
        stored = self._lookup(tx, q.LOOKUP_EVENTS[event_type], ids, schema, money=money)
        with duckdb.connect() as conn:
            conn.execute("SET TimeZone = 'UTC'")
            conn.register("_batch", with_ord(table))
            conn.register("_stored", stored)
            classify(
                conn,
                "SELECT 0 AS _t, * FROM _batch",
                "SELECT * FROM _stored",
                content_columns(event_type),
            )
            if event_type is EventType.ORDER:
                order_ids = _distinct(table.column("order_id"))
                taken = self._lookup(tx, q.STORED_ORDER_IDS, order_ids, _ORDER_IDS)
                conn.register("_taken", taken)
                mark_order_conflicts(conn, "SELECT order_id FROM _taken")
            conflicts = refused_rows(conn, [event_type])
            counts = class_counts(conn, [(event_type, table)])[event_type.value]
            keep = new_rows(conn)
        return table.take(pa.array(keep)), counts, conflicts

    def _write_events(
        self, tx: Any, event_type: EventType, table: pa.Table, next_idx: int
    ) -> tuple[WriteResult, int, pa.Table]:
        new, counts, conflicts = self._classified(tx, event_type, table)
        rows = shape_rows(event_type, new)
        users = [rows.column(c) for c in ("src", "dst") if c in rows.column_names]
        if users and rows.num_rows:
            next_idx = self._ensure_users(tx, pa.chunked_array(users).combine_chunks(), next_idx)
        if event_type in q.LOAD_EDGES:
            inserted = self._run_batches(tx, q.LOAD_EDGES[event_type], rows)[1]
            if rows.num_rows:
                ts_s = pc.max(rows.column("ts_s")).as_py()
                latest = rows.filter(pc.equal(rows.column("ts_s"), ts_s))
                ts_ns = pc.max(latest.column("ts_ns")).as_py()
                tx.run(q.META_BUMP_EDGE_TS.text, {"ts_s": ts_s, "ts_ns": ts_ns}).consume()
        else:
            inserted = self._run_batches(tx, _NODE_LOADS[event_type], rows)[0]
        if inserted != counts.inserted:
            raise StoreError(
                f"Neo4j stored {inserted} {event_type.value} rows where {counts.inserted} "
                "were new; the batch was rolled back. Check for a concurrent writer that "
                "does not take the KocMeta lock (an older koc).",
                uri=self.uri,
            )
        return counts, next_idx, conflicts

    def append_batch(
        self,
        tables: Mapping[EventType, pa.Table],
        rejects: pa.Table | None = None,
    ) -> BatchResult:
        items = [(EventType(t), table) for t, table in tables.items()]

        def work(tx: Any) -> BatchResult:
            by_type: dict[str, WriteResult] = {}
            conflicts = [CONFLICT_SCHEMA.empty_table()]
            next_idx = start_idx = int(tx.run(q.META_LOCK.text).single()["next_idx"])
            for event_type, table in items:
                if table.num_rows == 0:
                    by_type[event_type.value] = WriteResult()
                elif event_type is EventType.USER:
                    by_type[event_type.value], next_idx = self._write_users(tx, table, next_idx)
                else:
                    by_type[event_type.value], next_idx, refused = self._write_events(
                        tx, event_type, table, next_idx
                    )
                    conflicts.append(refused)
            stored = 0
            if rejects is not None and rejects.num_rows:
                rows = dedupe_first(
                    rejects.select(REJECT_SCHEMA.names).cast(REJECT_SCHEMA), "reject_id"
                )
                stored = self._run_batches(tx, q.LOAD_REJECTS, rows)[0]
            if next_idx != start_idx:
                tx.run(q.META_SET_NEXT_IDX.text, {"next_idx": next_idx}).consume()
            return BatchResult(
                by_type=by_type, rejects_stored=stored, conflicts=pa.concat_tables(conflicts)
            )

        return self._write("append a batch", work)

    # --- reads --------------------------------------------------------------------------------
    def node_ids(self) -> np.ndarray:
        def work(tx: Any) -> np.ndarray:
            out = np.empty(self._next_idx(tx), dtype=object)
            for idx, user_id in self._columns(tx, q.NODE_IDS, len(out)):
                out[np.asarray(idx, dtype=np.int64)] = user_id
            return out

        return self._read("read node ids", work)

    @staticmethod
    def _next_idx(tx: Any) -> int:
        meta = tx.run(q.META_READ.text).single()
        return int(meta["next_idx"] or 0) if meta else 0

    def _columns(
        self, tx: Any, stmt: q.Statement, n_users: int, **params: Any
    ) -> Iterator[tuple[list[Any], ...]]:
        """The column lists of a columnar read (:data:`graph.cypher.NODE_IDS`), per user-index range."""
        for lo in range(0, n_users, self.range_users):
            record = tx.run(stmt.text, {**params, "lo": lo, "hi": lo + self.range_users}).single()
            if record is not None and len(record[0]):
                yield tuple(record)

    def read_edges(
        self,
        types: Iterable[EventType] = EDGE_TYPES,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> EdgeArrays:
        wanted = sorted({EventType(t) for t in types}, key=EDGE_TYPE_CODES.__getitem__)
        if not wanted:
            raise StoreError("read_edges needs at least one edge type")

        def work(tx: Any) -> list[tuple[np.ndarray, ...]]:
            parts: list[tuple[np.ndarray, ...]] = []
            n_users = self._next_idx(tx)
            for event_type in wanted:
                stmt = q.READ_EDGES[event_type]
                for columns in self._columns(tx, stmt, n_users, start=start, end=end):
                    src, dst, ts = edge_columns_to_arrays(columns)
                    code = np.full(src.shape[0], EDGE_TYPE_CODES[event_type], dtype=np.int8)
                    parts.append((src, dst, code, ts))
            return parts

        parts = self._read("read edges", work)
        cat = [np.concatenate([p[i] for p in parts]) if parts else None for i in range(4)]
        empty = (np.int32, np.int32, np.int8, np.int64)
        src, dst, etype, ts = (
            c if c is not None else np.zeros(0, dtype=d) for c, d in zip(cat, empty, strict=True)
        )
        return EdgeArrays(src=src, dst=dst, etype=etype, ts=ts, node_ids=self.node_ids())

    def _row_lists(
        self, stmt: q.Statement, schema: pa.Schema, money: Iterable[str], **params: Any
    ) -> pa.Table:
        """A columnar record read (:data:`graph.cypher.READ_EVENTS`) as one Arrow table.

        Ranged statements are sent once per range of ``range_users`` user indexes;
        each answer's row lists become Arrow at once.
        """

        def work(tx: Any) -> pa.Table:
            if "lo" not in stmt.params:
                record = tx.run(stmt.text, params).single()
                chunks = [record[0]] if record is not None else []
            else:
                chunks = [c[0] for c in self._columns(tx, stmt, self._next_idx(tx), **params)]
            return records_to_table(chunks, schema, money=money)

        return self._read(f"read {stmt.name}", work)

    def read_events(
        self,
        event_type: EventType,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> pa.Table:
        event_type = EventType(event_type)
        money = ("amount",) if event_type in (EventType.ORDER, EventType.REFUND) else ()
        table = self._row_lists(
            q.READ_EVENTS[event_type], ARROW_SCHEMAS[event_type], money, start=start, end=end
        )
        if event_type is EventType.USER:  # in index order already (ranges, ORDER BY idx)
            return table
        return table.sort_by([("ts", "ascending"), ("event_id", "ascending")])

    def read_spend(self, start: datetime | None = None, end: datetime | None = None) -> pa.Table:
        table = self._row_lists(
            q.READ_SPEND, SPEND_SCHEMA, ("gross", "refunded", "net"), start=start, end=end
        )
        return table.sort_by("user_id")

    def clear_rejects(self, sources: Sequence[str] | None = None) -> int:
        params = {"sources": None if sources is None else list(sources)}
        return int(
            self._write(
                "clear the quarantine",
                lambda tx: tx.run(q.CLEAR_REJECTS.text, params).single()["deleted"],
            )
        )

    def read_rejects(self, limit: int | None = None) -> pa.Table:
        return self._table(
            q.READ_REJECTS, _REJECTS_OUT, limit=_NO_LIMIT if limit is None else int(limit)
        )

    def counts(self) -> dict[str, int]:
        record = self._read("count records", lambda tx: dict(tx.run(q.COUNTS.text).single()))
        return {key: int(value) for key, value in record.items()}

    def revision(self) -> int:
        """The ``KocMeta`` counter that every :meth:`append_batch` transaction bumps.

        Roles live in the DuckDB ledger file next to a Neo4j store, so role changes
        do not move it.
        """
        record = self._read("read the revision", lambda tx: tx.run(q.META_REVISION.text).single())
        return 0 if record is None else int(record["revision"])

    def watermark(self) -> datetime | None:
        us = self._read("read the watermark", lambda tx: tx.run(q.WATERMARK.text).single()[0])
        return _micros_to_datetime(us)

    # --- referral trees ---------------------------------------------------------------------
    def _user_idx(self, tx: Any, user_id: str) -> int | None:
        record = tx.run(q.USER_IDX.text, {"user_id": user_id}).single()
        return None if record is None else int(record["idx"])

    def upline(self, user_id: str, levels: int = 3) -> pa.Table:
        def work(tx: Any) -> list[tuple[int, str, int]]:
            idx = self._user_idx(tx, user_id)
            rows: list[tuple[int, str, int]] = []
            path = {idx}
            for level in range(1, int(levels) + 1):
                record = (
                    None if idx is None else tx.run(q.FIRST_REFERRER.text, {"idx": idx}).single()
                )
                if record is None or record["idx"] in path:
                    break
                idx = int(record["idx"])
                path.add(idx)
                rows.append((level, record["user_id"], record["referred_at"]))
            return rows

        return records_to_table([self._read("walk the upline", work)], _UPLINE)

    def downline(self, user_id: str, levels: int = 3) -> pa.Table:
        def work(tx: Any) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
            root = self._user_idx(tx, user_id)
            members: list[np.ndarray] = []
            if root is None:
                return members, np.zeros(0, np.int64), np.zeros(0, np.int64)
            frontier = np.array([root], dtype=np.int64)
            seen = np.zeros(0, dtype=np.int64)
            for _ in range(int(levels)):
                found = list(self._stream(tx, q.DOWNLINE_STEP, frontier=frontier.tolist()))
                block = np.array([r for c in found for r in c], dtype=np.int64).reshape(-1, 2)
                keep = np.isin(block[:, 1], frontier) & ~np.isin(block[:, 0], seen)
                level_members = np.unique(block[keep, 0])
                if level_members.size == 0:
                    break
                members.append(level_members)
                seen = np.union1d(seen, np.union1d(level_members, [root]))
                frontier = level_members
            everyone = np.concatenate(members) if members else np.zeros(0, np.int64)
            spend = [r for c in self._stream(tx, q.NET_SPEND, idxs=everyone.tolist()) for r in c]
            block = np.array(spend, dtype=np.int64).reshape(-1, 2)
            return members, block[:, 0], block[:, 1]

        members, buyer_idx, net = self._read("walk the downline", work)
        rows = []
        for level, ids in enumerate(members, start=1):
            hit = np.isin(buyer_idx, ids)
            rows.append((level, int(ids.size), int(hit.sum()), int(net[hit].sum())))
        table = pa.table(
            {
                "level": pa.array([r[0] for r in rows], pa.int32()),
                "users": pa.array([r[1] for r in rows], pa.int64()),
                "buyers": pa.array([r[2] for r in rows], pa.int64()),
                "gmv": from_units(np.array([r[3] for r in rows], dtype=np.int64)),
            }
        )
        return table.cast(_DOWNLINE)
