"""Bulk export of the embedded store for ``neo4j-admin database import full``.

``koc export neo4j-import DIR`` writes, for every node label and relationship
type of the Neo4j data model (:mod:`graph.cypher`), one header file
(``<name>.header.csv``) and one data file (``<name>.csv``, or ``<name>.csv.gz``
with ``compress=True``) straight from DuckDB with ``COPY ... TO`` (no row passes
through Python, rows in storage order: the importer does not need them sorted),
and the exact ``neo4j-admin`` command that imports them into an empty database.
Plain CSV is the fast default: gzip made the DuckDB export 10-16x slower (one
compressing thread) and the import slower too. ``--multiline-fields=true`` is
passed only when a plain file holds a line break inside a quoted field (found
by counting line breaks against the rows written); it makes the importer parse
each file on one thread.
The offline importer writes the store files directly and is the fastest way
to bring tens of millions of events into Neo4j; ``koc sync --to neo4j`` is the
online alternative for an existing database.

Header syntax (Neo4j operations manual, "Import" > "CSV header format"):
``name:ID(Space)`` is the node key stored as property ``name`` in ID space
``Space``; ``:START_ID(Space)`` / ``:END_ID(Space)`` name relationship ends;
``name:type`` sets a property type (``long``, ``boolean``, ``datetime``);
untyped columns are strings; empty fields create no property.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from graph.cypher import REL_TYPES
from graph.duckdb_store import EVENT_CODES, DuckDBStore
from graph.errors import StoreError
from graph.events import EDGE_TYPES, EventType
from graph.money import UNITS_PER_CURRENCY_UNIT

__all__ = ["ImportFile", "ImportPlan", "IMPORT_FILES", "export_neo4j_import", "import_command"]


def _ts(col: str) -> str:
    return f"strftime({col}, '%Y-%m-%dT%H:%M:%S.%fZ')"


def _money(col: str) -> str:
    return f"CAST({col} AS VARCHAR), CAST({col} * {UNITS_PER_CURRENCY_UNIT} AS BIGINT)"


@dataclass(frozen=True)
class ImportFile:
    """One node or relationship file pair: its header fields and the DuckDB query filling it."""

    name: str
    kind: str  # "nodes" | "relationships"
    label: str  # node label or relationship type
    header: tuple[str, ...]
    sql: str


def _edge_file(event_type: EventType) -> ImportFile:
    rel = REL_TYPES[event_type]
    extra = ("campaign",) if event_type is EventType.REFERRAL else ("content_id", "channel")
    return ImportFile(
        rel.lower(),
        "relationships",
        rel,
        (":START_ID(User)", ":END_ID(User)", "event_id", "ts:datetime", *extra),
        f"""SELECT s.user_id, d.user_id, e.event_id, {_ts("e.ts")}, {", ".join(f"e.{c}" for c in extra)}
        FROM events e JOIN users s ON s.idx = e.src JOIN users d ON d.idx = e.dst
        WHERE e.etype = {EVENT_CODES[event_type]}""",
    )


_SHARE = EVENT_CODES[EventType.SHARE]
#: Every file of an export, in import order (nodes, then relationships).
IMPORT_FILES: tuple[ImportFile, ...] = (
    ImportFile(
        "users",
        "nodes",
        "User",
        (
            "user_id:ID(User)",
            "idx:long",
            "declared:boolean",
            "role",
            "display_name",
            "store_id",
            "channel",
            "created_at:datetime",
            "attrs",
            "phone_hash",
            "device_hash",
            "event_id",
        ),
        f"""SELECT user_id, idx, declared, role, display_name, store_id, channel,
        {_ts("created_at")}, attrs, phone_hash, device_hash, event_id FROM users""",
    ),
    ImportFile(
        "meta",
        "nodes",
        "KocMeta",
        ("name:ID(KocMeta)", "next_idx:long", "schema_version:long"),
        # schema_version 0: the first `koc ... --store neo4j` creates constraints and indexes
        "SELECT 'graph', (SELECT count(*) FROM users), 0",
    ),
    ImportFile(
        "shares",
        "nodes",
        "Share",
        ("event_id:ID(Share)", "content_id", "channel", "ts:datetime"),
        f"SELECT event_id, content_id, channel, {_ts('ts')} FROM events WHERE etype = {_SHARE}",
    ),
    ImportFile(
        "orders",
        "nodes",
        "Order",
        (
            "event_id:ID(Order)",
            "order_id",
            "amount",
            "amount_e4:long",
            "currency",
            "ts:datetime",
            "attribution_token",
            "store_id",
        ),
        f"""SELECT event_id, order_id, {_money("amount")}, currency, {_ts("ts")},
        attribution_token, store_id FROM orders""",
    ),
    ImportFile(
        "refunds",
        "nodes",
        "Refund",
        ("event_id:ID(Refund)", "refund_id", "order_id", "amount", "amount_e4:long", "ts:datetime"),
        f"""SELECT event_id, refund_id, order_id, {_money("amount")}, {_ts("ts")}
        FROM refunds""",
    ),
    ImportFile(
        "rejects",
        "nodes",
        "Reject",
        (
            "reject_id:ID(Reject)",
            "source",
            "row_number:long",
            "event_type",
            "field",
            "value",
            "reason",
            "raw",
            "ingested_at:datetime",
        ),
        f"""SELECT reject_id, source, row_number, event_type, field, value, reason, raw,
        {_ts("ingested_at")} FROM rejects""",
    ),
    *(_edge_file(t) for t in EDGE_TYPES),
    ImportFile(
        "shared",
        "relationships",
        "SHARED",
        (":START_ID(User)", ":END_ID(Share)"),
        f"""SELECT u.user_id, e.event_id FROM events e JOIN users u ON u.idx = e.src
        WHERE e.etype = {_SHARE}""",
    ),
    ImportFile(
        "placed",
        "relationships",
        "PLACED",
        (":START_ID(User)", ":END_ID(Order)"),
        "SELECT u.user_id, o.event_id FROM orders o JOIN users u ON u.idx = o.buyer",
    ),
)


@dataclass
class ImportPlan:
    """What :func:`export_neo4j_import` wrote: files with row counts, and the import command."""

    directory: Path
    rows: dict[str, int] = field(default_factory=dict)
    command: str = ""
    #: whether some field holds a line break (the command then says --multiline-fields=true)
    multiline: bool = False
    #: data file suffix: ``.csv`` or ``.csv.gz``
    suffix: str = ".csv"


def import_command(
    directory: Path,
    database: str = "neo4j",
    *,
    location: str | None = None,
    multiline: bool = True,
    suffix: str = ".csv",
) -> str:
    """The ``neo4j-admin`` (Neo4j 5) command importing an export in ``directory`` into ``database``.

    ``location`` replaces the directory in the printed file paths, for a tool
    that sees the files elsewhere (``/import`` inside the Docker container);
    ``multiline`` says whether a field may hold a line break; ``suffix`` names the
    data files (``.csv`` or ``.csv.gz``).
    """
    d = location.rstrip("/") if location else str(Path(directory).resolve())
    # the database name goes first: from Neo4j 5.19 a trailing name is taken as one more
    # file of the last variadic --nodes/--relationships option
    parts = [
        f"neo4j-admin database import full {shlex.quote(database)}",
        "--overwrite-destination=true",
        "--id-type=string",
        f"--multiline-fields={'true' if multiline else 'false'}",
    ]
    for f in IMPORT_FILES:
        files = f"{d}/{f.name}.header.csv,{d}/{f.name}{suffix}"
        parts.append(shlex.quote(f"--{f.kind}={f.label}={files}"))
    return " \\\n  ".join(parts)


def export_neo4j_import(
    store: DuckDBStore,
    directory: str | Path,
    *,
    database: str = "neo4j",
    location: str | None = None,
    compress: bool = False,
) -> ImportPlan:
    """Write header and data files for ``neo4j-admin database import full`` into ``directory``.

    Parameters
    ----------
    store : DuckDBStore
        The embedded store to export (read only).
    directory : str or Path
        Output folder, created when missing; existing export files are replaced.
    database : str
        Database name used in the printed command.
    location : str, optional
        Folder of the files as the importer sees it (default: ``directory``).
    compress : bool
        Write gzip-compressed ``.csv.gz`` data files (smaller, much slower to write
        and read; the command then always allows multi-line fields).

    Returns
    -------
    ImportPlan
        Rows written per file and the command to run (with the Neo4j server
        stopped, or into a new database name).

    Notes
    -----
    Runs and scores are not part of the bulk import: after importing, run
    ``koc rank --store neo4j`` or ``koc sync --to neo4j`` to copy the latest run.
    The schema version is written as 0, so the first connection of KOC Graph
    creates the constraints and indexes of :data:`graph.cypher.SCHEMA_STATEMENTS`.
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    plan = ImportPlan(directory=out.resolve(), suffix=".csv.gz" if compress else ".csv")
    plan.multiline = compress
    codec = "gzip" if compress else "none"
    cur = store.cursor()
    try:
        cur.execute("SET TimeZone = 'UTC'")
        for f in IMPORT_FILES:
            (out / f"{f.name}.header.csv").write_text(",".join(f.header) + "\n", encoding="utf-8")
            target = (out / f"{f.name}{plan.suffix}").resolve()
            written = cur.execute(
                f"COPY ({f.sql}) TO '{_sql_path(target)}' "
                f"(FORMAT csv, HEADER false, COMPRESSION {codec}, QUOTE '\"', ESCAPE '\"')"
            ).fetchone()
            plan.rows[f.name] = int(written[0]) if written else 0
            if not compress and not plan.multiline:
                plan.multiline = _line_breaks(target) != plan.rows[f.name]
    except (duckdb.Error, OSError) as exc:
        raise StoreError(f"Exporting to {out} failed: {exc}", directory=str(out)) from exc
    finally:
        cur.close()
    plan.command = import_command(
        out, database, location=location, multiline=plan.multiline, suffix=plan.suffix
    )
    return plan


def _line_breaks(path: Path, chunk: int = 1 << 22) -> int:
    """Line breaks in a file (a lone CR counts: the importer may split on it too)."""
    lf = cr = 0
    with path.open("rb") as f:
        while block := f.read(chunk):
            lf += block.count(b"\n")
            cr += block.count(b"\r")
    # DuckDB ends each record with LF; any CR is inside a field
    return lf + cr


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")
