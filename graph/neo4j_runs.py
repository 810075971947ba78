"""Ranking runs on Neo4j: in the tables file (or as nodes), and score write-back.

A mixin of :class:`graph.neo4j_store.Neo4jStore` (it uses the store's
transaction helpers), kept apart so each module holds one concept.

Where a run's record and results live:

* with a tables file (``KOC_LEDGER_PATH``, the production layout), in its
  ``runs``/``run_scores``/``run_components`` tables (:mod:`graph.run_tables`):
  one SQL insert per run instead of ~7 server-side node writes per user. Runs
  stored as nodes by an older KOC Graph are copied into the tables once, when
  the tables are first created;
* without one, as ``Run``, ``Score`` and ``Component`` nodes keyed by ``run_id``.

Either way the latest succeeded run is written onto ``User`` nodes as ``koc_*``
properties (:meth:`Neo4jRunsMixin.write_scores`), for Cypher users.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import asdict
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from graph import cypher as q
from graph import run_tables
from graph.errors import NotFoundError
from graph.migrations import applied_version, migrate
from graph.neo4j_rows import dedupe_first, iter_row_batches
from graph.store import COMPONENT_SCHEMA, SCORE_SCHEMA, RunRecord
from graph.tables import TableStore
from graph.transaction import transaction

__all__ = ["Neo4jRunsMixin"]

_T = TypeVar("_T")
_NO_LIMIT = 2**62
_FIRST_USE = threading.Lock()  # one thread decides where runs live (and copies old nodes)


def _native(value: Any) -> Any:
    """A driver temporal value as a timezone-aware ``datetime`` (other values unchanged)."""
    if hasattr(value, "to_native"):
        value = value.to_native()
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return value


class Neo4jRunsMixin:
    """Run and score methods of the Neo4j store (needs the store's ``_write``/``_read``/``_table``)."""

    batch_size: int
    tables: TableStore
    _runs_in_tables: bool | None = None
    _write: Callable[..., Any]
    _read: Callable[..., Any]
    _table: Callable[..., pa.Table]
    _run_batches: Callable[..., Any]

    def _run_sql(self) -> duckdb.DuckDBPyConnection | None:
        """A cursor on the tables file's run tables, or None when runs are nodes.

        The first call on a writable tables file without them creates them and
        copies the runs stored as nodes (an older KOC Graph's) into them; that
        copy is repeated whole if interrupted, since :func:`graph.run_tables.save_run`
        replaces a run by id. A read-only tables file without them keeps the nodes.
        """
        if not self.tables.available:
            return None
        conn = self.tables.conn
        with _FIRST_USE:
            self._decide_run_tables(conn)
        return conn.cursor() if self._runs_in_tables else None

    def _decide_run_tables(self, conn: duckdb.DuckDBPyConnection) -> None:
        if self._runs_in_tables is None:
            if applied_version(conn, "runs") >= len(run_tables.RUN_MIGRATIONS):
                self._runs_in_tables = True
            else:
                try:
                    self._copy_node_runs(conn)
                    migrate(conn, "runs", run_tables.RUN_MIGRATIONS)
                    self._runs_in_tables = True
                except duckdb.Error as exc:  # read-only: keep reading the nodes
                    if "read-only" not in str(exc):
                        raise
                    self._runs_in_tables = False

    def _copy_node_runs(self, conn: duckdb.DuckDBPyConnection) -> None:
        for stmt in run_tables.RUN_MIGRATIONS[0].statements:  # IF NOT EXISTS: a no-op on retry
            conn.execute(stmt)
        for run in self._node_runs(q.LIST_RUNS, limit=_NO_LIMIT):
            scores = self._table(
                q.READ_SCORES, SCORE_SCHEMA, run_id=run.run_id, user_ids=None, limit=_NO_LIMIT
            )
            components = self._table(
                q.READ_COMPONENTS,
                COMPONENT_SCHEMA,
                run_id=run.run_id,
                user_ids=None,
                component=None,
            )
            with transaction(conn.cursor()) as cur:
                run_tables.save_run(cur, run, scores, components)

    def save_run(
        self,
        run: RunRecord,
        scores: pa.Table | None = None,
        components: pa.Table | None = None,
    ) -> None:
        """Insert or update a run and (when given) replace its results.

        With a tables file, record and results commit in one transaction there,
        then a ``succeeded`` run is written onto the ``User`` nodes
        (:meth:`write_scores`; from the tables when no results are given). The
        rest of this docstring is about runs stored as nodes.

        Results are written ``batch_size`` rows per transaction, so a run of any
        size fits the server's transaction memory. While they are written the
        ``Run`` node says ``running`` (whatever ``run.status`` is), so readers of
        :meth:`latest_run` keep getting the previous succeeded run until the new
        one is complete; the last transaction sets the real status. A
        ``succeeded`` run is then written back onto the ``User`` nodes: from
        ``scores``/``components`` when given (:meth:`write_scores`), otherwise
        from the run's stored ``Score``/``Component`` nodes on the server
        (:meth:`write_back_stored`), which is what ``koc rank``'s final status
        change triggers.
        """
        sql = self._run_sql()
        if sql is not None:
            with transaction(sql) as cur:
                run_tables.save_run(cur, run, scores, components)
            if run.status == "succeeded":
                if scores is None:
                    scores = run_tables.read_scores(sql, run.run_id)
                    components = pa.concat_tables(  # the two the write-back copies
                        run_tables.read_components(sql, run.run_id, component=c, ordered=False)
                        for c in ("pagerank", "reach")
                    )
                self.write_scores(run.run_id, scores, components)
            return
        params = asdict(run)
        for key in ("timings", "row_counts", "params"):
            params[key] = json.dumps(params[key], sort_keys=True, default=str)
        with_results = scores is not None or components is not None

        def save(tx: Any, status: str) -> None:
            tx.run(q.SAVE_RUN.text, {**params, "status": status}).consume()

        self._write("save a run", partial(save, status="running" if with_results else run.status))
        if scores is not None:
            table = scores.select(SCORE_SCHEMA.names).cast(SCORE_SCHEMA)
            self._replace_results(run.run_id, q.DELETE_RUN_SCORES, q.WRITE_RUN_SCORES, table)
        if components is not None:
            table = components.select(COMPONENT_SCHEMA.names).cast(COMPONENT_SCHEMA)
            self._replace_results(
                run.run_id, q.DELETE_RUN_COMPONENTS, q.WRITE_RUN_COMPONENTS, table
            )
        if with_results:
            self._write("save a run", partial(save, status=run.status))
        if run.status == "succeeded":
            if scores is not None:
                self.write_scores(run.run_id, scores, components)
            else:
                self.write_back_stored(run.run_id)

    def _replace_results(
        self, run_id: str, delete: q.Statement, write: q.Statement, table: pa.Table
    ) -> None:
        """Delete a run's old result nodes, then write ``table``; ``batch_size`` rows per transaction."""
        params = {"run_id": run_id, "limit": self.batch_size}
        while self._write(
            f"delete old results ({delete.name})",
            lambda tx: tx.run(delete.text, params).single()[0],
        ):
            pass

        def write_batch(tx: Any, rows: list[dict[str, Any]]) -> None:
            tx.run(write.text, {"run_id": run_id, "rows": rows}).consume()

        for rows in iter_row_batches(table, self.batch_size):
            self._write(f"save run results ({write.name})", partial(write_batch, rows=rows))

    def write_back_stored(self, run_id: str) -> int:
        """Write a stored run's results onto ``User`` nodes without sending them again.

        The server copies each ``Score`` (and the raw ``pagerank``/``reach``
        components) onto its user, ``batch_size`` ranks per transaction, then the
        ``koc_*`` properties of users absent from the run are removed. Returns
        the number of users written.
        """
        top = self._read(
            "read the run size",
            lambda tx: tx.run(q.RUN_MAX_RANK.text, {"run_id": run_id}).single()[0],
        )
        written = 0
        for first in range(1, int(top or 0) + 1, self.batch_size):
            params = {"run_id": run_id, "first": first, "limit": self.batch_size}
            written += self._write(
                "write scores",
                lambda tx, p=params: tx.run(q.WRITE_BACK_STORED.text, p).single()[0],
            )
        self._clear_stale(run_id)
        return written

    def _clear_stale(self, run_id: str) -> None:
        params = {"run_id": run_id, "limit": self.batch_size}
        while self._write(
            "clear stale scores",
            lambda tx: tx.run(q.CLEAR_STALE_USER_SCORES.text, params).single()[0],
        ):
            pass

    def write_scores(
        self, run_id: str, scores: pa.Table, components: pa.Table | None = None
    ) -> int:
        """Write a run's results onto ``User`` nodes as ``koc_*`` properties, in batches.

        Each batch of ``batch_size`` users is one transaction that replaces those
        users' ``koc_score``, ``koc_rank``, ``koc_role``, ``koc_community``,
        ``koc_pagerank`` and ``koc_reach`` (raw values of the ``pagerank`` and
        ``reach`` components when present) and ``koc_run_id``. Afterwards the
        properties of users absent from this run are removed, so every node
        carries results of one run only. Returns the number of users written.
        """
        table = scores.select(SCORE_SCHEMA.names).cast(SCORE_SCHEMA)
        for name in ("pagerank", "reach"):
            values = pa.table(
                {"user_id": pa.array([], pa.string()), name: pa.array([], pa.float64())}
            )
            if components is not None and components.num_rows:
                comp = components.filter(pc.equal(components.column("component"), name))
                values = comp.select(["user_id", "raw"]).rename_columns(["user_id", name])
            table = table.join(dedupe_first(values, "user_id"), "user_id", join_type="left outer")

        def write_batch(tx: Any, rows: list[dict[str, Any]]) -> None:
            tx.run(q.WRITE_USER_SCORES.text, {"run_id": run_id, "rows": rows}).consume()

        for rows in iter_row_batches(table, self.batch_size):
            self._write("write scores", partial(write_batch, rows=rows))
        self._clear_stale(run_id)
        return table.num_rows

    def _node_runs(self, stmt: q.Statement, **params: Any) -> list[RunRecord]:
        def work(tx: Any) -> list[dict[str, Any]]:
            return [dict(r) for r in tx.run(stmt.text, params)]

        runs = []
        for row in self._read("read runs", work):
            row = {k: _native(v) for k, v in row.items()}
            for key in ("timings", "row_counts", "params"):
                row[key] = json.loads(row[key]) if row[key] else {}
            runs.append(RunRecord(**row))
        return runs

    def get_run(self, run_id: str) -> RunRecord:
        sql = self._run_sql()
        if sql is not None:
            return run_tables.get_run(sql, run_id)
        runs = self._node_runs(q.GET_RUN, run_id=run_id)
        if not runs:
            raise NotFoundError(f"No ranking run {run_id!r} in the store.", run_id=run_id)
        return runs[0]

    def list_runs(self, limit: int = 20) -> list[RunRecord]:
        sql = self._run_sql()
        if sql is not None:
            return run_tables.find_runs(sql, limit=limit)
        return self._node_runs(q.LIST_RUNS, limit=int(limit))

    def latest_run(self, status: str = "succeeded") -> RunRecord | None:
        sql = self._run_sql()
        if sql is not None:
            found = run_tables.find_runs(sql, status=status, limit=1)
            return found[0] if found else None
        runs = self._node_runs(q.LATEST_RUN, status=status)
        return runs[0] if runs else None

    def read_scores(
        self,
        run_id: str,
        *,
        user_ids: Iterable[str] | None = None,
        limit: int | None = None,
    ) -> pa.Table:
        sql = self._run_sql()
        if sql is not None:
            return run_tables.read_scores(sql, run_id, user_ids=user_ids, limit=limit)
        return self._table(
            q.READ_SCORES,
            SCORE_SCHEMA,
            run_id=run_id,
            user_ids=None if user_ids is None else list(user_ids),
            limit=_NO_LIMIT if limit is None else int(limit),
        )

    def read_components(
        self,
        run_id: str,
        user_ids: Iterable[str] | None = None,
        *,
        component: str | None = None,
        ordered: bool = True,
    ) -> pa.Table:
        sql = self._run_sql()
        if sql is not None:
            return run_tables.read_components(
                sql, run_id, user_ids, component=component, ordered=ordered
            )
        # the statement orders by user and component; unordered reads just accept that
        return self._table(
            q.READ_COMPONENTS,
            COMPONENT_SCHEMA,
            run_id=run_id,
            user_ids=None if user_ids is None else list(user_ids),
            component=component,
        )
