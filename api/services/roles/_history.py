"""Role history over a store: effective roles, node roles for ranking, roster import.

The embedded store keeps the dated history (:mod:`graph.roles`); stores without it
(Neo4j) fall back to the roles declared on the user records.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from graph.arrays import node_index
from graph.errors import StoreError
from graph.events import EventType, Role
from graph.roles import import_declarations, role_at
from graph.store import GraphStore

__all__ = [
    "effective_roles",
    "current_roles",
    "node_roles",
    "import_roles",
    "role_history_conn",
    "declared_roles",
]


def role_history_conn(store: GraphStore, *, required: bool = False) -> Any:
    """The role-history connection of ``store.tables``.

    Role resolution joins the graph's ``users`` table in SQL, so it needs tables that
    hold the graph too (the embedded store). Otherwise None (declared roles on the user
    records only), or an error when ``required``.
    """
    if store.tables.holds_graph:
        return store.tables.conn
    if required:
        raise StoreError(
            "Role history (rosters, KOL lists, inferred roles) is kept in the embedded "
            "store; run this with KOC_STORE=duckdb.",
        )
    return None


def declared_roles(store: GraphStore, node_ids: np.ndarray) -> np.ndarray:
    """Roles declared on user records, for stores without role history (Neo4j)."""
    users = store.read_events(EventType.USER)
    roles = np.full(len(node_ids), Role.UNKNOWN.value, dtype=object)
    idx = node_index(node_ids, users.column("user_id"))
    ok = idx >= 0
    roles[idx[ok]] = np.asarray(
        users.column("role").fill_null(Role.UNKNOWN.value).to_pylist(), dtype=object
    )[ok]
    return roles


def current_roles(store: GraphStore, user_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The effective role of each of ``user_ids`` now: ``{user_id: {role, source, confidence}}``.

    Empty for stores without role history (Neo4j): callers then show the run's roles.
    """
    conn = role_history_conn(store)
    if conn is None or not user_ids:
        return {}
    table = role_at(conn, user_ids)
    return {
        uid: {"role": role, "source": source, "confidence": conf}
        for uid, role, source, conf in zip(
            user_ids,
            table.column("role").to_pylist(),
            table.column("source").to_pylist(),
            table.column("confidence").to_pylist(),
            strict=True,
        )
    }


def effective_roles(
    store: GraphStore, at: datetime | None = None, *, model_version: str | None = "latest"
) -> pa.Table:
    """Every user's effective role at ``at`` (default now).

    Declared roles (roster / KOL list periods, then the user record) win; an
    inferred role fills in only undeclared users whose confidence reached the
    model's threshold; everyone else is ``unknown``. See :func:`graph.roles.role_at`.

    Returns
    -------
    pyarrow.Table
        ``user_id``, ``role``, ``source`` (``declared`` | ``inferred`` |
        ``unknown``), ``confidence``, ``model_version``, in node order.
    """
    node_ids = store.node_ids()
    conn = role_history_conn(store)
    if conn is None:
        roles = declared_roles(store, node_ids)
        declared = roles != Role.UNKNOWN.value
        return pa.table(
            {
                "user_id": pa.array(node_ids, pa.string()),
                "role": pa.array(roles, pa.string()),
                "source": pa.array(np.where(declared, "declared", "unknown"), pa.string()),
                "confidence": pa.array(np.where(declared, 1.0, np.nan), from_pandas=True),
                "model_version": pa.nulls(len(node_ids), pa.string()),
            }
        )
    return role_at(conn, node_ids, at, model_version=model_version).drop_columns(["ts"])


def node_roles(
    store: GraphStore,
    node_ids: np.ndarray,
    at: datetime | None = None,
    *,
    model_version: str | None = "latest",
) -> np.ndarray:
    """Effective role of each of ``node_ids`` at ``at`` as an object array (for ranking)."""
    conn = role_history_conn(store)
    if conn is None:
        return declared_roles(store, np.asarray(node_ids, dtype=object))
    table = role_at(conn, np.asarray(node_ids, dtype=object), at, model_version=model_version)
    return np.asarray(table.column("role").to_pylist(), dtype=object)


def import_roles(store: GraphStore, path: str | Path, *, kind: str) -> dict[str, Any]:
    """Import an employee roster or a KOL list (``koc roles import``); see
    :func:`graph.roles.import_declarations` for the format and the checks."""
    result = import_declarations(role_history_conn(store, required=True), path, kind=kind)
    return {
        "source": result.source,
        "kind": result.kind,
        "rows": result.rows,
        "inserted": result.inserted,
        "replaced": result.replaced,
        "unchanged": result.unchanged,
    }
