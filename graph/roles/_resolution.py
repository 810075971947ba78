"""Resolution of the effective role of a user at a time (:func:`role_at`).

The order of the sources (dated declaration, then no covering period =
``consumer``, then the user record, then the latest inference, then
``unknown``) is set out in :mod:`graph.roles`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from graph.errors import NotFoundError, ValidationFailure
from graph.roles._models import latest_model_version, model_exists
from graph.roles._schema import has_tables

__all__ = ["EFFECTIVE_SCHEMA", "role_at", "next_role_change"]

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


# --- resolution -------------------------------------------------------------------------------
def _resolve_sql(has_roles: bool, model_version: str | None) -> str:
    """Role of each ``_roles_q(i, user_id, ts)`` row; see the :mod:`graph.roles` docstring."""
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
    has_roles = has_tables(conn)
    version = model_version
    if has_roles and model_version == "latest":
        version = latest_model_version(conn)
    elif has_roles and model_version is not None and not model_exists(conn, model_version):
        raise NotFoundError(
            f"No role model {model_version!r} has been trained.",
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
    if not has_tables(conn):
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
