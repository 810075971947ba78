"""Role views: the per-role summary and the employee, KOL and consumer views.

Employees: connected vs unconnected customers (uplift) per employee and store;
KOLs: reach, engagement, conversion and GMV per fee (cost-effectiveness) and
audience overlap; consumers: the KOC leaderboard without staff.
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from api.services.leaderboard import leaderboard, rank_changes, resolve_run
from api.services.roles._history import effective_roles, node_roles, role_history_conn
from api.services.signals import conversion_signals
from graph.arrays import node_index
from graph.errors import ConfigError, NotFoundError
from graph.events import EventType, Role
from graph.money import format_money, to_units
from graph.roles import read_declarations, read_models
from graph.snapshot import build_snapshot
from graph.store import GraphStore
from influence.config import ScoreConfig, as_score_config
from influence.roles import audience_overlap, employee_measures, kol_measures

__all__ = ["ROLE_VIEWS", "roles_summary", "role_view"]

#: Roles with a view (``/v1/roles/{role}``, ``koc roles top --role``).
ROLE_VIEWS: tuple[str, ...] = (Role.EMPLOYEE.value, Role.KOL.value, Role.CONSUMER.value)


# --- views ----------------------------------------------------------------------------------
def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):  # only money is Decimal here (statistics are floats)
        return format_money(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _median(column: pa.ChunkedArray) -> float | None:
    values = column.to_numpy(zero_copy_only=False).astype(np.float64)
    values = values[np.isfinite(values)]
    return float(np.median(values)) if values.size else None


def _rows(table: pa.Table) -> list[dict[str, Any]]:
    return [{k: _jsonable(v) for k, v in r.items()} for r in table.to_pylist()]


def roles_summary(store: GraphStore, at: datetime | None = None) -> dict[str, Any]:
    """Users per effective role and source, declarations on file and the latest model."""
    eff = effective_roles(store, at)
    counts = eff.group_by(["role", "source"]).aggregate([("user_id", "count")])
    by_role: dict[str, dict[str, int]] = {}
    for r in counts.to_pylist():
        by_role.setdefault(r["role"], {})[r["source"]] = int(r["user_id_count"])
    conn = role_history_conn(store)
    out: dict[str, Any] = {
        "at": (at or datetime.now(UTC)).isoformat(),
        "users": eff.num_rows,
        "roles": {k: {"total": sum(v.values()), **v} for k, v in sorted(by_role.items())},
        "declarations": {},
        "model": None,
    }
    if conn is not None:
        decl = read_declarations(conn)
        out["declarations"] = dict(Counter(decl.column("role").to_pylist()))
        models = read_models(conn, limit=1)
        if models:
            m = models[0]
            out["model"] = {
                "model_version": m.model_version,
                "created_at": m.created_at.isoformat(),
                "threshold": m.threshold,
                "cv_macro_f1": m.metrics.get("cv", {}).get("macro", {}).get("f1"),
            }
    return out


def _window(store: GraphStore, run_id: str | None) -> tuple[datetime | None, datetime | None]:
    if run_id is None:
        return None, None
    run = store.get_run(run_id)
    return run.window_start, run.window_end


def _employee_view(store, snapshot, roles, signals, start, end, at, limit) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    users = store.read_events(EventType.USER).select(["user_id", "store_id"])
    store_of = np.full(snapshot.n_nodes, None, dtype=object)
    idx = node_index(snapshot.node_ids, users.column("user_id"))
    store_of[idx[idx >= 0]] = np.asarray(users.column("store_id").to_pylist(), object)[idx >= 0]
    conn = role_history_conn(store)
    if conn is not None:  # the roster's store at ``at`` wins over the user record
        decl = read_declarations(conn, Role.EMPLOYEE.value)
        when = pa.scalar(at or datetime.now(UTC), pa.timestamp("us", tz="UTC"))
        live = pc.and_(
            pc.less_equal(decl.column("valid_from"), when),
            pc.fill_null(pc.greater(decl.column("valid_to"), when), True),
        )
        decl = decl.filter(live)
        d_idx = node_index(snapshot.node_ids, decl.column("user_id"))
        store_of[d_idx[d_idx >= 0]] = np.asarray(decl.column("store_id").to_pylist(), object)[
            d_idx >= 0
        ]
    spend = store.read_spend(start, end)
    s_idx = node_index(snapshot.node_ids, spend.column("user_id"))
    ok = s_idx >= 0
    orders = np.zeros(snapshot.n_nodes, dtype=np.int64)
    net = np.zeros(snapshot.n_nodes, dtype=np.int64)
    orders[s_idx[ok]] = spend.column("orders").to_numpy()[ok]
    net[s_idx[ok]] = to_units(spend.column("net"))[ok]
    m = employee_measures(
        snapshot,
        roles,
        store=store_of,
        orders=orders,
        net_units=net,
        attributed_orders=signals["conversions"],
        attributed_units=signals["attributed_gmv_units"],
    )
    return {
        "summary": {k: _jsonable(v) for k, v in m.overall.items()},
        "items": _rows(m.employees.slice(0, limit)),
        "stores": _rows(m.stores.slice(0, limit)),
    }


def _kol_view(store, snapshot, roles, signals, cfg, limit) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    kols = np.flatnonzero(roles == Role.KOL.value)
    fee = np.full(kols.size, -1, dtype=np.int64)
    conn = role_history_conn(store)
    if conn is not None:
        decl = read_declarations(conn, Role.KOL.value)
        decl = decl.filter(pc.is_valid(decl.column("fee")))
        if decl.num_rows:  # latest contract with a fee
            pos = node_index(snapshot.node_ids[kols], decl.column("user_id"))
            units = to_units(decl.column("fee"))
            fee[pos[pos >= 0]] = units[pos >= 0]  # rows sorted by start: the latest wins
    reach = np.zeros(snapshot.n_nodes)
    if kols.size:  # exact multi-hop reach of the (few) KOLs, hops as in the KOC score
        from influence.reach import reach_exact

        reach[kols] = np.asarray(reach_exact(snapshot, kols, hops=cfg.reach.hops))[:, -1]
    table = kol_measures(
        snapshot,
        kols,
        attributed_orders=signals["conversions"],
        attributed_units=signals["attributed_gmv_units"],
        fee_units=fee,
        reach=reach,
    )
    overlap = audience_overlap(snapshot, kols, limit=limit)
    n = table.num_rows
    return {
        "summary": {
            "kols": n,
            "attributed_gmv": format_money(pc.sum(table.column("attributed_gmv")).as_py() or 0),
            "median_engagement_rate": _median(table.column("engagement_rate")),
        },
        "items": _rows(table.slice(0, limit)),
        "overlap": _rows(overlap),
    }


def _consumer_view(
    store: GraphStore, run_id: str | None, at: datetime | None, limit: int
) -> dict[str, Any]:
    run = resolve_run(store, run_id)
    staff = {Role.EMPLOYEE.value, Role.KOL.value}
    # the run's roles exclude staff; today's effective roles catch later roster imports
    rows = leaderboard(store, run_id=run.run_id, limit=min(10_000, 4 * limit + 50))
    current = node_roles(store, np.array([r["user_id"] for r in rows], dtype=object), at)
    rows = [r for r, c in zip(rows, current, strict=True) if c not in staff][:limit]
    for i, r in enumerate(rows, 1):
        r["rank"] = i
    changes = rank_changes(store, run.run_id, limit=limit)
    scores = store.read_scores(run.run_id)
    scores = scores.filter(pc.invert(pc.is_in(scores.column("role"), pa.array(sorted(staff)))))
    communities = (
        scores.filter(pc.is_valid(scores.column("community")))
        .group_by("community")
        .aggregate([("user_id", "count"), ("score", "max")])
        .sort_by([("user_id_count", "descending")])
        .slice(0, limit)
    )
    return {
        "run_id": run.run_id,
        "summary": {"consumers_ranked": scores.num_rows},
        "items": rows,
        "rising": changes["rising"],
        "communities": [
            {
                "community": c["community"],
                "members": c["user_id_count"],
                "top_score": c["score_max"],
            }
            for c in communities.to_pylist()
        ],
    }


def role_view(
    store: GraphStore,
    role: str,
    *,
    run_id: str | None = None,
    limit: int = 20,
    at: datetime | None = None,
    config: ScoreConfig | str | Path | None = None,
) -> dict[str, Any]:
    """The view of one role, as JSON-ready data (``/v1/roles/{role}``, ``koc roles top``).

    Parameters
    ----------
    store : graph.store.GraphStore
    role : {"employee", "kol", "consumer"}
    run_id : str, optional
        Ranking run: the consumer leaderboard's run, and the data window of the
        employee and KOL measures (default: latest run / all data).
    limit : int
        Rows per list (1..1000).
    at : datetime, optional
        When effective roles are read (default now).
    config : ScoreConfig, path or None
        Scoring configuration (attribution windows).

    Returns
    -------
    dict
        ``role``, ``at``, ``counts`` (users with that effective role, by source)
        and, per role: ``employee``: ``summary`` (connected vs unconnected
        customers), ``items`` (per employee), ``stores`` (per-store rollup);
        ``kol``: ``summary``, ``items`` (reach within the score's hops,
        engagement, conversion, GMV, GMV per fee), ``overlap`` (audience Jaccard pairs); ``consumer``:
        ``items`` (KOC leaderboard without staff, with score breakdown),
        ``rising`` and ``communities``. Money is a decimal string.

    Raises
    ------
    NotFoundError
        Unknown role, or no ranking run for the consumer view.
    ConfigError
        ``limit`` out of range.
    """
    if role not in ROLE_VIEWS:
        raise NotFoundError(
            f"No role view {role!r}; use one of {', '.join(ROLE_VIEWS)}.", role=role
        )
    if not 1 <= int(limit) <= 1000:
        raise ConfigError(
            f"The 'limit' parameter must be an int in [1, 1000]. Got {limit!r} instead.",
            key="limit",
        )
    when = at or datetime.now(UTC)
    eff = effective_roles(store, when)
    mask = pc.equal(eff.column("role"), role)
    counts = Counter(eff.filter(mask).column("source").to_pylist())
    out: dict[str, Any] = {
        "role": role,
        "at": when.isoformat(),
        "counts": {"total": sum(counts.values()), **dict(sorted(counts.items()))},
    }
    if role == Role.CONSUMER.value:
        out.update(_consumer_view(store, run_id, when, int(limit)))
        return out
    start, end = _window(store, run_id)
    cfg = as_score_config(config)
    snapshot = build_snapshot(store, start=start, end=end)
    roles = node_roles(store, snapshot.node_ids, when)
    # the ranking's attribution, so role views and KOC scores agree on credited GMV
    signals = conversion_signals(store, snapshot, cfg, start, end, {})
    if role == Role.EMPLOYEE.value:
        out.update(_employee_view(store, snapshot, roles, signals, start, end, when, int(limit)))
    else:
        out.update(_kol_view(store, snapshot, roles, signals, cfg, int(limit)))
    return out
