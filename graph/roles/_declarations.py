"""Dated role declarations: import and validation of employee rosters and KOL lists.

See :mod:`graph.roles` for the ``role_declarations`` table and its natural key.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from graph.errors import IngestError, ValidationFailure
from graph.events import Role
from graph.money import CURRENCY_MINOR_UNITS
from graph.params import Options, check_params
from graph.roles._schema import bump_revision, ensure_schema, has_tables
from graph.transaction import transaction

__all__ = ["DECLARATION_KINDS", "ImportResult", "import_declarations", "read_declarations"]

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


@dataclass(frozen=True)
class ImportResult:
    """Outcome of one roster / KOL-list import."""

    source: str
    kind: str
    rows: int
    inserted: int
    replaced: int
    unchanged: int


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
    ParameterError
        An unknown ``kind``.
    IngestError
        The file is missing, unreadable or lacks a required column.
    ValidationFailure
        Some row is invalid; the error names file, row (1 = first data row),
        field and reason; ``context["errors"]`` lists up to 50 failures.
    """
    check_params(
        "import_declarations", {"kind": [Options(sorted(DECLARATION_KINDS))]}, {"kind": kind}
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
        with transaction(cur):
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
            bump_revision(cur)
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
    if not has_tables(conn):  # never written to (maybe a read-only store): nothing declared
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
