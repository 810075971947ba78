"""Ranking runs as SQL tables: ``runs``, ``run_scores``, ``run_components``.

A run's record and results are relational rows (one per user, one per user and
component), written once and read by run id. Both stores keep them in DuckDB:

* the embedded store in its own file (created by its first migration);
* the Neo4j store in its tables file (``KOC_LEDGER_PATH``, component ``runs`` of
  :mod:`graph.migrations`), instead of ~7 nodes per user and run on the server.

The functions take a DuckDB connection (or cursor); writers run inside the
caller's transaction.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict
from typing import Any

import duckdb
import pyarrow as pa

from graph.errors import NotFoundError
from graph.migrations import Migration
from graph.store import COMPONENT_SCHEMA, SCORE_SCHEMA, RunRecord
from graph.transaction import registered

__all__ = [
    "RUN_TABLES_DDL",
    "RUN_MIGRATIONS",
    "save_run",
    "find_runs",
    "get_run",
    "read_scores",
    "read_components",
]

#: ``CREATE TABLE`` statements of the three run tables (in the embedded store's first migration)
RUN_TABLES_DDL: tuple[str, ...] = (
    """CREATE TABLE runs (
        run_id       VARCHAR PRIMARY KEY,
        created_at   TIMESTAMPTZ NOT NULL,
        status       VARCHAR NOT NULL,
        config_hash  VARCHAR,
        window_start TIMESTAMPTZ,
        window_end   TIMESTAMPTZ,
        watermark    TIMESTAMPTZ,
        timings      VARCHAR,
        row_counts   VARCHAR,
        params       VARCHAR,
        error        VARCHAR
    )""",
    """CREATE TABLE run_scores (
        run_id    VARCHAR NOT NULL,
        user_id   VARCHAR NOT NULL,
        rank      INTEGER NOT NULL,
        score     DOUBLE NOT NULL,
        role      VARCHAR,
        community INTEGER
    )""",
    """CREATE TABLE run_components (
        run_id       VARCHAR NOT NULL,
        user_id      VARCHAR NOT NULL,
        component    VARCHAR NOT NULL,
        raw          DOUBLE,
        normalized   DOUBLE,
        contribution DOUBLE
    )""",
)

#: Component ``runs`` of a tables file beside a graph server (Neo4j)
RUN_MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "runs, run_scores, run_components (ranking runs beside the graph server)",
        tuple(s.replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS", 1) for s in RUN_TABLES_DDL),
    ),
)

_JSON_FIELDS = ("timings", "row_counts", "params")


def save_run(
    conn: duckdb.DuckDBPyConnection,
    run: RunRecord,
    scores: pa.Table | None = None,
    components: pa.Table | None = None,
) -> None:
    """Insert or replace ``run`` and, when given, its scores and components.

    Run inside the caller's transaction (results and record commit together, so
    readers never see a succeeded run without its results).
    """
    d = asdict(run)
    for key in _JSON_FIELDS:
        d[key] = json.dumps(d[key], sort_keys=True, default=str)
    cols = list(d)
    conn.execute("DELETE FROM runs WHERE run_id = ?", [run.run_id])
    conn.execute(
        f"INSERT INTO runs ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
        [d[c] for c in cols],
    )
    if scores is not None:
        conn.execute("DELETE FROM run_scores WHERE run_id = ?", [run.run_id])
        with registered(conn, "_scores", scores.select(SCORE_SCHEMA.names).cast(SCORE_SCHEMA)):
            conn.execute(
                "INSERT INTO run_scores SELECT ?, user_id, rank, score, role, community FROM _scores",
                [run.run_id],
            )
    if components is not None:
        conn.execute("DELETE FROM run_components WHERE run_id = ?", [run.run_id])
        table = components.select(COMPONENT_SCHEMA.names).cast(COMPONENT_SCHEMA)
        with registered(conn, "_comp", table):
            conn.execute(
                """INSERT INTO run_components
                SELECT ?, user_id, component, raw, normalized, contribution FROM _comp""",
                [run.run_id],
            )


def _run_from_row(row: dict[str, Any]) -> RunRecord:
    for key in _JSON_FIELDS:
        row[key] = json.loads(row[key]) if row[key] else {}
    return RunRecord(**row)


def find_runs(
    conn: duckdb.DuckDBPyConnection, *, status: str | None = None, limit: int = 20
) -> list[RunRecord]:
    """Runs (with ``status`` when given), newest first."""
    where, params = ("status = ?", [status]) if status is not None else ("true", [])
    cur = conn.execute(
        f"SELECT * FROM runs WHERE {where} ORDER BY created_at DESC, run_id DESC "
        f"LIMIT {int(limit)}",
        params,
    )
    names = [c[0] for c in cur.description]
    return [_run_from_row(dict(zip(names, r, strict=True))) for r in cur.fetchall()]


def get_run(conn: duckdb.DuckDBPyConnection, run_id: str) -> RunRecord:
    """The run ``run_id`` (:class:`graph.errors.NotFoundError` when there is none)."""
    cur = conn.execute("SELECT * FROM runs WHERE run_id = ?", [run_id])
    names = [c[0] for c in cur.description]
    row = cur.fetchone()
    if row is None:
        raise NotFoundError(f"No ranking run {run_id!r} in the store.", run_id=run_id)
    return _run_from_row(dict(zip(names, row, strict=True)))


def read_scores(
    conn: duckdb.DuckDBPyConnection,
    run_id: str,
    *,
    user_ids: Iterable[str] | None = None,
    limit: int | None = None,
) -> pa.Table:
    """A run's scores in rank order (of ``user_ids`` only, when given)."""
    sql = "SELECT user_id, rank, score, role, community FROM run_scores WHERE run_id = ?"
    params: list[Any] = [run_id]
    if user_ids is not None:
        sql += " AND user_id IN (SELECT unnest(?))"
        params.append(list(user_ids))
    sql += " ORDER BY rank"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return conn.sql(sql, params=params).to_arrow_table().cast(SCORE_SCHEMA)


def read_components(
    conn: duckdb.DuckDBPyConnection,
    run_id: str,
    user_ids: Iterable[str] | None = None,
    *,
    component: str | None = None,
    ordered: bool = True,
) -> pa.Table:
    """A run's components (of ``user_ids`` / ``component`` only, when given)."""
    sql = (
        "SELECT user_id, component, raw, normalized, contribution FROM run_components "
        "WHERE run_id = ?"
    )
    params: list[Any] = [run_id]
    if user_ids is not None:
        sql += " AND user_id IN (SELECT unnest(?))"
        params.append(list(user_ids))
    if component is not None:
        sql += " AND component = ?"
        params.append(component)
    if ordered:
        sql += " ORDER BY user_id, component"
    return conn.sql(sql, params=params).to_arrow_table().cast(COMPONENT_SCHEMA)
