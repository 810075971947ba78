"""Role history: declared roles with validity periods and inferred roles with confidence.

Three kinds of people matter to a brand: its **employees** (sales guides), the
**KOLs** it pays, and its **consumers**. Roles come from two sources, kept apart:

``role_declarations``
    Dated declarations imported from an employee roster or a KOL list
    (:func:`import_declarations`): ``user_id``, ``role``, ``valid_from``,
    ``valid_to`` (exclusive, NULL = open), ``store_id`` (employees), ``agency``
    and ``fee`` (KOLs). The natural key is ``(role, user_id, valid_from)``: a
    re-imported roster row with the same start replaces the earlier one (so
    setting ``until`` on a leaver closes the period), and importing the same
    file twice changes nothing.
``role_models`` / ``role_inferences``
    Every classifier run (``koc roles infer``) stores its model version,
    parameters, threshold and cross-validated metrics, and one row per
    unlabelled user with the predicted role, the role kept after the confidence
    threshold (``unknown`` below it) and the calibrated probability.

Resolution of the role of a user at time ``t`` (:func:`role_at`), first match wins:

1. a dated declaration covering ``t`` (employee before KOL when both do);
2. the user has dated declarations but none covers ``t``: ``consumer`` (an
   employee who left on ``D`` is a consumer for events from ``D`` on);
3. the role declared on the user record itself (``users.role`` from
   ``users.csv``), when not ``unknown``;
4. the role inferred by the latest model, if its confidence reached the threshold;
5. ``unknown``.

Sources 1-3 are ``declared``, 4 is ``inferred``: an inference never overrides a
declaration.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from graph.duckdb_store import BUMP_REVISION
from graph.errors import IngestError, NotFoundError, ValidationFailure
from graph.events import Role
from graph.migrations import Migration, migrate
from graph.money import CURRENCY_MINOR_UNITS

__all__ = [
    "MIGRATIONS",
    "DECLARATION_KINDS",
    "EFFECTIVE_SCHEMA",
    "ImportResult",
    "ModelRecord",
    "ensure_schema",
    "import_declarations",
    "read_declarations",
    "save_model",
    "save_inferences",
    "read_models",
    "latest_model_version",
    "role_at",
    "next_role_change",
]

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "role declarations, role models, role inferences",
        (
            """CREATE TABLE role_declarations (
                role        VARCHAR NOT NULL,
                user_id     VARCHAR NOT NULL,
                valid_from  TIMESTAMPTZ NOT NULL,
                valid_to    TIMESTAMPTZ,
                store_id    VARCHAR,
                agency      VARCHAR,
                fee         DECIMAL(20, 4),
                currency    VARCHAR,
                source      VARCHAR,
                row_number  BIGINT,
                imported_at TIMESTAMPTZ NOT NULL DEFAULT now()
            )""",
            """CREATE TABLE role_models (
                model_version VARCHAR PRIMARY KEY,
                created_at    TIMESTAMPTZ NOT NULL,
                threshold     DOUBLE NOT NULL,
                params        VARCHAR,
                metrics       VARCHAR
            )""",
            """CREATE TABLE role_inferences (
                model_version  VARCHAR NOT NULL,
                user_id        VARCHAR NOT NULL,
                predicted_role VARCHAR NOT NULL,
                role           VARCHAR NOT NULL,
                confidence     DOUBLE NOT NULL
            )""",
        ),
    ),
)

#: ``--kind`` of an import -> (role, required columns, optional columns).
DECLARATION_KINDS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "employee": (Role.EMPLOYEE.value, ("user_id", "store_id", "since"), ("until",)),
    "kol": (Role.KOL.value, ("user_id", "agency", "since"), ("until", "fee", "currency")),
}
#: Accepted alternative column names (lower case) -> canonical name.
_ALIASES = {
    "user": "user_id",
    "uid": "user_id",
    "store": "store_id",
    "start": "since",
    "from": "since",
    "contract_start": "since",
    "end": "until",
    "to": "until",
    "contract_end": "until",
}

#: Schema of :func:`role_at` and of ``effective_roles``.
EFFECTIVE_SCHEMA = pa.schema(
    [
        ("user_id", pa.string()),
        ("ts", pa.timestamp("us", tz="UTC")),
        ("role", pa.string()),
        ("source", pa.string()),
        ("confidence", pa.float64()),
        ("model_version", pa.string()),
    ]
)


@dataclass(frozen=True)
class ImportResult:
    """Outcome of one roster / KOL-list import."""

    source: str
    kind: str
    rows: int
    inserted: int
    replaced: int
    unchanged: int


@dataclass
class ModelRecord:
    """One role-classifier run: version, threshold, parameters and CV metrics."""

    model_version: str
    created_at: datetime
    threshold: float
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)


def ensure_schema(conn: duckdb.DuckDBPyConnection) -> int:
    """Create or upgrade the ``roles`` tables on ``conn`` (the store's connection)."""
    return migrate(conn.cursor(), "roles", MIGRATIONS)


def _has_tables(conn: duckdb.DuckDBPyConnection) -> bool:
    row = (
        conn.cursor()
        .execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'role_declarations'")
        .fetchone()
    )
    return bool(row and row[0])


# --- import -----------------------------------------------------------------------------
_TS_OK = r"^\d{4}-\d{2}-\d{2}$|^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)$"


def _read_csv(path: Path) -> pa.Table:
    if not path.is_file():
        raise IngestError(f"Role file {path} does not exist; check the path.", source=str(path))
    try:
        names = pacsv.open_csv(path).schema.names
        return pacsv.read_csv(
            path,
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names}, strings_can_be_null=False
            ),
        )
    except (pa.ArrowInvalid, OSError) as exc:
        raise IngestError(
            f"Cannot read {path} as CSV with a header row: {exc}", source=str(path)
        ) from exc


def _canonical_columns(table: pa.Table, path: Path, kind: str) -> pa.Table:
    _, required, optional = DECLARATION_KINDS[kind]
    names = [_ALIASES.get(c.strip().lower(), c.strip().lower()) for c in table.column_names]
    table = table.rename_columns(names)
    missing = [c for c in required if c not in names]
    if missing:
        raise IngestError(
            f"{path}: a {kind} file needs the columns {', '.join(required)} "
            f"(optional: {', '.join(optional)}); missing {', '.join(missing)}, "
            f"found {', '.join(table.column_names)}.",
            source=str(path),
            missing=missing,
        )
    for c in optional:
        if c not in names:
            table = table.append_column(c, pa.array([""] * table.num_rows, pa.string()))
    keep = list(required + optional)
    return table.select(keep).append_column(
        "row_number", pa.array(np.arange(1, table.num_rows + 1, dtype=np.int64))
    )


def _validate_sql(kind: str) -> str:
    """One row per (row, failed check) over the raw string batch ``_roles_raw``."""
    checks = [
        (
            "user_id",
            "trim(user_id) = '' OR length(user_id) > 128",
            "user id is empty or longer than 128 characters",
        ),
        (
            "since",
            f"NOT regexp_matches(trim(since), '{_TS_OK}') OR TRY_CAST(trim(since) AS TIMESTAMPTZ) IS NULL",
            "not a date (YYYY-MM-DD) or a timezone-aware ISO-8601 timestamp",
        ),
        (
            "until",
            f"trim(until) <> '' AND (NOT regexp_matches(trim(until), '{_TS_OK}') OR TRY_CAST(trim(until) AS TIMESTAMPTZ) IS NULL)",
            "not a date (YYYY-MM-DD) or a timezone-aware ISO-8601 timestamp",
        ),
        (
            "until",
            "trim(until) <> '' AND TRY_CAST(trim(until) AS TIMESTAMPTZ) <= TRY_CAST(trim(since) AS TIMESTAMPTZ)",
            "the period ends before it starts (until <= since)",
        ),
    ]
    if kind == "employee":
        checks.append(("store_id", "trim(store_id) = ''", "an employee needs a store id"))
    else:
        currencies = ", ".join(f"'{c}'" for c in CURRENCY_MINOR_UNITS)
        checks += [
            ("agency", "trim(agency) = ''", "a KOL needs an agency (write 'independent' if none)"),
            (
                "fee",
                "trim(fee) <> '' AND (TRY_CAST(trim(fee) AS DECIMAL(20, 4)) IS NULL OR TRY_CAST(trim(fee) AS DECIMAL(20, 4)) < 0)",
                "fee must be a decimal amount >= 0",
            ),
            (
                "currency",
                f"trim(currency) <> '' AND upper(trim(currency)) NOT IN ({currencies})",
                "unknown ISO-4217 currency code",
            ),
        ]
    value = {c: c for c, _, _ in checks}
    parts = [
        f"SELECT row_number, '{col}' AS field, {value[col]} AS value, "
        f"'{reason.replace(chr(39), chr(39) * 2)}' AS reason "
        f"FROM _roles_raw WHERE {cond}"
        for col, cond, reason in checks
    ]
    parts.append(
        "SELECT row_number, 'user_id', user_id, 'the same user and start date appear twice in the file' "
        "FROM _roles_raw QUALIFY row_number() OVER (PARTITION BY trim(user_id), trim(since) ORDER BY row_number) > 1"
    )
    return " UNION ALL ".join(parts) + " ORDER BY row_number, field"


def import_declarations(
    conn: duckdb.DuckDBPyConnection, path: str | Path, *, kind: str
) -> ImportResult:
    """Import an employee roster or a KOL list (CSV, optionally gzipped) as dated declarations.

    Employee files need ``user_id, store_id, since`` and may have ``until``; KOL
    files need ``user_id, agency, since`` and may have ``until``, ``fee`` and
    ``currency`` (default CNY). Dates are ``YYYY-MM-DD`` (midnight UTC) or
    timezone-aware ISO-8601; ``until`` is exclusive. The whole file is checked
    first and nothing is written when any row is invalid (a half-loaded roster
    would let employees earn consumer commissions).

    Parameters
    ----------
    conn : duckdb.DuckDBPyConnection
        The embedded store's connection (``store.conn``).
    path : str or Path
        The CSV file.
    kind : {"employee", "kol"}
        What the file lists.

    Returns
    -------
    ImportResult
        Rows read, inserted, replaced (same user, role and start: later import wins)
        and unchanged (identical to what is stored).

    Raises
    ------
    IngestError
        The file is missing, unreadable or lacks a required column.
    ValidationFailure
        Some row is invalid; the error names file, row (1 = first data row),
        field and reason; ``context["errors"]`` lists up to 50 failures.
    """
    if kind not in DECLARATION_KINDS:
        raise IngestError(
            f"The 'kind' parameter of import_declarations must be one of "
            f"{sorted(DECLARATION_KINDS)}. Got {kind!r} instead.",
            kind=kind,
        )
    path = Path(path)
    role = DECLARATION_KINDS[kind][0]
    raw = _canonical_columns(_read_csv(path), path, kind)
    ensure_schema(conn)
    cur = conn.cursor()
    cur.register("_roles_raw", raw)
    try:
        errors = cur.execute(_validate_sql(kind)).fetchall()
        if errors:
            row, fld, value, reason = errors[0]
            more = f" ({len(errors) - 1} more problems)" if len(errors) > 1 else ""
            exc = ValidationFailure(
                f"{reason}{more}; nothing was imported, fix the file and import it again",
                source=str(path),
                row=int(row),
                field=fld,
                value=value,
            )
            exc.context["errors"] = [
                {"row": int(r), "field": f, "value": v, "reason": why}
                for r, f, v, why in errors[:50]
            ]
            raise exc
        fee = "TRY_CAST(nullif(trim(fee), '') AS DECIMAL(20, 4))" if kind == "kol" else "NULL"
        currency = (
            "CASE WHEN trim(fee) = '' THEN NULL ELSE coalesce(nullif(upper(trim(currency)), ''), 'CNY') END"
            if kind == "kol"
            else "NULL"
        )
        store = "trim(store_id)" if kind == "employee" else "NULL"
        agency = "trim(agency)" if kind == "kol" else "NULL"
        cur.execute(
            f"""CREATE OR REPLACE TEMP TABLE _roles_new AS
            SELECT '{role}' AS role, trim(user_id) AS user_id,
                   CAST(trim(since) AS TIMESTAMPTZ) AS valid_from,
                   CAST(nullif(trim(until), '') AS TIMESTAMPTZ) AS valid_to,
                   {store} AS store_id, {agency} AS agency, {fee} AS fee,
                   {currency} AS currency, ? AS source, row_number
            FROM _roles_raw""",
            [str(path)],
        )
        key = "d.role = n.role AND d.user_id = n.user_id AND d.valid_from = n.valid_from"
        same = (
            "d.valid_to IS NOT DISTINCT FROM n.valid_to AND d.store_id IS NOT DISTINCT FROM n.store_id "
            "AND d.agency IS NOT DISTINCT FROM n.agency AND d.fee IS NOT DISTINCT FROM n.fee "
            "AND d.currency IS NOT DISTINCT FROM n.currency"
        )
        cur.execute("BEGIN TRANSACTION")
        try:
            counts = cur.execute(
                f"""SELECT count(*) FILTER (WHERE {same}), count(*)
                FROM _roles_new n JOIN role_declarations d ON {key}"""
            ).fetchone()
            unchanged, existing = counts if counts else (0, 0)
            cur.execute(
                f"""DELETE FROM role_declarations d WHERE EXISTS
                (SELECT 1 FROM _roles_new n WHERE {key} AND NOT ({same}))"""
            )
            cur.execute(
                f"""INSERT INTO role_declarations (role, user_id, valid_from, valid_to, store_id,
                    agency, fee, currency, source, row_number)
                SELECT * FROM _roles_new n
                WHERE NOT EXISTS (SELECT 1 FROM role_declarations d WHERE {key})"""
            )
            cur.execute("DROP TABLE _roles_new")
            _bump_revision(cur)
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
    finally:
        cur.unregister("_roles_raw")
    rows = raw.num_rows
    return ImportResult(
        source=str(path),
        kind=kind,
        rows=rows,
        inserted=rows - int(existing),
        replaced=int(existing) - int(unchanged),
        unchanged=int(unchanged),
    )


def read_declarations(conn: duckdb.DuckDBPyConnection, role: str | None = None) -> pa.Table:
    """Stored dated declarations (optionally of one role), ordered by user and start."""
    where = "WHERE role = ?" if role else ""
    if not _has_tables(conn):  # never written to (maybe a read-only store): nothing declared
        where = "WHERE false"
        role = None
        sql_from = (
            "(SELECT NULL::VARCHAR AS role, NULL::VARCHAR AS user_id, NULL::TIMESTAMPTZ AS valid_from, "
            "NULL::TIMESTAMPTZ AS valid_to, NULL::VARCHAR AS store_id, NULL::VARCHAR AS agency, "
            "NULL::DECIMAL(20, 4) AS fee, NULL::VARCHAR AS currency, NULL::VARCHAR AS source)"
        )
    else:
        sql_from = "role_declarations"
    return (
        conn.cursor()
        .sql(
            f"""SELECT role, user_id, valid_from, valid_to, store_id, agency, fee, currency, source
            FROM {sql_from} d {where} ORDER BY user_id, valid_from, role""",
            params=[role] if role else None,
        )
        .to_arrow_table()
    )


def _bump_revision(cur: duckdb.DuckDBPyConnection) -> None:
    """Tell caches that roles changed: bump the store's revision when the roles live in
    the store's own file (a separate ledger file of a Neo4j setup has no counter)."""
    found = cur.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'store_revision' "
        "AND schema_name = 'main' AND database_name = current_database()"
    ).fetchone()
    if found and found[0]:
        cur.execute(BUMP_REVISION)


# --- models and inferences ----------------------------------------------------------------
def save_model(conn: duckdb.DuckDBPyConnection, record: ModelRecord) -> None:
    """Insert or replace one model record."""
    ensure_schema(conn)
    cur = conn.cursor()
    cur.execute("DELETE FROM role_models WHERE model_version = ?", [record.model_version])
    cur.execute(
        "INSERT INTO role_models VALUES (?, ?, ?, ?, ?)",
        [
            record.model_version,
            record.created_at,
            float(record.threshold),
            json.dumps(record.params, sort_keys=True, default=str),
            json.dumps(record.metrics, sort_keys=True, default=str),
        ],
    )
    _bump_revision(cur)


def save_inferences(
    conn: duckdb.DuckDBPyConnection, model_version: str, inferences: pa.Table
) -> int:
    """Replace the inferences of ``model_version`` by ``inferences``.

    ``inferences`` has columns ``user_id``, ``predicted_role``, ``role`` (after the
    threshold) and ``confidence``. Inferences of other model versions are kept.
    """
    ensure_schema(conn)
    cur = conn.cursor()
    cur.register("_inf", inferences.select(["user_id", "predicted_role", "role", "confidence"]))
    try:
        cur.execute("BEGIN TRANSACTION")
        cur.execute("DELETE FROM role_inferences WHERE model_version = ?", [model_version])
        cur.execute(
            "INSERT INTO role_inferences SELECT ?, user_id, predicted_role, role, confidence FROM _inf",
            [model_version],
        )
        _bump_revision(cur)
        cur.execute("COMMIT")
    finally:
        cur.unregister("_inf")
    return inferences.num_rows


def read_models(conn: duckdb.DuckDBPyConnection, limit: int = 20) -> list[ModelRecord]:
    """Most recent model records first."""
    if not _has_tables(conn):
        return []
    rows = (
        conn.cursor()
        .execute(
            f"SELECT * FROM role_models ORDER BY created_at DESC, model_version DESC LIMIT {int(limit)}"
        )
        .fetchall()
    )
    return [
        ModelRecord(v, c, float(t), json.loads(p or "{}"), json.loads(m or "{}"))
        for v, c, t, p, m in rows
    ]


def _model_exists(conn: duckdb.DuckDBPyConnection, model_version: str) -> bool:
    row = (
        conn.cursor()
        .execute("SELECT count(*) FROM role_models WHERE model_version = ?", [model_version])
        .fetchone()
    )
    return bool(row and row[0])


def latest_model_version(conn: duckdb.DuckDBPyConnection) -> str | None:
    """Version of the most recent role model, or None when no model was trained."""
    models = read_models(conn, limit=1)
    return models[0].model_version if models else None


# --- resolution -------------------------------------------------------------------------------
def _resolve_sql(has_roles: bool, model_version: str | None) -> str:
    """Role of each ``_roles_q(i, user_id, ts)`` row; see the module docstring."""
    if has_roles:
        decl = "role_declarations"
        inf = (
            "(SELECT user_id, role, confidence, model_version FROM role_inferences "
            "WHERE model_version = $mv)"
            if model_version is not None
            else "(SELECT NULL::VARCHAR AS user_id, NULL::VARCHAR AS role, NULL::DOUBLE AS confidence, "
            "NULL::VARCHAR AS model_version WHERE false)"
        )
    else:
        decl = (
            "(SELECT NULL::VARCHAR AS role, NULL::VARCHAR AS user_id, NULL::TIMESTAMPTZ AS valid_from, "
            "NULL::TIMESTAMPTZ AS valid_to WHERE false)"
        )
        inf = (
            "(SELECT NULL::VARCHAR AS user_id, NULL::VARCHAR AS role, NULL::DOUBLE AS confidence, "
            "NULL::VARCHAR AS model_version WHERE false)"
        )
    return f"""
        WITH dated AS (
            SELECT q.i, d.role FROM _roles_q q JOIN {decl} d
              ON d.user_id = q.user_id AND d.valid_from <= q.ts
             AND (d.valid_to IS NULL OR q.ts < d.valid_to)
            QUALIFY row_number() OVER (
                PARTITION BY q.i ORDER BY CASE d.role WHEN 'employee' THEN 0 ELSE 1 END) = 1
        ),
        listed AS (SELECT DISTINCT user_id FROM {decl} d),
        inf AS (SELECT * FROM {inf} x WHERE x.user_id IN (SELECT user_id FROM _roles_q))
        SELECT q.user_id, q.ts,
            CASE WHEN dated.role IS NOT NULL THEN dated.role
                 WHEN listed.user_id IS NOT NULL THEN 'consumer'
                 WHEN u.role IS NOT NULL AND u.role <> 'unknown' THEN u.role
                 WHEN inf.role IS NOT NULL THEN inf.role
                 ELSE 'unknown' END AS role,
            CASE WHEN dated.role IS NOT NULL OR listed.user_id IS NOT NULL
                   OR (u.role IS NOT NULL AND u.role <> 'unknown') THEN 'declared'
                 WHEN inf.role IS NOT NULL AND inf.role <> 'unknown' THEN 'inferred'
                 ELSE 'unknown' END AS source,
            CASE WHEN dated.role IS NOT NULL OR listed.user_id IS NOT NULL
                   OR (u.role IS NOT NULL AND u.role <> 'unknown') THEN 1.0
                 ELSE inf.confidence END AS confidence,
            CASE WHEN dated.role IS NOT NULL OR listed.user_id IS NOT NULL
                   OR (u.role IS NOT NULL AND u.role <> 'unknown') THEN NULL
                 ELSE inf.model_version END AS model_version
        FROM _roles_q q
        LEFT JOIN dated ON dated.i = q.i
        LEFT JOIN listed ON listed.user_id = q.user_id
        LEFT JOIN (SELECT user_id, role FROM users
                   WHERE declared AND user_id IN (SELECT user_id FROM _roles_q)) u
               ON u.user_id = q.user_id
        LEFT JOIN inf ON inf.user_id = q.user_id
        ORDER BY q.i
    """


def _to_ts_array(ts: Any, n: int) -> pa.Array:
    utc = pa.timestamp("us", tz="UTC")
    if ts is None or isinstance(ts, datetime):
        when = ts or datetime.now(UTC)
        if when.tzinfo is None:
            raise ValidationFailure(
                "role_at needs timezone-aware timestamps", field="ts", value=when
            )
        return pa.array([when] * n, utc)
    if isinstance(ts, pa.ChunkedArray):
        ts = ts.combine_chunks()
    if isinstance(ts, pa.Array):
        if pa.types.is_timestamp(ts.type) and ts.type.tz is None:
            raise ValidationFailure("role_at needs timezone-aware timestamps", field="ts")
        return ts.cast(utc)
    arr = np.asarray(ts)
    if arr.dtype.kind in "iu":
        return pa.array(arr.astype(np.int64), pa.int64()).cast(utc)
    return pa.array(list(arr), utc)


def role_at(
    conn: duckdb.DuckDBPyConnection,
    user_ids: Sequence[str] | np.ndarray | pa.Array | pa.ChunkedArray,
    ts: datetime | Sequence[datetime] | np.ndarray | pa.Array | None = None,
    *,
    model_version: str | None = "latest",
) -> pa.Table:
    """The effective role of each user at each time (vectorized, one SQL join).

    This is the function the commission reports call to label a beneficiary
    with the role they had *at the order date*.

    Parameters
    ----------
    conn : duckdb.DuckDBPyConnection
        The embedded store's connection (``store.conn``).
    user_ids : sequence of str
        One user id per query row (repeats allowed).
    ts : datetime, sequence of datetimes, int64 epoch microseconds, or None
        One time per row, or one time for all rows; None means now. Must be
        timezone-aware.
    model_version : str or None
        Inferences of which model fill in undeclared users: ``"latest"`` (the
        default), a version string, or None to use declarations only.

    Returns
    -------
    pyarrow.Table
        :data:`EFFECTIVE_SCHEMA`, one row per query row in input order: ``role``,
        ``source`` (``declared`` | ``inferred`` | ``unknown``), ``confidence``
        (1.0 for declared roles, the calibrated probability for inferred ones)
        and ``model_version`` (inferred rows only).

    Raises
    ------
    NotFoundError
        ``model_version`` names a model that was never trained.
    """
    ids = user_ids.combine_chunks() if isinstance(user_ids, pa.ChunkedArray) else user_ids
    ids = ids if isinstance(ids, pa.Array) else pa.array(np.asarray(ids, dtype=object), pa.string())
    n = len(ids)
    q = pa.table(
        {
            "i": pa.array(np.arange(n, dtype=np.int64)),
            "user_id": ids.cast(pa.string()),
            "ts": _to_ts_array(ts, n),
        }
    )
    has_roles = _has_tables(conn)
    version = model_version
    if has_roles and model_version == "latest":
        version = latest_model_version(conn)
    elif has_roles and model_version is not None and not _model_exists(conn, model_version):
        raise NotFoundError(
            f"No role model {model_version!r}; `koc roles infer` trains one.",
            model_version=model_version,
        )
    cur = conn.cursor()
    cur.register("_roles_q", q)
    try:
        params = {"mv": version} if has_roles and version is not None else None
        out = cur.sql(_resolve_sql(has_roles, version), params=params).to_arrow_table()
    finally:
        cur.unregister("_roles_q")
    return out.cast(EFFECTIVE_SCHEMA)


def next_role_change(conn: duckdb.DuckDBPyConnection, after: datetime) -> datetime | None:
    """The first start or end of a declared role period after ``after`` (None if none):
    until then, :func:`role_at` of "now" gives the same answers."""
    if not _has_tables(conn):
        return None
    row = (
        conn.cursor()
        .execute(
            """SELECT min(t) FROM (
                SELECT valid_from AS t FROM role_declarations WHERE valid_from > $after
                UNION ALL SELECT valid_to FROM role_declarations WHERE valid_to > $after)""",
            {"after": after},
        )
        .fetchone()
    )
    return row[0] if row else None
