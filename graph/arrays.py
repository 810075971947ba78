"""Array conventions every package shares: time units and user id -> node index.

Array code works in *node-index space*: users are numbered ``0..n-1`` in the order
of :meth:`graph.store.GraphStore.node_ids`, and times are int64 epoch
microseconds (UTC). The conversions into that space live here, once.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["US_PER_SECOND", "US_PER_DAY", "micros", "node_index", "node_indexes"]

#: Microseconds per second and per day (array times are epoch microseconds).
US_PER_SECOND = 1_000_000
US_PER_DAY = 86_400 * US_PER_SECOND


def micros(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Timestamps as int64 epoch microseconds (UTC).

    Parameters
    ----------
    column : pyarrow.Array or pyarrow.ChunkedArray
        Timestamps of any unit, with or without a time zone (naive ones are read as UTC).

    Returns
    -------
    numpy.ndarray of int64
    """
    return np.asarray(
        column.cast(pa.timestamp("us", tz="UTC")).cast(pa.int64()).to_numpy(), dtype=np.int64
    )


def _value_set(node_ids: np.ndarray | pa.Array) -> pa.Array:
    return node_ids if isinstance(node_ids, pa.Array) else pa.array(node_ids, pa.string())


def _as_strings(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    return values if pa.types.is_string(values.type) else values.cast(pa.string())


def node_index(node_ids: np.ndarray | pa.Array, user_ids: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Node index of each of ``user_ids`` (``-1`` for ids not in ``node_ids`` and nulls).

    Parameters
    ----------
    node_ids : numpy.ndarray of str or pyarrow.Array
        The users in node-index order (position = index).
    user_ids : pyarrow.Array or pyarrow.ChunkedArray
        Ids to look up (cast to strings when they are not).

    Returns
    -------
    numpy.ndarray of int64
    """
    idx = pc.index_in(_as_strings(user_ids), value_set=_value_set(node_ids))
    return np.asarray(idx.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int64)


def node_indexes(
    node_ids: np.ndarray | pa.Array, *columns: pa.Array | pa.ChunkedArray
) -> list[np.ndarray]:
    """:func:`node_index` of each of ``columns``, with one hash table over ``node_ids``
    for all of them (building it is the costly part)."""
    if not columns:
        return []
    chunks = [
        c
        for col in columns
        for c in (
            _as_strings(col).chunks if isinstance(col, pa.ChunkedArray) else [_as_strings(col)]
        )
    ]
    flat = node_index(node_ids, pa.chunked_array(chunks, type=pa.string()))
    bounds = np.cumsum([0, *(len(c) for c in columns)])
    return [flat[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
