"""Record identity inside a store's write transaction: new, duplicate or conflict.

Both stores classify every row of a batch the same way, with the same SQL
(the embedded store runs it in its own database; the Neo4j store runs it in an
in-memory DuckDB over the rows it looked up inside its transaction):

* a row whose ``event_id`` is neither stored nor earlier in the batch is **new**;
* a row whose ``event_id`` is stored (or, when not stored, earlier in the batch)
  with the same content is a **duplicate**;
* with different content it is a **conflict** (:data:`graph.store.EVENT_ID_CONFLICT`);
* a new order whose ``order_id`` is stored, or taken by an earlier new order of
  the batch, is an **order conflict** (:data:`graph.store.ORDER_ID_CONFLICT`):
  the first content of an order wins.

Batch order decides between rows of one batch, so the outcome is deterministic.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa

from graph.events import EventType
from graph.key_filter import StoredKeys, sorted_unique
from graph.store import (
    ARROW_SCHEMAS,
    CONFLICT_SCHEMA,
    EVENT_ID_CONFLICT,
    ORDER_ID_CONFLICT,
    WriteResult,
)
from graph.transaction import registered

__all__ = [
    "content_columns",
    "with_ord",
    "classify",
    "mark_order_conflicts",
    "refused_rows",
    "class_counts",
    "new_rows",
]


def content_columns(event_type: EventType) -> tuple[str, ...]:
    """The columns that make a record's content: all but ``event_id``."""
    return tuple(n for n in ARROW_SCHEMAS[EventType(event_type)].names if n != "event_id")


def with_ord(table: pa.Table) -> pa.Table:
    """``table`` plus ``_ord``, each row's position (batch order decides ties)."""
    return table.append_column("_ord", pa.array(np.arange(table.num_rows, dtype=np.int64)))


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def classify(
    conn: duckdb.DuckDBPyConnection,
    source_sql: str,
    stored_sql: str,
    content: tuple[str, ...],
    stored_keys: StoredKeys | None = None,
) -> None:
    """Create the temp table ``_cls``: the rows of ``source_sql`` with ``_cls`` = new | dup | conflict.

    ``source_sql`` yields the batch with ``_t`` (which table) and ``_ord`` (row in
    it); ``stored_sql`` the stored rows in the same layout and may select from
    ``_probe`` (column ``event_id``: the batch's ids that may be stored) to read
    only those. A row is compared with the stored row of its ``event_id`` or, when
    none is stored, with the first row of that id in the batch.

    With ``stored_keys`` (a filter over the stored ids, :mod:`graph.key_filter`),
    ``_probe`` holds only the ids the filter cannot rule out, and ``stored_sql`` is
    not run at all when there is none: a batch of new ids never reads the stored
    ids. A batch without a repeated id skips the in-batch comparison as well.
    """
    ids = conn.sql(f"SELECT event_id, hash(event_id) AS _h FROM ({source_sql}) b").to_arrow_table()
    hashes = ids.column("_h").to_numpy()
    repeats = sorted_unique(hashes).size < hashes.size  # a collision only takes the slower path
    probe = ids.select(["event_id"])
    if stored_keys is not None:
        probe = probe.filter(pa.array(stored_keys.maybe(hashes)))
    if not repeats and not probe.num_rows:  # every row is new: one copy of the batch, not two
        conn.execute(
            f"CREATE OR REPLACE TEMP TABLE _cls AS SELECT b.*, 'new' AS _cls FROM ({source_sql}) b"
        )
        return
    first = "row_number() OVER (PARTITION BY b.event_id ORDER BY b._t, b._ord)" if repeats else "1"
    conn.execute(
        f"CREATE OR REPLACE TEMP TABLE _in AS SELECT b.*, {first}::BIGINT AS _k FROM ({source_sql}) b"
    )
    same = " AND ".join(f"i.{c} IS NOT DISTINCT FROM {{x}}.{c}" for c in content)
    cases, joins = [], []
    if probe.num_rows:
        cases.append(
            f"WHEN k.event_id IS NOT NULL THEN CASE WHEN {same.format(x='k')} THEN 'dup' ELSE 'conflict' END"
        )
        joins.append(f"LEFT JOIN ({stored_sql}) k ON k.event_id = i.event_id")
    cases.append("WHEN i._k = 1 THEN 'new'")
    if repeats:
        cases.append(f"ELSE CASE WHEN {same.format(x='f')} THEN 'dup' ELSE 'conflict' END")
        joins.append("LEFT JOIN _in f ON f.event_id = i.event_id AND f._k = 1 AND i._k > 1")
    with registered(conn, "_probe", probe):
        conn.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE _cls AS
            SELECT i.* EXCLUDE (_k), CASE {" ".join(cases)} END AS _cls
            FROM _in i {" ".join(joins)}
            """
        )
    conn.execute("DROP TABLE _in")


def mark_order_conflicts(
    conn: duckdb.DuckDBPyConnection,
    stored_order_ids_sql: str,
    stored_keys: StoredKeys | None = None,
) -> None:
    """In ``_cls`` (orders), turn new orders whose ``order_id`` is taken into ``order_conflict``.

    ``stored_order_ids_sql`` yields the stored ``order_id`` values (all of them,
    or at least those of the batch). With ``stored_keys`` (a filter over the
    stored order ids) it is read only for the new orders' ids the filter cannot
    rule out, and not at all when there is none.
    """
    ids = conn.sql(
        "SELECT DISTINCT order_id, hash(order_id) AS _h FROM _cls WHERE _cls = 'new'"
    ).to_arrow_table()
    probe = ids.select(["order_id"])
    if stored_keys is not None:
        probe = probe.filter(pa.array(stored_keys.maybe(ids.column("_h").to_numpy())))
    taken = (
        f"""c.order_id IN (SELECT order_id FROM ({stored_order_ids_sql}) s
            WHERE s.order_id IN (SELECT order_id FROM _probe))"""
        if probe.num_rows
        else "false"
    )
    with registered(conn, "_probe", probe):
        conn.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE _cls AS
            SELECT c.* REPLACE (CASE WHEN c._cls = 'new' AND ({taken}
                    OR row_number() OVER (PARTITION BY c.order_id, c._cls ORDER BY c._ord) > 1)
                THEN 'order_conflict' ELSE c._cls END AS _cls)
            FROM _cls c
            """
        )


def refused_rows(conn: duckdb.DuckDBPyConnection, types: list[EventType]) -> pa.Table:
    """The conflicts of ``_cls`` (``_t`` indexes ``types``), shaped like :data:`CONFLICT_SCHEMA`."""
    names = ", ".join(f"({i}, {_lit(t.value)})" for i, t in enumerate(types))
    order = "c._cls = 'order_conflict'" if EventType.ORDER in types else "false"
    order_id = "c.order_id" if EventType.ORDER in types else "NULL"
    return (
        conn.sql(
            f"""
            SELECT t.name AS event_type, c._ord AS index,
                CASE WHEN {order} THEN 'order_id' ELSE 'event_id' END AS field,
                CASE WHEN {order} THEN {order_id} ELSE c.event_id END AS value,
                CASE WHEN {order} THEN {_lit(ORDER_ID_CONFLICT)}
                    ELSE {_lit(EVENT_ID_CONFLICT)} END AS reason
            FROM _cls c JOIN (VALUES {names}) t(i, name) ON t.i = c._t
            WHERE c._cls IN ('conflict', 'order_conflict') ORDER BY c._t, c._ord
            """
        )
        .to_arrow_table()
        .cast(CONFLICT_SCHEMA)
    )


def class_counts(
    conn: duckdb.DuckDBPyConnection, parts: list[tuple[EventType, pa.Table]]
) -> dict[str, WriteResult]:
    """Inserted / duplicates / conflicts per record type of ``_cls``."""
    found = {
        (int(t), str(c)): int(k)
        for t, c, k in conn.execute("SELECT _t, _cls, count(*) FROM _cls GROUP BY ALL").fetchall()
    }
    out = {}
    for i, (event_type, table) in enumerate(parts):
        new, dup = found.get((i, "new"), 0), found.get((i, "dup"), 0)
        out[event_type.value] = WriteResult(
            inserted=new, duplicates=dup, conflicts=table.num_rows - new - dup
        )
    return out


def new_rows(conn: duckdb.DuckDBPyConnection) -> np.ndarray:
    """Positions (``_ord``) of the rows of ``_cls`` to insert, in batch order."""
    got = conn.execute("SELECT _ord FROM _cls WHERE _cls = 'new' ORDER BY _ord").fetchnumpy()
    return np.asarray(got["_ord"], dtype=np.int64)
