"""Vectorised validation: raw string batches -> typed Arrow tables + quarantined rows.

Each batch is checked with one SQL query per record type in an in-memory DuckDB
connection: every rule is a column expression, so a batch of half a million rows
is validated without a Python loop. A row fails on its *first* broken field, in
the order of :data:`graph.events.RECORD_SPECS`; it is then quarantined with the
field, the offending value and the reason (see ``docs/ingestion.md`` for every rule).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from graph.errors import IngestError
from graph.events import EventType
from graph.ingest.keys import event_id_sql, reject_id_sql
from graph.ingest.mapping import EVENT_ID_FIELD, TYPE_FIELD, ColumnMapping
from graph.ingest.options import IngestOptions
from graph.ingest.readers import RawBatch
from graph.ingest.rules import ISO_SECONDS, type_rules
from graph.ingest.rules import quote_ident as _q
from graph.ingest.rules import quote_literal as _lit
from graph.ingest.summary import RejectSample
from graph.store import ARROW_SCHEMAS, REJECT_SCHEMA

__all__ = ["Validator", "ValidatedBatch", "UNTYPED", "reject_samples"]

#: ``by_type`` key of rows rejected before their record type was known.
UNTYPED = "untyped"
#: Column names the validator uses itself (input columns named so are ignored, with a warning).
_RESERVED = frozenset({"_row", "_type", "_e"})


@dataclass
class ValidatedBatch:
    """Typed tables per record type plus the quarantined rows of one batch."""

    tables: dict[EventType, pa.Table] = field(default_factory=dict)
    #: row number of each row of ``tables[t]``
    rows: dict[EventType, np.ndarray] = field(default_factory=dict)
    rejects: pa.Table = field(default_factory=REJECT_SCHEMA.empty_table)
    rejected_by_type: dict[str, int] = field(default_factory=dict)
    superseded: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def samples(self, limit: int) -> list[RejectSample]:
        """The first ``limit`` quarantined rows, for the summary."""
        return reject_samples(self.rejects.slice(0, limit))


def _name_empty_columns(table: pa.Table, source: str, warnings: list[str]) -> pa.Table:
    """Give columns without a name (a CSV header's trailing comma, a ``""`` JSON key,
    a Parquet column named ``""``) the name ``column_N`` (1-based position), with a warning.

    SQL cannot name an empty identifier, so such a column would break the query
    that quarantines a row; it is an unknown column like any other.
    """
    names = table.column_names
    if all(n.strip() for n in names):
        return table
    taken = set(names)
    fixed = []
    for i, n in enumerate(names, start=1):
        if n.strip():
            fixed.append(n)
            continue
        new, k = f"column_{i}", 1
        while new in taken:
            k += 1
            new = f"column_{i}_{k}"
        taken.add(new)
        fixed.append(new)
        warnings.append(
            f"{source}: column {i} has an empty column name; it is read as {new!r} "
            "(an unknown column)."
        )
    return table.rename_columns(fixed)


def _all_iso_seconds(col: pa.ChunkedArray) -> bool:
    """Whether every value of ``col`` (one at least) matches :data:`ISO_SECONDS`.

    The length test first: a column of other values is ruled out without a regex.
    """
    lengths = pc.min_max(pc.binary_length(col)).as_py()
    if lengths["min"] != 25 or lengths["max"] != 25:  # len("2026-07-06T02:54:59+08:00")
        return False
    return pc.all(pc.match_substring_regex(col, ISO_SECONDS)).as_py() is True


def reject_samples(rejects: pa.Table) -> list[RejectSample]:
    """Quarantine rows (:data:`REJECT_SCHEMA`) as summary samples."""
    cols = ["source", "row_number", "field", "value", "reason"]
    return [RejectSample(*r.values()) for r in rejects.select(cols).to_pylist()]


class Validator:
    """Validates raw batches of one ingestion run.

    Parameters
    ----------
    options : IngestOptions
        The column mapping, the record type (or None to read each row's
        ``type`` column), the unknown-column policy and the limits.

    Conflicts (an ``order_id`` or ``event_id`` already taken by other content)
    are not checked here but by the store, inside its write transaction
    (:meth:`graph.store.GraphStore.append_batch`), so concurrent writers cannot
    both win.
    """

    def __init__(self, options: IngestOptions | None = None) -> None:
        options = options or IngestOptions()
        self.options = options
        self.mapping = options.mapping or ColumnMapping()
        self.event_type = options.event_type
        self.unknown_columns = options.unknown_columns
        self.max_field_bytes = int(options.max_field_bytes)
        self.max_amount = options.max_amount
        self.conn = duckdb.connect(config={"threads": 2})
        self.conn.execute("SET TimeZone = 'UTC'").fetchall()
        self._warned: set[str] = set()
        self._maxlen: dict[str, int] = {}
        self._non_ascii: set[str] = set()
        self._iso_seconds: set[str] = set()

    def close(self) -> None:
        self.conn.close()

    def _exec(self, sql: str) -> list[tuple]:
        """Run a statement to completion (DuckDB 2 keeps unfinished results otherwise)."""
        return self.conn.execute(sql).fetchall()

    # --- the record type of each row ---------------------------------------------------------
    def _types(self, table: pa.Table, source: str) -> pa.Array:
        if self.event_type is not None:
            return pa.array(
                np.full(table.num_rows, self.event_type.value, dtype=object), pa.string()
            )
        src = self.mapping.sources(None, table.column_names).get(TYPE_FIELD)
        if src is None:
            raise IngestError(
                f"{source}: there is no '{TYPE_FIELD}' column and no record type was given; "
                "pass --type (e.g. --type order) or map your type column in --map.",
                source=source,
            )
        if src.constant is not None:
            col = pa.array([src.constant] * table.num_rows, pa.string())
        else:
            col = table.column(src.column).combine_chunks()
        t = pc.utf8_lower(pc.utf8_trim_whitespace(col))
        for alias, target in self.mapping.type_values.items():
            t = pc.if_else(pc.equal(t, alias.strip().lower()), target, t)
        return t

    # --- one batch ---------------------------------------------------------------------------
    def validate(self, batch: RawBatch, source: str) -> ValidatedBatch:
        """Check one batch; rows that fail any rule become rejects."""
        out = ValidatedBatch()
        notes: list[str] = []
        table = _name_empty_columns(batch.table, source, notes)
        out.warnings += [n for n in notes if n not in self._warned]
        self._warned.update(notes)
        reserved = [c for c in table.column_names if c in _RESERVED or c.startswith("t$")]
        if reserved:
            table = table.drop_columns(reserved)
            out.warnings.append(
                f"{source}: column name(s) {', '.join(map(repr, reserved))} are reserved "
                "for the validator and were ignored."
            )
        columns = table.column_names
        unknown = [c for c in columns if not self.mapping.is_known_column(c)]
        if unknown and self.unknown_columns == "warn":
            key = f"{source}|{','.join(unknown)}"
            if key not in self._warned:
                self._warned.add(key)
                names = ", ".join(map(repr, unknown[:20])) + (
                    f" and {len(unknown) - 20} more" if len(unknown) > 20 else ""
                )
                out.warnings.append(
                    f"{source}: column(s) {names} are not KOC fields and were ignored "
                    "(map them with --map, or use --unknown-columns reject)."
                )
        rejects = [self._raw_rejects(batch, source)]
        if table.num_rows:
            table = self._prepare(table)
            types = self._types(table, source)
            raw = table.append_column("_row", pa.array(batch.rows, pa.int64())).append_column(
                "_type", types
            )
            self.conn.register("_raw", raw)
            try:
                present = [t for t in pc.unique(types).to_pylist() if t is not None]
                valid_types = [t for t in present if t in EventType._value2member_map_]
                if types.null_count or len(valid_types) < len(present):
                    untyped = self._untyped_rejects(source, columns, valid_types)
                    if untyped.num_rows:
                        rejects.append(untyped)
                for name in valid_types:
                    et = EventType(name)
                    good, rows, bad, superseded = self._validate_type(et, source, columns, unknown)
                    out.tables[et] = good
                    out.rows[et] = rows
                    if bad.num_rows:
                        rejects.append(bad)
                        out.rejected_by_type[et.value] = bad.num_rows
                    if superseded:
                        out.superseded[et.value] = superseded
            finally:
                self.conn.unregister("_raw")
        if batch.bad:
            out.rejected_by_type[UNTYPED] = out.rejected_by_type.get(UNTYPED, 0) + len(batch.bad)
        out.rejects = pa.concat_tables([r.cast(REJECT_SCHEMA) for r in rejects])
        return out

    def _prepare(self, table: pa.Table) -> pa.Table:
        """Trim ASCII whitespace, turn empty strings into nulls, note each column's longest value.

        Done with Arrow kernels (much cheaper than SQL ``trim``); the longest value
        lets the SQL skip length checks that cannot fail in this batch, and a column
        of timestamps all shaped like :data:`graph.ingest.rules.ISO_SECONDS` is
        checked without regexes.
        """
        cols = []
        self._maxlen = {}
        self._non_ascii = set()
        self._iso_seconds = set()
        for name, col in zip(table.column_names, table.columns, strict=True):
            lengths = pc.binary_length(col)
            self._maxlen[name] = pc.max(lengths).as_py() or 0
            if pc.all(pc.string_is_ascii(col)).as_py() is False:
                self._non_ascii.add(name)
            trimmed = pc.ascii_trim_whitespace(col)
            empty = pc.equal(pc.binary_length(trimmed), 0)
            if pc.any(empty).as_py():
                trimmed = pc.if_else(empty, pa.scalar(None, pa.string()), trimmed)
            if _all_iso_seconds(trimmed):
                self._iso_seconds.add(name)
            cols.append(trimmed)
        return pa.table(cols, names=table.column_names)

    def _raw_rejects(self, batch: RawBatch, source: str) -> pa.Table:
        if not batch.bad:
            return REJECT_SCHEMA.empty_table()
        t = pa.table(
            {
                "source": [source] * len(batch.bad),
                "row_number": pa.array([b.row for b in batch.bad], pa.int64()),
                "event_type": pa.array([None] * len(batch.bad), pa.string()),
                "field": pa.array([b.field for b in batch.bad], pa.string()),
                "value": pa.array([b.value for b in batch.bad], pa.string()),
                "reason": [b.reason for b in batch.bad],
                "raw": pa.array([b.raw for b in batch.bad], pa.string()),
            }
        )
        return self._with_reject_ids(t)

    def _with_reject_ids(self, t: pa.Table) -> pa.Table:
        """Prepend the deterministic ``reject_id`` column to quarantine rows."""
        self.conn.register("_bad", t)
        try:
            return self.conn.sql(
                f"SELECT {reject_id_sql('source', 'row_number', 'field', 'raw')} AS reject_id, * FROM _bad"
            ).to_arrow_table()
        finally:
            self.conn.unregister("_bad")

    def _raw_json(self, columns: list[str], alias: str = "r") -> str:
        parts = ", ".join(f"{_q(c)} := {alias}.{_q(c)}" for c in columns)
        return f"left(to_json(struct_pack({parts}))::VARCHAR, 4096)"

    def _untyped_rejects(self, source: str, columns: list[str], valid: list[str]) -> pa.Table:
        if self.event_type is not None:
            return REJECT_SCHEMA.empty_table()
        src = self.mapping.sources(None, columns)[TYPE_FIELD]
        value = f"r.{_q(src.column)}" if src.column else _lit(src.constant or "")
        allowed = ", ".join(t.value for t in EventType)
        in_list = ", ".join(_lit(t) for t in valid) or "NULL"
        sql = f"""
            SELECT {_lit(source)} AS source, r._row AS row_number, NULL::VARCHAR AS event_type,
                {_lit(TYPE_FIELD)} AS field, left({value}, 256) AS value,
                CASE WHEN r._type IS NULL OR r._type = '' THEN 'missing record type'
                     ELSE {_lit("unknown record type; expected one of " + allowed)} END AS reason,
                {self._raw_json(columns)} AS raw
            FROM _raw r WHERE r._type IS NULL OR r._type NOT IN ({in_list})
        """
        t = self.conn.sql(sql).to_arrow_table()
        if not t.num_rows:
            return REJECT_SCHEMA.empty_table()
        return self._with_reject_ids(t)

    def _validate_type(
        self, et: EventType, source: str, columns: list[str], unknown: list[str]
    ) -> tuple[pa.Table, np.ndarray, pa.Table, int]:
        """Valid rows of one type (typed), their row numbers, their rejects, and users
        superseded in the batch."""
        src = self.mapping.sources(et, columns)
        raw, typed, checks = type_rules(
            et,
            src,
            columns,
            unknown,
            maxlen=self._maxlen,
            max_field_bytes=self.max_field_bytes,
            max_amount=self.max_amount,
            reject_unknown=self.unknown_columns == "reject",
            non_ascii=frozenset(self._non_ascii),
            iso_seconds=frozenset(self._iso_seconds),
        )
        schema = ARROW_SCHEMAS[et]
        inner_cols = ", ".join(f"{typed[n]} AS {_q('t$' + n)}" for n in typed)
        conds = " ".join(f"WHEN {c.condition} THEN {i}" for i, c in enumerate(checks, start=1))
        out_cols = ", ".join(
            f"r.{_q('t$' + n)} AS {_q(n)}" for n in schema.names if n != EVENT_ID_FIELD
        )
        eid = event_id_sql(
            et, {n: f"r.{_q('t$' + n)}" for n in schema.names if n != EVENT_ID_FIELD}
        )
        given = f"r.{_q('t$' + EVENT_ID_FIELD)}"
        v = self.conn.sql(
            f"""
            SELECT r._row AS _row, {out_cols}, coalesce({given}, {eid}) AS event_id,
                   CASE {conds} ELSE 0 END AS _e
            FROM (SELECT r.*, {inner_cols} FROM _raw r WHERE r._type = {_lit(et.value)}) r
            """
        ).to_arrow_table()
        ok = pc.equal(v.column("_e"), 0)
        good = v.filter(ok)
        superseded = 0
        if et is EventType.USER and good.num_rows > 1:
            kept = self._last_user_wins(good)
            superseded = good.num_rows - kept.num_rows
            good = kept
        rows = good.column("_row").to_numpy()
        good = good.select(schema.names).cast(schema)
        if good.num_rows + superseded == v.num_rows:
            return good, rows, REJECT_SCHEMA.empty_table(), superseded
        numbered = list(enumerate(checks, start=1))
        fields = " ".join(f"WHEN {i} THEN {_lit(c.field)}" for i, c in numbered)
        values = " ".join(f"WHEN {i} THEN {c.value}" for i, c in numbered)
        reasons = " ".join(f"WHEN {i} THEN {c.reason}" for i, c in numbered)
        rid = reject_id_sql("source", "row_number", "field", "raw")
        self.conn.register("_v", v.filter(pc.invert(ok)).select(["_row", "_e"]))
        try:
            bad = self.conn.sql(
                f"""
                WITH b AS (
                    SELECT {_lit(source)} AS source, v._row AS row_number,
                        {_lit(et.value)} AS event_type,
                        CASE v._e {fields} END AS field,
                        left(CASE v._e {values} END, 256) AS value,
                        CASE v._e {reasons} END AS reason,
                        {self._raw_json(columns)} AS raw
                    FROM _v v JOIN _raw r ON r._row = v._row
                )
                SELECT {rid} AS reject_id, * FROM b ORDER BY row_number
                """
            ).to_arrow_table()
        finally:
            self.conn.unregister("_v")
        return good, rows, bad, superseded

    def _last_user_wins(self, users: pa.Table) -> pa.Table:
        """Within a batch, keep the last record of each user (highest row number)."""
        self.conn.register("_users", users)
        try:
            return self.conn.sql(
                "SELECT * FROM _users QUALIFY _row = max(_row) OVER (PARTITION BY user_id)"
            ).to_arrow_table()
        finally:
            self.conn.unregister("_users")
