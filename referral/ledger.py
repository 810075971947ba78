"""The commission ledger: append-only DuckDB tables and the status of each entry.

The ledger lives on the embedded store's own DuckDB connection when the graph
store is :class:`graph.duckdb_store.DuckDBStore`, or in a separate DuckDB file
(setting ``ledger_path``) beside a Neo4j store. Nothing is ever updated: status
changes are rows of ``referral_status``; see :mod:`referral.schema`.

Status of an entry, as of an instant ``T``
------------------------------------------
1. ``paid`` / ``carried`` once a period close settled it (final);
2. else ``held`` when its root entry (the commission a reversal belongs to) has a
   ``held`` transition not followed by a ``released`` or ``voided`` one;
3. else ``voided`` when that latest hold transition is ``voided`` (a person rejected
   the held commission; its void is a reversal entry, :meth:`Ledger.void`);
4. else ``reversed`` for a commission fully cancelled by its reversals;
5. else ``payable`` when ``payable_at <= T`` (order time + holding period), else ``pending``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from graph.errors import ConfigError, ConflictError, NotFoundError, ParameterError, StoreError
from graph.migrations import applied_version, migrate
from graph.money import UNITS_PER_CURRENCY_UNIT
from graph.transaction import transaction
from referral.ledger_query import ENTRY_ORDERS, EntryFilter, Totals
from referral.rules import CommissionRules
from referral.schema import COMPONENT, MIGRATIONS

__all__ = ["Ledger", "STATUSES", "HOLD_STATES", "MIN_ID_PREFIX", "entries_sql", "refund_target_sql"]

#: Every status an entry can show.
STATUSES: tuple[str, ...] = ("pending", "payable", "held", "voided", "reversed", "paid", "carried")
#: Hold transitions of ``referral_status`` (the latest one is the entry's hold state).
HOLD_STATES: tuple[str, ...] = ("held", "released", "voided")
#: Shortest entry id prefix accepted where an id is expected (ids are 32 hex digits).
MIN_ID_PREFIX = 6


def _entry_view(bounded: bool) -> str:
    """The ``WITH`` clauses of view ``ledger``; ``bounded`` adds ``$entry_seq`` /
    ``$status_seq``: only entries and status rows up to those seqs (as of a close)."""
    e_cut = "AND seq <= $entry_seq" if bounded else ""
    s_cut = "AND seq <= $status_seq" if bounded else ""
    states = ", ".join(f"'{h}'" for h in HOLD_STATES)
    return f"""
    hold AS (
        SELECT entry_id, arg_max(status, seq) AS hold_state, arg_max(reason, seq) AS hold_reason
        FROM referral_status WHERE status IN ({states}) {s_cut} GROUP BY entry_id
    ),
    settle AS (
        SELECT entry_id, arg_max(status, seq) AS settled, arg_max(period, seq) AS settled_period
        FROM referral_status WHERE status IN ('paid', 'carried') {s_cut} GROUP BY entry_id
    ),
    rev AS (
        SELECT orig_entry_id AS entry_id, sum(amount) AS reversed
        FROM referral_entries WHERE kind = 'reversal' {e_cut} GROUP BY orig_entry_id
    ),
    ledger AS MATERIALIZED (
        SELECT e.*, coalesce(r.reversed, 0)::DECIMAL(20, 4) AS reversed,
            CASE
                WHEN s.settled IS NOT NULL THEN s.settled
                WHEN h.hold_state = 'held' THEN 'held'
                WHEN h.hold_state = 'voided' THEN 'voided'
                WHEN e.kind <> 'reversal' AND e.amount > 0
                     AND e.amount + coalesce(r.reversed, 0) = 0 THEN 'reversed'
                WHEN e.payable_at <= $as_of THEN 'payable'
                ELSE 'pending'
            END AS status,
            coalesce(h.hold_state = 'held', false) AS is_held,
            CASE WHEN h.hold_state = 'held' THEN h.hold_reason END AS hold_reason,
            s.settled_period
        FROM referral_entries e
        LEFT JOIN hold h ON h.entry_id = coalesce(e.orig_entry_id, e.entry_id)
        LEFT JOIN settle s ON s.entry_id = e.entry_id
        LEFT JOIN rev r ON r.entry_id = e.entry_id
        WHERE true {"AND e.seq <= $entry_seq" if bounded else ""}
    )"""


def entries_sql(*, bounded: bool = False) -> str:
    """``WITH`` clauses defining the view ``ledger`` (entries plus derived status).

    The SQL takes the named parameter ``$as_of`` (TIMESTAMPTZ) and, when ``bounded``,
    ``$entry_seq`` and ``$status_seq`` (BIGINT): the ledger as it stood when those were
    its last rows (:meth:`Ledger.close_marks`).
    """
    return "WITH " + _entry_view(bounded)


def refund_target_sql(entry: str, refunded: str, order_amount: str, minor_digits: int) -> str:
    """DuckDB expression: minor units of entry ``entry`` reversed after refunds ``refunded``.

    ``round_half_up(c * R / A)`` for an entry of ``c`` minor units, refunds totalling
    ``R`` (already capped at the order amount) and an order of amount ``A > 0``,
    computed exactly as ``(2 c R + A) // (2 A)`` on HUGEINT with ``R`` and ``A`` in
    units of ``10**-4``. Each refund books the difference of two targets, so a full
    refund nets every entry to exactly zero.
    """
    c = f"({entry} * {10**minor_digits})::HUGEINT"
    units = UNITS_PER_CURRENCY_UNIT
    r, a = f"({refunded} * {units})::HUGEINT", f"({order_amount} * {units})::HUGEINT"
    return f"((2 * {c} * {r} + {a}) // (2 * {a}))"


class Ledger:
    """Append-only commission ledger on a DuckDB connection.

    Parameters
    ----------
    conn : duckdb.DuckDBPyConnection
        The connection; the ledger's tables are created on it (migration component
        ``referral``) unless ``read_only``.
    read_only : bool
        Do not create tables; a store without a ledger then reads as empty.
    owns_conn : bool
        Close ``conn`` in :meth:`close` (a separate ledger file).
    """

    def __init__(
        self,
        conn: duckdb.DuckDBPyConnection,
        *,
        read_only: bool = False,
        owns_conn: bool = False,
    ) -> None:
        self.conn = conn
        self._owns = owns_conn
        if read_only:
            # readable from schema v1 on; later tables (v2: re-attributions) are optional
            self.schema_version = applied_version(conn, COMPONENT)
            self.ready = self.schema_version >= 1
        else:
            self.schema_version = migrate(conn, COMPONENT, MIGRATIONS)
            self.ready = True

    # --- lifecycle -------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        store: Any,
        ledger_path: str | Path | None = None,
        *,
        read_only: bool = False,
    ) -> Ledger:
        """The ledger of ``store``: in its tables (``store.tables``), or in ``ledger_path``.

        ``ledger_path`` names a DuckDB file of its own; it is ignored when it is the
        file of the store's tables (the Neo4j store opens ``KOC_LEDGER_PATH`` as its
        tables), so one file is never opened twice.

        Raises
        ------
        StoreError
            The store has no tables (Neo4j without ``KOC_LEDGER_PATH``) and no
            ``ledger_path`` is given.
        """
        if isinstance(store, Ledger):
            return store
        tables = store.tables
        same_file = (
            ledger_path is not None
            and tables.path is not None
            and Path(ledger_path).resolve() == tables.path.resolve()
        )
        if ledger_path is None or same_file:
            return cls(tables.conn, read_only=read_only)
        path = Path(ledger_path)
        if not read_only:
            path.parent.mkdir(parents=True, exist_ok=True)
        try:
            own = duckdb.connect(str(path), read_only=read_only and path.exists())
            own.execute("SET TimeZone = 'UTC'")
        except duckdb.Error as exc:
            raise StoreError(f"Cannot open the ledger {path}: {exc}", path=str(path)) from exc
        return cls(own, read_only=read_only, owns_conn=True)

    def close(self) -> None:
        """Close the connection when the ledger owns it (a separate ledger file)."""
        if self._owns:
            self.conn.close()

    def drop_scratch(self) -> None:
        """Drop the session's temporary tables and views whose names start with ``_``.

        Attribution and closing build scratch tables on the ledger connection (the
        store's own one for the embedded store); dropping them frees their memory.
        """
        cur = self.conn
        for kind in ("VIEW", "TABLE"):
            src = "duckdb_views()" if kind == "VIEW" else "duckdb_tables()"
            names = cur.execute(
                f"SELECT {'view_name' if kind == 'VIEW' else 'table_name'} FROM {src} "
                "WHERE temporary AND starts_with("
                + ("view_name" if kind == "VIEW" else "table_name")
                + ", '_')"
            ).fetchall()
            for (name,) in names:
                cur.execute(f'DROP {kind} IF EXISTS "{name}"')

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One transaction on the ledger connection; rolled back on any exception."""
        with transaction(self.conn) as conn:
            yield conn

    # --- reads -----------------------------------------------------------------------------
    def arrow(self, sql: str, params: Any = None) -> pa.Table:
        """Run a query on a fresh cursor and return an Arrow table."""
        return self.conn.cursor().sql(sql, params=params or None).to_arrow_table()

    def scalar(self, sql: str, params: Any = None) -> Any:
        """First column of the first row of a query (None when there is no row).

        Runs on the ledger connection itself, so it sees the open transaction.
        """
        rows = self.conn.execute(sql, params or []).fetchall()
        return rows[0][0] if rows else None

    def as_of(self) -> datetime:
        """The ledger's clock: the data time of the latest attribution run.

        Used instead of ``now()`` so that statuses and reports depend only on the
        ledger. Falls back to 1970-01-01 for an empty ledger.
        """
        if not self.ready:
            return datetime(1970, 1, 1, tzinfo=UTC)
        value = self.scalar("SELECT max(as_of) FROM referral_runs")
        return value if value is not None else datetime(1970, 1, 1, tzinfo=UTC)

    def closed_periods(self) -> list[str]:
        """Closed periods, oldest first."""
        if not self.ready:
            return []
        rows = (
            self.conn.cursor()
            .execute("SELECT period FROM referral_periods ORDER BY period")
            .fetchall()
        )
        return [r[0] for r in rows]

    def last_closed(self) -> str | None:
        """The latest closed period, or None."""
        closed = self.closed_periods()
        return closed[-1] if closed else None

    def entries(
        self,
        where: EntryFilter | None = None,
        *,
        as_of: datetime | None = None,
        order: str = "seq",
        limit: int | None = None,
    ) -> pa.Table:
        """Ledger entries with derived ``status`` (the view of :func:`entries_sql`).

        Parameters
        ----------
        where : EntryFilter, optional
            Which entries (all when omitted).
        as_of : datetime, optional
            Clock of the derived status; defaults to :meth:`as_of`.
        order : {"seq", "beneficiary"}
            Ledger order, or by beneficiary then ledger order.
        limit : int, optional
        """
        if order not in ENTRY_ORDERS:
            raise ConfigError(
                f"Unknown entry order {order!r}; use one of {', '.join(ENTRY_ORDERS)}.",
                key="order",
            )
        tail = f" ORDER BY {ENTRY_ORDERS[order]}"
        if limit is not None:
            tail += f" LIMIT {int(limit)}"
        return self._query("*", where, tail, as_of)

    def totals(
        self, totals: Totals, where: EntryFilter | None = None, *, as_of: datetime | None = None
    ) -> pa.Table:
        """Named aggregates of the entries matching ``where`` (:class:`Totals`)."""
        return self._query(totals.select_sql(), where, totals.tail_sql(), as_of)

    def _query(
        self, select: str, where: EntryFilter | None, tail: str, as_of: datetime | None
    ) -> pa.Table:
        if not self.ready:
            return pa.table({})
        condition, params = (where or EntryFilter()).sql()
        sql = f"{entries_sql()} SELECT {select} FROM ledger WHERE {condition}{tail}"
        return self.arrow(sql, {"as_of": as_of or self.as_of(), **params})

    # --- writes ----------------------------------------------------------------------------
    def register_rules(self, rules: CommissionRules) -> None:
        """Record ``rules`` under their version.

        Raises
        ------
        ConflictError
            The ledger already holds different rules under the same version.
        """
        known = self.scalar("SELECT digest FROM referral_rules WHERE version = ?", [rules.version])
        if known is None:
            self.conn.execute(
                "INSERT INTO referral_rules VALUES (?, ?, ?)",
                [rules.version, rules.digest(), rules.to_json()],
            )
        elif known != rules.digest():
            raise ConflictError(
                f"The ledger already has different commission rules under version "
                f"{rules.version!r}; give the changed rules a new version.",
                version=rules.version,
            )

    def add_status(
        self,
        entry_ids: list[str],
        status: str,
        *,
        actor: str,
        reason: str | None,
        at: datetime,
        period: str | None = None,
    ) -> int:
        """Append one status transition per entry (in the given order); return the count."""
        if not entry_ids:
            return 0
        base = self.scalar("SELECT coalesce(max(seq), 0) FROM referral_status")
        tbl = pa.table({"entry_id": entry_ids, "i": list(range(1, len(entry_ids) + 1))})
        cur = self.conn
        cur.register("_st_ids", tbl)
        try:
            cur.execute(
                """INSERT INTO referral_status
                SELECT ? + i, entry_id, ?, ?, ?, ?, ? FROM _st_ids ORDER BY i""",
                [base, status, at, period, actor, reason],
            )
        finally:
            cur.unregister("_st_ids")
        return len(entry_ids)

    def close_marks(self, period: str) -> tuple[int, int] | None:
        """``(entry_seq, status_seq)``: the last entry and status row when ``period`` was
        closed (None when it is open). For closes recorded before schema v3, the last
        status row of the close's own settlement and the last entry of a period up to it."""
        if not self.ready or period not in self.closed_periods():
            return None
        if self.schema_version >= 3:
            row = self.conn.execute(
                "SELECT entry_seq, status_seq FROM referral_close_marks WHERE period = ?",
                [period],
            ).fetchall()
            if row:
                return int(row[0][0]), int(row[0][1])
        status_seq = self.scalar(
            "SELECT coalesce(max(seq), 0) FROM referral_status WHERE period <= ? "
            "AND status IN ('paid', 'carried')",
            [period],
        )
        entry_seq = self.scalar(
            "SELECT coalesce(max(seq), 0) FROM referral_entries WHERE period <= ?", [period]
        )
        return int(entry_seq), int(status_seq)

    def resolve_ids(self, ids: list[str], *, state: str = "held") -> list[str]:
        """Full entry ids of ``ids`` (whole ids or unique prefixes of at least
        :data:`MIN_ID_PREFIX` characters) among root commissions whose hold state is
        ``state`` (``held``; ``any`` for every commission ever held).

        Raises
        ------
        NotFoundError
            An id matches no such entry, a prefix matches several, or is shorter than
            :data:`MIN_ID_PREFIX` (each named).
        """
        states = ", ".join(f"'{h}'" for h in HOLD_STATES)
        last = self.arrow(
            f"""SELECT entry_id, arg_max(status, seq) AS state FROM referral_status
            WHERE status IN ({states}) GROUP BY entry_id"""
        ).to_pylist()
        known = sorted(r["entry_id"] for r in last if state == "any" or r["state"] == state)
        out = []
        for given in ids:
            given = given.strip().lower()
            if len(given) < MIN_ID_PREFIX:
                raise NotFoundError(
                    f"Entry id {given!r} is too short; give at least {MIN_ID_PREFIX} characters "
                    "of a held entry's id.",
                    entry_id=given,
                )
            hits = [k for k in known if k.startswith(given)]
            if len(hits) != 1:
                what = "is not a held entry" if state == "held" else "was never held"
                raise NotFoundError(
                    f"Entry {given!r} {what}."
                    if not hits
                    else f"Entry id {given!r} is ambiguous: it starts {len(hits)} entries "
                    f"({', '.join(h[:12] for h in hits[:5])}...); give more characters.",
                    entry_id=given,
                )
            out.append(hits[0])
        return list(dict.fromkeys(out))

    def release(
        self, entry_ids: list[str], *, reason: str, by: str, at: datetime | None = None
    ) -> int:
        """Release held entries (ids or unique prefixes): records who released what and why.

        Raises
        ------
        NotFoundError
            An id is not a held entry (it names the id).
        ParameterError
            Empty reason or name.
        """
        _need_reason(reason, by, "release")
        ids = self.resolve_ids(entry_ids)
        return self.add_status(ids, "released", actor=by, reason=reason, at=at or datetime.now(UTC))

    def void(
        self, entry_ids: list[str], *, reason: str, by: str, at: datetime | None = None
    ) -> list[str]:
        """Void (reject) held commissions: for each, book a reversal entry netting it to
        zero, record a ``voided`` hold transition and a ``referral_voids`` row (who, when,
        why). Nothing is updated or deleted; the pair settles to zero at the next close.

        The void is booked in the commission's period while that is open, else in the first
        open period; it is payable with the commission. A voided commission takes no
        further refund reversals. Returns the ids of the void entries.

        Raises
        ------
        NotFoundError
            An id is not a held entry.
        ParameterError
            Empty reason or name.
        """
        from referral.periods import next_period

        _need_reason(reason, by, "void")
        ids = self.resolve_ids(entry_ids)
        at = at or datetime.now(UTC)
        last = self.last_closed()
        open_from = next_period(last) if last is not None else "0000-00"
        tbl = pa.table({"entry_id": ids})
        with self.transaction() as conn:
            base = self.scalar("SELECT coalesce(max(seq), 0) FROM referral_entries")
            conn.register("_void_ids", tbl)
            try:
                conn.execute(
                    """CREATE OR REPLACE TEMP TABLE _voids AS
                    SELECT e.*, md5(concat_ws('|', 'v', e.entry_id)) AS void_id,
                           -(e.amount + coalesce(r.rev, 0))::DECIMAL(20, 4) AS void_amount,
                           ? + row_number() OVER (ORDER BY e.seq) AS void_seq
                    FROM referral_entries e JOIN _void_ids v USING (entry_id)
                    LEFT JOIN (SELECT orig_entry_id, sum(amount) AS rev FROM referral_entries
                               WHERE kind = 'reversal' GROUP BY 1) r
                           ON r.orig_entry_id = e.entry_id""",
                    [base],
                )
            finally:
                conn.unregister("_void_ids")
            conn.execute(
                """INSERT INTO referral_entries
                SELECT void_id, void_seq, 'reversal', model, order_id, buyer, beneficiary,
                       beneficiary_role, level, rule_version, basis, rate, void_amount, currency,
                       ?, payable_at, CASE WHEN period >= ? THEN period ELSE ? END, entry_id,
                       NULL, format('voided by {}: {} (reverses {} of entry {})', ?, ?,
                                    -void_amount, entry_id),
                       'void'
                FROM _voids WHERE void_amount <> 0 ORDER BY void_seq""",
                [at, open_from, open_from, by, reason],
            )
            conn.execute(
                "INSERT INTO referral_voids SELECT entry_id, void_id, void_amount, ?, ?, ? "
                "FROM _voids ORDER BY void_seq",
                [at, by, reason],
            )
            self.add_status(ids, "voided", actor=by, reason=reason, at=at)
            voided = [
                r[0]
                for r in conn.execute(
                    "SELECT void_id FROM _voids WHERE void_amount <> 0 ORDER BY void_seq"
                ).fetchall()
            ]
            conn.execute("DROP TABLE _voids")
        return voided


def _need_reason(reason: str, by: str, what: str) -> None:
    if not reason.strip() or not by.strip():
        raise ParameterError(
            f"A {what} needs a 'reason' and 'by' (why, and who decided).",
            parameter="reason" if not reason.strip() else "by",
        )
