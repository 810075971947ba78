"""The embedded store: one DuckDB file, no server.

Layout (schema ``graph``, see :data:`MIGRATIONS`):

``users``
    one row per user, with a dense ``idx`` (int32 node index used in every
    snapshot array), assigned in order of first appearance.
``events``
    share / view / forward / comment / referral rows with ``src``/``dst`` node
    indices already oriented influencer -> influenced (:mod:`graph.events`).
``orders``, ``refunds``
    money as ``DECIMAL(20, 4)``.
``rejects``
    the quarantine.
``runs``, ``run_scores``, ``run_components``
    ranking runs and their results.
``referral_first`` (v2)
    the first referral of each referee: the referral tree, kept up to date on append.
``store_revision`` (v3)
    one counter bumped by every write of events, users or roles
    (:meth:`DuckDBStore.revision`), so caches know when to refresh.

Idempotency comes from anti-joins on ``event_id`` (no unique index: an ART index
over tens of millions of ids costs more memory and insert time than it saves).
The anti-join reads only the batch's ids that an in-memory filter of the stored
ids' hashes (:mod:`graph.key_filter`, one per keyed column, loaded on a
process's first write and dropped when another writer moved the revision) cannot
rule out, so a batch of new events never scans the stored ids. Every
:meth:`DuckDBStore.append_batch` is one transaction.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from datetime import datetime
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from graph import run_tables
from graph.duckdb_files import check_wal, open_failure, store_failure
from graph.errors import StoreError
from graph.events import EDGE_TYPE_CODES, EDGE_TYPES, RECORD_SPECS, EventType
from graph.identity import (
    class_counts,
    classify,
    content_columns,
    mark_order_conflicts,
    refused_rows,
    with_ord,
)
from graph.key_filter import StoredKeys
from graph.migrations import Migration, applied_version, migrate
from graph.run_tables import RUN_TABLES_DDL
from graph.store import (
    ARROW_SCHEMAS,
    CONFLICT_SCHEMA,
    REJECT_SCHEMA,
    BatchResult,
    EdgeArrays,
    RunRecord,
    WriteResult,
)
from graph.tables import DuckDBTables, TableStore
from graph.transaction import registered, transaction

__all__ = ["DuckDBStore", "MIGRATIONS", "EVENT_CODES", "first_referral_sql"]


def first_referral_sql(where: str = "true") -> str:
    """The store's copy of :mod:`graph.referrals`' rule, as a query over ``events``.

    The binding referral ``(dst, src, ts, event_id)`` of every referee among the
    referral events matching ``where``: earliest ``ts``, ties to the smallest
    ``event_id``, self-referrals left out. It fills and maintains ``referral_first``;
    ``tests/graph/test_referrals.py`` checks it against the array version.
    """
    return f"""SELECT dst, src, ts, event_id FROM events
        WHERE etype = {EDGE_TYPE_CODES[EventType.REFERRAL]} AND src <> dst AND ({where})
        QUALIFY row_number() OVER (PARTITION BY dst ORDER BY ts, event_id) = 1"""


#: Codes stored in ``events.etype``: edge types first (same codes as snapshots), then share.
EVENT_CODES: dict[EventType, int] = {**EDGE_TYPE_CODES, EventType.SHARE: len(EDGE_TYPE_CODES)}

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "users, events, orders, refunds, quarantine, runs",
        (
            """CREATE TABLE users (
                idx          INTEGER NOT NULL,
                user_id      VARCHAR NOT NULL,
                declared     BOOLEAN NOT NULL DEFAULT false,
                role         VARCHAR NOT NULL DEFAULT 'unknown',
                display_name VARCHAR,
                store_id     VARCHAR,
                channel      VARCHAR,
                created_at   TIMESTAMPTZ,
                attrs        VARCHAR,
                phone_hash   VARCHAR,
                device_hash  VARCHAR,
                event_id     VARCHAR
            )""",
            """CREATE TABLE events (
                event_id   VARCHAR NOT NULL,
                etype      UTINYINT NOT NULL,
                src        INTEGER NOT NULL,
                dst        INTEGER,
                content_id VARCHAR,
                channel    VARCHAR,
                campaign   VARCHAR,
                ts         TIMESTAMPTZ NOT NULL
            )""",
            """CREATE TABLE orders (
                event_id          VARCHAR NOT NULL,
                order_id          VARCHAR NOT NULL,
                buyer             INTEGER NOT NULL,
                amount            DECIMAL(20, 4) NOT NULL,
                currency          VARCHAR NOT NULL,
                ts                TIMESTAMPTZ NOT NULL,
                attribution_token VARCHAR,
                store_id          VARCHAR
            )""",
            """CREATE TABLE refunds (
                event_id  VARCHAR NOT NULL,
                refund_id VARCHAR,
                order_id  VARCHAR NOT NULL,
                amount    DECIMAL(20, 4) NOT NULL,
                ts        TIMESTAMPTZ NOT NULL
            )""",
            """CREATE TABLE rejects (
                reject_id   VARCHAR NOT NULL,
                source      VARCHAR,
                row_number  BIGINT,
                event_type  VARCHAR,
                field       VARCHAR,
                value       VARCHAR,
                reason      VARCHAR NOT NULL,
                raw         VARCHAR,
                ingested_at TIMESTAMPTZ NOT NULL DEFAULT now()
            )""",
            *RUN_TABLES_DDL,
        ),
    ),
    Migration(
        2,
        "referral_first: the referral tree kept up to date on append",
        (
            """CREATE TABLE referral_first (
                referee  INTEGER NOT NULL,
                referrer INTEGER NOT NULL,
                ts       TIMESTAMPTZ NOT NULL,
                event_id VARCHAR NOT NULL
            )""",
            "INSERT INTO referral_first " + first_referral_sql(),
        ),
    ),
    Migration(
        3,
        "store_revision: a counter bumped by every data write, for cache invalidation",
        (
            "CREATE TABLE store_revision (revision BIGINT NOT NULL)",
            "INSERT INTO store_revision VALUES (1)",
        ),
    ),
)

#: bumps :meth:`DuckDBStore.revision`; run inside the writing transaction
BUMP_REVISION = "UPDATE store_revision SET revision = revision + 1"

#: keeps ``referral_first`` (first referral of each referee) right for the referees of the
#: new rows of ``_cls``
_REFRESH_REFERRAL_FIRST = f"""
    CREATE OR REPLACE TEMP TABLE _touched AS
        SELECT DISTINCT u.idx FROM _cls n JOIN users u ON u.user_id = n.d
        WHERE n._cls = 'new' AND n.etype = {EDGE_TYPE_CODES[EventType.REFERRAL]};
    DELETE FROM referral_first WHERE referee IN (SELECT idx FROM _touched);
    INSERT INTO referral_first {first_referral_sql("dst IN (SELECT idx FROM _touched)")};
    DROP TABLE _touched;
"""

# record type -> (column in the events table, expression over the batch alias b)
_EVENT_COLUMNS = ("content_id", "channel", "campaign")


def _window_sql(column: str, start: datetime | None, end: datetime | None) -> tuple[str, list]:
    clauses, params = [], []
    if start is not None:
        clauses.append(f"{column} >= ?")
        params.append(start)
    if end is not None:
        clauses.append(f"{column} < ?")
        params.append(end)
    return (" AND ".join(clauses) or "true"), params


def _new_rows_table(
    conn: duckdb.DuckDBPyConnection, inserted: int, parts: list[tuple[EventType, pa.Table]]
) -> str:
    """The temp table holding the new rows of ``_cls``: ``_cls`` itself when every row of
    the batch is new (no copy of the batch), else ``_new``, created from it."""
    if inserted == sum(t.num_rows for _, t in parts):
        return "_cls"
    conn.execute("CREATE OR REPLACE TEMP TABLE _new AS SELECT * FROM _cls WHERE _cls = 'new'")
    return "_new"


class DuckDBStore:
    """The embedded :class:`graph.store.GraphStore` on a DuckDB file.

    Parameters
    ----------
    path : str or Path
        Database file; created (with parent folders) when missing. ``":memory:"``
        gives a throw-away in-memory store.
    threads : int
        DuckDB worker threads.
    memory_limit : str
        DuckDB memory limit, e.g. ``"4GB"``.
    read_only : bool
        Open without write access (several processes may read one file).
    """

    def __init__(
        self,
        path: str | Path = "data/koc.duckdb",
        *,
        threads: int = 2,
        memory_limit: str = "4GB",
        read_only: bool = False,
    ) -> None:
        self.path = str(path)
        if self.path != ":memory:" and not read_only:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        if self.path != ":memory:":
            check_wal(self.path)  # DuckDB would silently drop a WAL it cannot read
        try:
            self.conn = duckdb.connect(
                self.path,
                read_only=read_only,
                config={"threads": threads, "memory_limit": memory_limit},
            )
            self.conn.execute("SET TimeZone = 'UTC'")
        except duckdb.Error as exc:
            raise open_failure(self.path, exc) from exc
        self._lock = threading.RLock()
        #: filters of the stored keys (``"events.event_id"`` -> hashes), valid at ``_keys_revision``
        self._keys: dict[str, StoredKeys] = {}
        self._keys_revision: int | None = None
        #: keys, ledger and role history live in this same file, on this connection
        self.tables: TableStore = DuckDBTables(
            self.conn,
            path=None if self.path == ":memory:" else Path(self.path),
            holds_graph=True,
        )
        if read_only:
            if applied_version(self.conn, "graph") < len(MIGRATIONS):
                applied = applied_version(self.conn, "graph")
                raise StoreError(
                    f"The store {self.path} is not initialised; run `koc ingest` first."
                    if applied == 0
                    else f"The store {self.path} has schema v{applied}, this koc needs "
                    f"v{len(MIGRATIONS)}; open it once for writing (e.g. `koc status` "
                    "without other readers) to upgrade it.",
                    path=self.path,
                )
        else:
            migrate(self.conn, "graph", MIGRATIONS)

    # --- lifecycle -------------------------------------------------------------------
    def __enter__(self) -> DuckDBStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.conn.close()

    def schema_version(self) -> int:
        return applied_version(self.conn, "graph")

    def schema_current(self) -> bool:
        return self.schema_version() == len(MIGRATIONS)

    def revision(self) -> int:
        """A counter bumped by every write of events, users or roles (one-row read)."""
        row = self._query("SELECT revision FROM store_revision").fetchone()
        return int(row[0]) if row else 0

    @property
    def write_lock(self) -> threading.RLock:
        """The lock every write of this store holds (another writer in the same process,
        on its own connection, can hold it to never race this store's transactions)."""
        return self._lock

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor on the same database, for use from another thread."""
        return self.conn.cursor()

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """Run a block in one transaction; roll back on any exception (also Ctrl-C)."""
        with self._lock, transaction(self.conn) as conn:
            yield conn

    # --- writes ------------------------------------------------------------------------
    def append_batch(
        self,
        tables: Mapping[EventType, pa.Table],
        rejects: pa.Table | None = None,
    ) -> BatchResult:
        by_type: dict[str, WriteResult] = {}
        stored_rejects = 0
        conflicts = [CONFLICT_SCHEMA.empty_table()]
        with self._write_errors(), self.transaction() as conn:
            revision = conn.execute("SELECT revision FROM store_revision").fetchall()[0][0]
            if (
                revision != self._keys_revision
            ):  # written by someone else: the filters may lack keys
                self._keys.clear()
            self._keys_revision = None  # until this write commits
            social: list[tuple[EventType, pa.Table]] = []
            for event_type, table in tables.items():
                event_type = EventType(event_type)
                if table.num_rows == 0:
                    by_type[event_type.value] = WriteResult()
                    continue
                table = table.select(ARROW_SCHEMAS[event_type].names).cast(
                    ARROW_SCHEMAS[event_type]
                )
                if event_type in EVENT_CODES:
                    social.append((event_type, table))
                else:
                    by_type[event_type.value], refused = self._append(conn, event_type, table)
                    conflicts.append(refused)
            if social:
                social_counts, refused = self._append_social(conn, social)
                by_type.update(social_counts)
                conflicts.append(refused)
            if rejects is not None and rejects.num_rows:
                stored_rejects = self._append_rejects(conn, rejects)
            conn.execute(BUMP_REVISION)
        self._keys_revision = revision + 1
        return BatchResult(
            by_type=by_type, rejects_stored=stored_rejects, conflicts=pa.concat_tables(conflicts)
        )

    @contextmanager
    def _write_errors(self) -> Iterator[None]:
        """A failed write (disk full, a corrupt block, ...) as a :class:`StoreError`
        that says nothing of the batch was written, instead of a raw DuckDB error."""
        try:
            yield
        except (duckdb.Error, OSError) as exc:
            raise store_failure(
                self.path,
                exc,
                "write a batch (nothing of that batch was written: the transaction was "
                "rolled back; the same command run again completes the load)",
            ) from exc

    def _stored_keys(self, conn: duckdb.DuckDBPyConnection, table: str, column: str) -> StoredKeys:
        """The filter of the stored values of ``table.column`` (read once per process)."""
        name = f"{table}.{column}"
        if name not in self._keys:
            got = conn.execute(f"SELECT hash({column}) AS h FROM {table}").fetchnumpy()
            self._keys[name] = StoredKeys(got["h"])
        return self._keys[name]

    def _add_keys(self, conn: duckdb.DuckDBPyConnection, table: str, column: str, sql: str) -> None:
        """Add the values of ``column`` in the rows of ``sql`` to the filter of ``table.column``."""
        got = conn.execute(f"SELECT hash({column}) AS h FROM ({sql})").fetchnumpy()
        self._stored_keys(conn, table, column).add(got["h"])

    def _ensure_users(self, conn: duckdb.DuckDBPyConnection, id_sql: str) -> None:
        """Give every user id produced by ``id_sql`` (column ``u``) a node index."""
        conn.execute(
            f"""
            INSERT INTO users (idx, user_id)
            SELECT (SELECT coalesce(max(idx), -1) FROM users) + row_number() OVER (ORDER BY u), u
            FROM (SELECT DISTINCT u FROM ({id_sql}) WHERE u IS NOT NULL) n
            WHERE NOT EXISTS (SELECT 1 FROM users x WHERE x.user_id = n.u)
            """
        )

    def _user_map(self, conn: duckdb.DuckDBPyConnection, id_sql: str) -> None:
        """Create ``_map`` (``u``, ``idx``): the node index of every user id produced by
        ``id_sql`` (column ``u``), new ids given the next indexes (as :meth:`_ensure_users`).

        One pass over ``users`` per batch; the batch's rows then join this small table
        instead of ``users`` (twice for an edge), and new ids are found without a
        second ``NOT EXISTS`` scan.
        """
        conn.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE _map AS
            SELECT m.u, coalesce(m.idx, b.base
                       + row_number() OVER (PARTITION BY m.idx IS NULL ORDER BY m.u))::INTEGER AS idx,
                   m.idx IS NULL AS fresh
            FROM (SELECT n.u, x.idx
                  FROM (SELECT DISTINCT u FROM ({id_sql}) WHERE u IS NOT NULL) n
                  LEFT JOIN users x ON x.user_id = n.u) m,
                 (SELECT coalesce(max(idx), -1) AS base FROM users) b
            """
        )
        conn.execute("INSERT INTO users (idx, user_id) SELECT idx, u FROM _map WHERE fresh")

    def _append_social(
        self, conn: duckdb.DuckDBPyConnection, parts: list[tuple[EventType, pa.Table]]
    ) -> tuple[dict[str, WriteResult], pa.Table]:
        """Append share/view/forward/comment/referral rows of one batch in one pass.

        All types go to ``events``, so they are normalised to its layout first and
        classified with one join against the stored ids (not one per type).
        """
        selects = []
        with ExitStack() as stack:
            for i, (event_type, table) in enumerate(parts):
                spec = RECORD_SPECS[event_type]
                stack.enter_context(registered(conn, f"_b{i}", with_ord(table)))
                cols = {c: (c if c in table.column_names else "NULL") for c in _EVENT_COLUMNS}
                selects.append(
                    f"""SELECT {i} AS _t, _ord, event_id, {EVENT_CODES[event_type]}::UTINYINT AS etype,
                           {spec.src} AS s, {spec.dst or "NULL"}::VARCHAR AS d,
                           {cols["content_id"]}::VARCHAR AS content_id,
                           {cols["channel"]}::VARCHAR AS channel,
                           {cols["campaign"]}::VARCHAR AS campaign, ts
                    FROM _b{i}"""
                )
            stored = """SELECT e.event_id, e.etype, s.user_id AS s, d.user_id AS d, e.content_id,
                       e.channel, e.campaign, e.ts
                FROM events e JOIN users s ON s.idx = e.src LEFT JOIN users d ON d.idx = e.dst
                WHERE e.event_id IN (SELECT event_id FROM _probe)"""
            classify(
                conn,
                " UNION ALL ".join(selects),
                stored,
                ("etype", "s", "d", "content_id", "channel", "campaign", "ts"),
                self._stored_keys(conn, "events", "event_id"),
            )
        conflicts = refused_rows(conn, [t for t, _ in parts])
        out = class_counts(conn, parts)
        new = _new_rows_table(conn, sum(w.inserted for w in out.values()), parts)
        self._user_map(conn, f"SELECT s AS u FROM {new} UNION ALL SELECT d FROM {new}")
        conn.execute(
            f"""INSERT INTO events
            SELECT n.event_id, n.etype, s.idx, d.idx, n.content_id, n.channel, n.campaign, n.ts
            FROM {new} n JOIN _map s ON s.u = n.s LEFT JOIN _map d ON d.u = n.d"""
        )
        self._add_keys(conn, "events", "event_id", f"SELECT event_id FROM {new}")
        if out.get(EventType.REFERRAL.value, WriteResult()).inserted:
            conn.execute(_REFRESH_REFERRAL_FIRST)
        conn.execute("DROP TABLE IF EXISTS _new; DROP TABLE _cls; DROP TABLE _map")
        return out, conflicts

    def _append(
        self, conn: duckdb.DuckDBPyConnection, event_type: EventType, table: pa.Table
    ) -> tuple[WriteResult, pa.Table]:
        """Upsert users, or append orders / refunds idempotently by ``event_id``
        (orders also unique by ``order_id``); return the counts and the conflicts."""
        with registered(conn, "_batch", with_ord(table)):
            if event_type is EventType.USER:
                return self._upsert_users(conn, table.num_rows), CONFLICT_SCHEMA.empty_table()
            content = content_columns(event_type)
            if event_type is EventType.REFUND:
                stored = f"""SELECT event_id, {", ".join(content)} FROM refunds
                    WHERE event_id IN (SELECT event_id FROM _probe)"""
            else:
                stored = """SELECT o.event_id, o.order_id, u.user_id AS buyer, o.amount, o.currency,
                        o.ts, o.attribution_token, o.store_id
                    FROM orders o JOIN users u ON u.idx = o.buyer
                    WHERE o.event_id IN (SELECT event_id FROM _probe)"""
            table_name = "refunds" if event_type is EventType.REFUND else "orders"
            keys = self._stored_keys(conn, table_name, "event_id")
            classify(conn, "SELECT 0 AS _t, * FROM _batch", stored, content, keys)
        if event_type is EventType.ORDER:
            mark_order_conflicts(
                conn, "SELECT order_id FROM orders", self._stored_keys(conn, "orders", "order_id")
            )
        conflicts = refused_rows(conn, [event_type])
        result = class_counts(conn, [(event_type, table)])[event_type.value]
        if result.inserted and event_type is EventType.REFUND:
            conn.execute(
                """INSERT INTO refunds SELECT event_id, refund_id, order_id, amount, ts
                FROM _cls WHERE _cls = 'new'"""
            )
            self._add_keys(
                conn, "refunds", "event_id", "SELECT event_id FROM _cls WHERE _cls = 'new'"
            )
        elif result.inserted:
            new = _new_rows_table(conn, result.inserted, [(event_type, table)])
            self._user_map(conn, f"SELECT buyer AS u FROM {new}")
            conn.execute(
                f"""INSERT INTO orders
                SELECT n.event_id, n.order_id, u.idx, n.amount, n.currency, n.ts,
                       n.attribution_token, n.store_id
                FROM {new} n JOIN _map u ON u.u = n.buyer"""
            )
            self._add_keys(conn, "orders", "event_id", f"SELECT event_id FROM {new}")
            self._add_keys(conn, "orders", "order_id", f"SELECT order_id FROM {new}")
            conn.execute("DROP TABLE IF EXISTS _new; DROP TABLE _map")
        conn.execute("DROP TABLE _cls")
        return result, conflicts

    def _upsert_users(self, conn: duckdb.DuckDBPyConnection, n_rows: int) -> WriteResult:
        # last record per user wins within a batch; an identical re-ingested record is a duplicate
        conn.execute(
            """
            CREATE OR REPLACE TEMP TABLE _u AS
            SELECT * EXCLUDE (_ord) FROM _batch
            QUALIFY row_number() OVER (PARTITION BY user_id ORDER BY _ord DESC) = 1
            """
        )
        unchanged = conn.execute(
            "SELECT count(*) FROM _u JOIN users x USING (user_id) WHERE x.event_id = _u.event_id"
        ).fetchall()[0][0]
        self._ensure_users(conn, "SELECT user_id AS u FROM _u")
        # The changed users in the storage order of their rows, updated by row id: DuckDB
        # applies an UPDATE whose rows arrive out of row order vector by vector against the
        # update chains of earlier writes, which made 94k updates of a 100k-user table take
        # 35 s instead of 0.7 s (issue 20; superlinear in the table's size).
        conn.execute(
            """
            CREATE OR REPLACE TEMP TABLE _uc AS
            SELECT x.rowid AS _rid, _u.* FROM _u JOIN users x USING (user_id)
            WHERE x.event_id IS DISTINCT FROM _u.event_id ORDER BY x.rowid
            """
        )
        conn.execute(
            """
            UPDATE users SET declared = true, role = coalesce(_uc.role, 'unknown'),
                display_name = _uc.display_name, store_id = _uc.store_id, channel = _uc.channel,
                created_at = _uc.created_at, attrs = _uc.attrs, phone_hash = _uc.phone_hash,
                device_hash = _uc.device_hash, event_id = _uc.event_id
            FROM _uc WHERE users.rowid = _uc._rid
            """
        )
        conn.execute("DROP TABLE _uc; DROP TABLE _u")
        return WriteResult(inserted=n_rows - int(unchanged), duplicates=int(unchanged))

    def _append_rejects(self, conn: duckdb.DuckDBPyConnection, rejects: pa.Table) -> int:
        rejects = rejects.select(REJECT_SCHEMA.names).cast(REJECT_SCHEMA)
        with registered(conn, "_rej", rejects):
            before = conn.execute("SELECT count(*) FROM rejects").fetchall()[0][0]
            conn.execute(
                """
                INSERT INTO rejects (reject_id, source, row_number, event_type, field, value, reason, raw)
                SELECT * FROM (SELECT DISTINCT ON (reject_id) * FROM _rej) r
                WHERE NOT EXISTS (SELECT 1 FROM rejects k WHERE k.reject_id = r.reject_id)
                """
            )
            return conn.execute("SELECT count(*) FROM rejects").fetchall()[0][0] - before

    # --- reads ---------------------------------------------------------------------------
    def _query(self, sql: str, params: list | None = None) -> duckdb.DuckDBPyConnection:
        return self.conn.cursor().execute(sql, params or [])

    def _arrow(self, sql: str, params: list | None = None) -> pa.Table:
        """Run a query and return its result as an Arrow table (no row objects)."""
        return self.conn.cursor().sql(sql, params=params or None).to_arrow_table()

    def node_ids(self) -> np.ndarray:
        ids = self._arrow("SELECT user_id FROM users ORDER BY idx")
        return np.asarray(ids.column(0).to_numpy(zero_copy_only=False), dtype=object)

    def read_edges(
        self,
        types: Iterable[EventType] = EDGE_TYPES,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> EdgeArrays:
        codes = sorted({EDGE_TYPE_CODES[EventType(t)] for t in types})
        if not codes:
            raise StoreError("read_edges needs at least one edge type")
        window, params = _window_sql("ts", start, end)
        arrays = (
            self.conn.cursor()
            .sql(
                f"""SELECT src, dst, etype::TINYINT AS etype, epoch_us(ts) AS ts FROM events
                WHERE etype IN ({", ".join(map(str, codes))}) AND dst IS NOT NULL AND {window}""",
                params=params or None,
            )
            .fetchnumpy()
        )
        return EdgeArrays(
            src=np.ascontiguousarray(arrays["src"], dtype=np.int32),
            dst=np.ascontiguousarray(arrays["dst"], dtype=np.int32),
            etype=np.ascontiguousarray(arrays["etype"], dtype=np.int8),
            ts=np.ascontiguousarray(arrays["ts"], dtype=np.int64),
            node_ids=self.node_ids(),
        )

    def read_events(
        self,
        event_type: EventType,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> pa.Table:
        event_type = EventType(event_type)
        schema = ARROW_SCHEMAS[event_type]
        if event_type is EventType.USER:
            window, params = _window_sql("created_at", start, end)
            sql = f"SELECT {', '.join(schema.names)} FROM users WHERE declared AND {window} ORDER BY idx"
        elif event_type is EventType.ORDER:
            window, params = _window_sql("o.ts", start, end)
            sql = f"""SELECT o.event_id, o.order_id, u.user_id AS buyer, o.amount, o.currency, o.ts,
                       o.attribution_token, o.store_id
                FROM orders o JOIN users u ON u.idx = o.buyer WHERE {window} ORDER BY o.ts, o.event_id"""
        elif event_type is EventType.REFUND:
            window, params = _window_sql("ts", start, end)
            sql = f"""SELECT event_id, refund_id, order_id, amount, ts FROM refunds
                WHERE {window} ORDER BY ts, event_id"""
        else:
            spec = RECORD_SPECS[event_type]
            window, params = _window_sql("e.ts", start, end)
            cols = []
            for name in schema.names:
                if name == spec.src:
                    cols.append(f"s.user_id AS {name}")
                elif name == spec.dst:
                    cols.append(f"d.user_id AS {name}")
                else:
                    cols.append(f"e.{name}")
            sql = f"""SELECT {", ".join(cols)} FROM events e
                JOIN users s ON s.idx = e.src LEFT JOIN users d ON d.idx = e.dst
                WHERE e.etype = {EVENT_CODES[event_type]} AND {window} ORDER BY e.ts, e.event_id"""
        return self._arrow(sql, params).cast(schema)

    def read_spend(self, start: datetime | None = None, end: datetime | None = None) -> pa.Table:
        window, params = _window_sql("o.ts", start, end)
        sql = f"""
            WITH r AS (SELECT order_id, sum(amount) AS refunded FROM refunds GROUP BY order_id),
            o AS (SELECT o.*, least(coalesce(r.refunded, 0), o.amount) AS refunded
                  FROM orders o LEFT JOIN r USING (order_id) WHERE {window})
            SELECT u.user_id, count(*)::BIGINT AS orders,
                   sum(o.amount)::DECIMAL(20, 4) AS gross,
                   sum(o.refunded)::DECIMAL(20, 4) AS refunded,
                   (sum(o.amount) - sum(o.refunded))::DECIMAL(20, 4) AS net,
                   min(o.ts) AS first_order_ts, max(o.ts) AS last_order_ts
            FROM o JOIN users u ON u.idx = o.buyer
            GROUP BY u.user_id ORDER BY u.user_id
        """
        return self._arrow(sql, params)

    def clear_rejects(self, sources: Sequence[str] | None = None) -> int:
        where = "" if sources is None else "WHERE list_contains(?, source)"
        params = [] if sources is None else [list(sources)]
        with self.transaction() as conn:
            n = conn.execute(f"SELECT count(*) FROM rejects {where}", params).fetchall()[0][0]
            conn.execute(f"DELETE FROM rejects {where}", params)
        return int(n)

    def read_rejects(self, limit: int | None = None) -> pa.Table:
        sql = "SELECT * FROM rejects ORDER BY ingested_at, source, row_number"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return self._arrow(sql)

    def counts(self) -> dict[str, int]:
        out = {t.value: 0 for t in EventType}
        for code, n in self._query("SELECT etype, count(*) FROM events GROUP BY etype").fetchall():
            out[next(t for t, c in EVENT_CODES.items() if c == code).value] = int(n)
        out["order"] = int(self._query("SELECT count(*) FROM orders").fetchall()[0][0])
        out["refund"] = int(self._query("SELECT count(*) FROM refunds").fetchall()[0][0])
        out["user"] = int(self._query("SELECT count(*) FROM users WHERE declared").fetchall()[0][0])
        out["users"] = int(self._query("SELECT count(*) FROM users").fetchall()[0][0])
        out["rejects"] = int(self._query("SELECT count(*) FROM rejects").fetchall()[0][0])
        return out

    def watermark(self) -> datetime | None:
        row = self._query(
            """SELECT max(m) FROM (SELECT max(ts) AS m FROM events
               UNION ALL SELECT max(ts) FROM orders UNION ALL SELECT max(ts) FROM refunds)"""
        ).fetchone()
        return row[0] if row else None

    # --- referral trees ----------------------------------------------------------------
    def upline(self, user_id: str, levels: int = 3) -> pa.Table:
        sql = """
            WITH RECURSIVE walk(level, idx, referred_at, path) AS (
                SELECT 1, t.referrer, t.ts, [u.idx, t.referrer]
                FROM users u JOIN referral_first t ON t.referee = u.idx WHERE u.user_id = ?
                UNION ALL
                SELECT w.level + 1, t.referrer, t.ts, list_append(w.path, t.referrer)
                FROM walk w JOIN referral_first t ON t.referee = w.idx
                WHERE w.level < ? AND NOT list_contains(w.path, t.referrer)
            )
            SELECT level::INTEGER AS level, u.user_id, referred_at
            FROM walk JOIN users u ON u.idx = walk.idx ORDER BY level
        """
        return self._arrow(sql, [user_id, int(levels)])

    def downline(self, user_id: str, levels: int = 3) -> pa.Table:
        sql = """
            WITH RECURSIVE walk(level, idx, path) AS (
                SELECT 1, t.referee, [u.idx, t.referee]
                FROM users u JOIN referral_first t ON t.referrer = u.idx WHERE u.user_id = ?
                UNION ALL
                SELECT w.level + 1, t.referee, list_append(w.path, t.referee)
                FROM walk w JOIN referral_first t ON t.referrer = w.idx
                WHERE w.level < ? AND NOT list_contains(w.path, t.referee)
            ),
            members AS (SELECT DISTINCT ON (idx) level, idx FROM walk ORDER BY idx, level),
            member_orders AS (
                SELECT o.buyer, o.order_id, o.amount FROM orders o
                WHERE o.buyer IN (SELECT idx FROM members)
            ),
            refunded AS (
                SELECT order_id, sum(amount) AS r FROM refunds
                WHERE order_id IN (SELECT order_id FROM member_orders) GROUP BY order_id
            ),
            spend AS (
                SELECT o.buyer, sum(o.amount - least(coalesce(r.r, 0), o.amount)) AS net
                FROM member_orders o LEFT JOIN refunded r USING (order_id) GROUP BY o.buyer
            )
            SELECT level::INTEGER AS level, count(*)::BIGINT AS users,
                   count(s.buyer)::BIGINT AS buyers,
                   coalesce(sum(s.net), 0)::DECIMAL(20, 4) AS gmv
            FROM members m LEFT JOIN spend s ON s.buyer = m.idx
            GROUP BY level ORDER BY level
        """
        return self._arrow(sql, [user_id, int(levels)])

    # --- runs (graph.run_tables) ------------------------------------------------------------
    def save_run(
        self,
        run: RunRecord,
        scores: pa.Table | None = None,
        components: pa.Table | None = None,
    ) -> None:
        with self.transaction() as conn:
            run_tables.save_run(conn, run, scores, components)

    def get_run(self, run_id: str) -> RunRecord:
        return run_tables.get_run(self.conn.cursor(), run_id)

    def list_runs(self, limit: int = 20) -> list[RunRecord]:
        return run_tables.find_runs(self.conn.cursor(), limit=limit)

    def latest_run(self, status: str = "succeeded") -> RunRecord | None:
        runs = run_tables.find_runs(self.conn.cursor(), status=status, limit=1)
        return runs[0] if runs else None

    def read_scores(
        self,
        run_id: str,
        *,
        user_ids: Iterable[str] | None = None,
        limit: int | None = None,
    ) -> pa.Table:
        return run_tables.read_scores(self.conn.cursor(), run_id, user_ids=user_ids, limit=limit)

    def read_components(
        self,
        run_id: str,
        user_ids: Iterable[str] | None = None,
        *,
        component: str | None = None,
        ordered: bool = True,
    ) -> pa.Table:
        return run_tables.read_components(
            self.conn.cursor(), run_id, user_ids, component=component, ordered=ordered
        )
