"""Pure conversions between Arrow/numpy and the Neo4j driver's parameters and records.

The Neo4j store (:mod:`graph.neo4j_store`) only moves data; the shaping lives
here so it can be tested without a server:

* writes: an Arrow batch of a record type becomes *parameter rows* (lists of
  dicts, one list per batched load statement) with timestamps as integer
  epoch seconds + nanoseconds and money as integer units of 1/10,000;
* reads: column lists (analytics arrays) and streamed record chunks (tuples)
  become numpy arrays or Arrow tables immediately, so a whole result never lives as Python objects.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from graph.arrays import US_PER_SECOND
from graph.errors import StoreError
from graph.events import RECORD_SPECS, EventType
from graph.money import from_units, to_units
from graph.store import ARROW_SCHEMAS

__all__ = [
    "ts_parts",
    "shape_rows",
    "dedupe_first",
    "iter_row_batches",
    "edge_columns_to_arrays",
    "records_to_table",
]

_TS = pa.timestamp("us", tz="UTC")


def ts_parts(values: pa.Array | pa.ChunkedArray) -> tuple[pa.Array, pa.Array]:
    """Split UTC timestamps into epoch seconds and nanoseconds (int64 arrays, nulls kept).

    Floor division keeps the nanosecond part in ``[0, 1e9)`` also before 1970,
    as Cypher's ``datetime({epochSeconds, nanosecond})`` expects.
    """
    arr = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    us = arr.cast(_TS).cast(pa.int64())
    mask = np.asarray(us.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    raw = np.asarray(us.fill_null(0).to_numpy(), dtype=np.int64)
    seconds, micros = np.divmod(raw, US_PER_SECOND)
    m = mask if mask.any() else None
    return pa.array(seconds, pa.int64(), mask=m), pa.array(micros * 1000, pa.int64(), mask=m)


def dedupe_first(table: pa.Table, key: str) -> pa.Table:
    """Keep the first row of each ``key`` value, in the original order."""
    if table.num_rows == 0:
        return table
    index = pa.array(np.arange(table.num_rows, dtype=np.int64))
    firsts = (
        pa.table({"k": table.column(key), "i": index})
        .group_by("k", use_threads=False)
        .aggregate([("i", "min")])
        .column("i_min")
    )
    keep = np.sort(np.asarray(firsts.to_numpy(), dtype=np.int64))
    return table.take(pa.array(keep))


def shape_rows(event_type: EventType, table: pa.Table) -> pa.Table:
    """The parameter columns of one record type's load statement (see :mod:`graph.cypher`).

    Edge, share and order rows name their users ``src`` (influencer, sharer,
    buyer) and ``dst`` (influenced user), following
    :data:`graph.events.INFLUENCE_DIRECTION`; ``ts`` becomes ``ts_s``/``ts_ns``
    and money ``amount`` (exact text) plus ``amount_e4`` (integer units).
    """
    event_type = EventType(event_type)
    table = table.select(ARROW_SCHEMAS[event_type].names).cast(ARROW_SCHEMAS[event_type])
    spec = RECORD_SPECS[event_type]
    cols: dict[str, pa.Array | pa.ChunkedArray] = {}
    for name in table.column_names:
        col = table.column(name)
        if name == "ts" or name == "created_at":
            prefix = "ts" if name == "ts" else "created"
            cols[f"{prefix}_s"], cols[f"{prefix}_ns"] = ts_parts(col)
        elif name == "amount":
            cols["amount"] = pc.cast(col, pa.string())
            cols["amount_e4"] = pa.array(to_units(col), pa.int64())
        elif event_type is not EventType.USER and name == spec.src:
            cols["src"] = col
        elif name == spec.dst:
            cols["dst"] = col
        elif name == "role":
            cols["role"] = pc.fill_null(col, "unknown")
        else:
            cols[name] = col
    return pa.table(cols)


def iter_row_batches(table: pa.Table, batch_size: int) -> Iterator[list[dict[str, Any]]]:
    """Slices of ``table`` as lists of dicts, ``batch_size`` rows each (the ``$rows`` parameter).

    Only one slice is turned into Python objects at a time.
    """
    if batch_size < 1:
        raise StoreError(f"The Neo4j batch size must be at least 1. Got {batch_size} instead.")
    for start in range(0, table.num_rows, batch_size):
        yield table.slice(start, batch_size).to_pylist()


def edge_columns_to_arrays(
    columns: Sequence[Sequence[int]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``(src, dst, ts)`` column lists of one columnar edge read as int32/int32/int64 arrays.

    Each list is converted by numpy in C; the lists can be dropped right after.
    """
    if len(columns) != 3 or len({len(c) for c in columns}) > 1:
        raise StoreError(
            "Edge reads must return 3 equally long columns (src, dst, ts); got "
            f"{[len(c) for c in columns]}."
        )
    return (
        np.asarray(columns[0], dtype=np.int32),
        np.asarray(columns[1], dtype=np.int32),
        np.asarray(columns[2], dtype=np.int64),
    )


def records_to_table(
    chunks: Iterable[Sequence[Sequence[Any]]],
    schema: pa.Schema,
    *,
    money: Iterable[str] = (),
) -> pa.Table:
    """Streamed record chunks (tuples in ``schema`` column order) as one Arrow table.

    Timestamp columns arrive as epoch microseconds and money columns (named in
    ``money``) as integer units; each chunk is converted to Arrow as it comes.
    """
    money = set(money)
    parts: list[pa.RecordBatch] = []
    for chunk in chunks:
        if not chunk:
            continue
        columns = list(zip(*chunk, strict=True))
        arrays = []
        for f, values in zip(schema, columns, strict=True):
            if f.name in money:
                ints = pa.array(values, pa.int64())
                mask = np.asarray(ints.is_null().to_numpy(zero_copy_only=False), dtype=bool)
                arrays.append(from_units(ints.fill_null(0).to_numpy(), mask))
            elif pa.types.is_timestamp(f.type):
                arrays.append(pa.array(values, pa.int64()).cast(f.type))
            else:
                arrays.append(pa.array(values, f.type))
        parts.append(pa.RecordBatch.from_arrays(arrays, schema=schema))
    if not parts:
        return schema.empty_table()
    return pa.Table.from_batches(parts, schema=schema)
