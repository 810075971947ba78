"""Role classifier runs: model records and their inferences (``role_models``, ``role_inferences``)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb
import pyarrow as pa

from graph.roles._schema import bump_revision, ensure_schema, has_tables
from graph.transaction import transaction

__all__ = [
    "ModelRecord",
    "save_model",
    "save_inferences",
    "read_models",
    "latest_model_version",
    "model_exists",
]


@dataclass
class ModelRecord:
    """One role-classifier run: version, threshold, parameters and CV metrics."""

    model_version: str
    created_at: datetime
    threshold: float
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)


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
    bump_revision(cur)


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
        with transaction(cur):
            cur.execute("DELETE FROM role_inferences WHERE model_version = ?", [model_version])
            cur.execute(
                "INSERT INTO role_inferences SELECT ?, user_id, predicted_role, role, confidence "
                "FROM _inf",
                [model_version],
            )
            bump_revision(cur)
    finally:
        cur.unregister("_inf")
    return inferences.num_rows


def read_models(conn: duckdb.DuckDBPyConnection, limit: int = 20) -> list[ModelRecord]:
    """Most recent model records first."""
    if not has_tables(conn):
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


def model_exists(conn: duckdb.DuckDBPyConnection, model_version: str) -> bool:
    """Whether a role model ``model_version`` was saved."""
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
