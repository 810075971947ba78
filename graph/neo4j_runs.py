"""Ranking runs on Neo4j: ``Run``, ``Score`` and ``Component`` nodes, and score write-back.

A mixin of :class:`graph.neo4j_store.Neo4jStore` (it uses the store's
transaction helpers), kept apart so each module holds one concept. A run's
results are ``Score``/``Component`` nodes keyed by ``run_id``; the latest
succeeded run is also written onto ``User`` nodes as ``koc_*`` properties
(:meth:`Neo4jRunsMixin.write_scores`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import asdict
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.compute as pc

from graph import cypher as q
from graph.errors import NotFoundError
from graph.neo4j_rows import dedupe_first, iter_row_batches
from graph.store import COMPONENT_SCHEMA, SCORE_SCHEMA, RunRecord

__all__ = ["Neo4jRunsMixin"]

_T = TypeVar("_T")
_NO_LIMIT = 2**62


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
    _write: Callable[..., Any]
    _read: Callable[..., Any]
    _table: Callable[..., pa.Table]
    _run_batches: Callable[..., Any]

    def save_run(
        self,
        run: RunRecord,
        scores: pa.Table | None = None,
        components: pa.Table | None = None,
    ) -> None:
        """Insert or update a run and (when given) replace its results, in batches.

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

    def _runs(self, stmt: q.Statement, **params: Any) -> list[RunRecord]:
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
        runs = self._runs(q.GET_RUN, run_id=run_id)
        if not runs:
            raise NotFoundError(f"No ranking run {run_id!r} in the store.", run_id=run_id)
        return runs[0]

    def list_runs(self, limit: int = 20) -> list[RunRecord]:
        return self._runs(q.LIST_RUNS, limit=int(limit))

    def latest_run(self, status: str = "succeeded") -> RunRecord | None:
        runs = self._runs(q.LATEST_RUN, status=status)
        return runs[0] if runs else None

    def read_scores(
        self,
        run_id: str,
        *,
        user_ids: Iterable[str] | None = None,
        limit: int | None = None,
    ) -> pa.Table:
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
        # the statement orders by user and component; unordered reads just accept that
        return self._table(
            q.READ_COMPONENTS,
            COMPONENT_SCHEMA,
            run_id=run_id,
            user_ids=None if user_ids is None else list(user_ids),
            component=component,
        )
