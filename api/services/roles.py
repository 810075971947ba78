"""Role views: effective roles, role inference and the per-role measures.

The one place where the role pipeline does I/O. Role history lives in the
embedded store (:mod:`graph.roles`); features, the classifier and the measures
are pure functions in :mod:`influence.roles`; the CLI (``koc roles ...``) and the
HTTP API (``/v1/roles/{role}``) call the functions here and only format results.

Attribution of orders to sharers and referrers is the ranking's
(:mod:`influence.engagement`, driven by the scoring configuration), so a KOL's
attributed GMV here is the same number the KOC score's conversion uses.
"""

from __future__ import annotations

import math
import secrets
import time
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from graph.errors import ConfigError, IngestError, NotFoundError, StoreError
from graph.events import EventType, Role
from graph.roles import (
    ModelRecord,
    import_declarations,
    read_declarations,
    read_models,
    role_at,
    save_inferences,
    save_model,
)
from graph.snapshot import GraphSnapshot, build_snapshot
from graph.store import GraphStore
from influence.config import ScoreConfig, load_score_config
from influence.engagement import money_units
from influence.roles import (
    RoleFeatures,
    audience_overlap,
    employee_measures,
    index_of,
    kol_measures,
    role_features,
)

__all__ = [
    "ROLE_VIEWS",
    "TRAIN_ROLES",
    "effective_roles",
    "node_roles",
    "import_roles",
    "compute_features",
    "infer_roles",
    "evaluate_roles",
    "roles_summary",
    "role_view",
]

#: Roles with a view (``/v1/roles/{role}``, ``koc roles top --role``).
ROLE_VIEWS: tuple[str, ...] = (Role.EMPLOYEE.value, Role.KOL.value, Role.CONSUMER.value)
#: Roles the classifier learns (declared users of these roles are its training set).
TRAIN_ROLES: tuple[str, ...] = ROLE_VIEWS
_UNITS = 10_000


def _conn(store: GraphStore, *, required: bool = False) -> Any:
    conn = getattr(store, "conn", None)
    if conn is None and required:
        raise StoreError(
            "Role history (rosters, KOL lists, inferred roles) is kept in the embedded "
            "store; run this with KOC_STORE=duckdb.",
        )
    return conn


def _declared_only(store: GraphStore, node_ids: np.ndarray) -> np.ndarray:
    """Roles declared on user records, for stores without role history (Neo4j)."""
    users = store.read_events(EventType.USER)
    roles = np.full(len(node_ids), Role.UNKNOWN.value, dtype=object)
    idx = index_of(node_ids, users.column("user_id"))
    ok = idx >= 0
    roles[idx[ok]] = np.asarray(
        users.column("role").fill_null(Role.UNKNOWN.value).to_pylist(), dtype=object
    )[ok]
    return roles


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
    conn = _conn(store)
    if conn is None:
        roles = _declared_only(store, node_ids)
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
    conn = _conn(store)
    if conn is None:
        return _declared_only(store, np.asarray(node_ids, dtype=object))
    table = role_at(conn, np.asarray(node_ids, dtype=object), at, model_version=model_version)
    return np.asarray(table.column("role").to_pylist(), dtype=object)


def import_roles(store: GraphStore, path: str | Path, *, kind: str) -> dict[str, Any]:
    """Import an employee roster or a KOL list (``koc roles import``); see
    :func:`graph.roles.import_declarations` for the format and the checks."""
    result = import_declarations(_conn(store, required=True), path, kind=kind)
    return {
        "source": result.source,
        "kind": result.kind,
        "rows": result.rows,
        "inserted": result.inserted,
        "replaced": result.replaced,
        "unchanged": result.unchanged,
    }


# --- features -----------------------------------------------------------------------------
def _score_config(config: ScoreConfig | str | Path | None) -> ScoreConfig:
    return config if isinstance(config, ScoreConfig) else load_score_config(config)


def _attribution(
    store: GraphStore,
    snapshot: GraphSnapshot,
    config: ScoreConfig,
    start: datetime | None,
    end: datetime | None,
) -> dict[str, np.ndarray]:
    # the ranking's attribution, so role views and KOC scores agree on credited GMV
    from api.services.ranking import conversion_signals

    return conversion_signals(store, snapshot, config, start, end, {})


def compute_features(
    store: GraphStore,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    at: datetime | None = None,
    config: ScoreConfig | str | Path | None = None,
) -> tuple[GraphSnapshot, RoleFeatures, np.ndarray, dict[str, np.ndarray]]:
    """Snapshot, behavioural features, declared labels and attribution signals.

    Labels are the roles *declared* at ``at`` (default: ``end``, else now);
    inferred roles never feed back into training or neighbour features.
    """
    cfg = _score_config(config)
    snapshot = build_snapshot(store, start=start, end=end)
    if snapshot.n_nodes == 0:
        raise NotFoundError("The store holds no users yet; run `koc ingest` first.")
    conn = _conn(store)
    when = at or end
    if conn is None:
        labels = _declared_only(store, snapshot.node_ids)
    else:
        labels = node_roles(store, snapshot.node_ids, when, model_version=None)
    signals = _attribution(store, snapshot, cfg, start, end)
    attributed = pa.table(
        {
            "user_id": pa.array(snapshot.node_ids, pa.string()),
            "orders": signals["conversions"],
            "gmv": signals["attributed_gmv_units"] / _UNITS,
        }
    )
    shares = store.read_events(EventType.SHARE, start, end).select(["sharer", "ts"])
    orders = store.read_events(EventType.ORDER, start, end).select(["buyer", "amount", "ts"])
    features = role_features(
        snapshot, shares=shares, orders=orders, attributed=attributed, labels=labels
    )
    return snapshot, features, labels, signals


def _model(estimator: str, threshold: float, seed: int, max_train_samples: int | None) -> Any:
    from influence.roles import RoleClassifier

    return RoleClassifier(
        estimator=estimator,
        threshold=threshold,
        random_state=seed,
        max_train_samples=max_train_samples,
    )


def _public_report(report: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in report.items() if k != "oof_proba"}


def infer_roles(
    store: GraphStore,
    *,
    threshold: float = 0.6,
    start: datetime | None = None,
    end: datetime | None = None,
    at: datetime | None = None,
    estimator: str = "logistic",
    seed: int = 0,
    cv_folds: int = 0,
    max_train_samples: int | None = 200_000,
    config: ScoreConfig | str | Path | None = None,
) -> dict[str, Any]:
    """Train the role classifier on declared roles and store roles for the others.

    Parameters
    ----------
    store : graph.store.GraphStore
        The embedded store (role history lives there).
    threshold : float in [0, 1]
        Calibrated confidence below which an inferred role stays ``unknown``.
    start, end : datetime, optional
        Window of the behaviour the features describe.
    at : datetime, optional
        Time at which declared roles are read (default ``end`` or now).
    estimator : {"logistic", "hgb"}
        Base model of :class:`influence.roles.RoleClassifier`.
    seed : int
        Random seed (subsampling, CV shuffling).
    cv_folds : int
        When >= 2, also cross-validate on the declared users and store the report
        with the model.
    max_train_samples : int or None
        Training rows cap (rare roles always kept).
    config : ScoreConfig, path or None
        Scoring configuration (its attribution windows).

    Returns
    -------
    dict
        ``model_version``, ``threshold``, ``trained_on`` (declared users per
        role), ``inferred`` (undeclared users per resulting role), ``metrics``
        and ``timings``.
    """
    conn = _conn(store, required=True)
    t0 = time.perf_counter()
    _, feats, labels, _ = compute_features(store, start=start, end=end, at=at, config=config)
    t_feat = time.perf_counter() - t0
    train = np.isin(labels, TRAIN_ROLES)
    model = _model(estimator, threshold, seed, max_train_samples)
    metrics: dict[str, Any] = {}
    if cv_folds >= 2:
        from influence.roles import cross_validate_roles

        metrics["cv"] = _public_report(
            cross_validate_roles(model, feats.X[train], labels[train], n_splits=cv_folds, seed=seed)
        )
    model.fit(feats.X[train], labels[train])
    t_fit = time.perf_counter() - t0 - t_feat
    target = np.flatnonzero(~train)
    predicted, role, confidence = model.predict_role(feats.X[target])
    created = datetime.now(UTC)
    version = f"roles-{created:%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"
    save_model(
        conn,
        ModelRecord(
            model_version=version,
            created_at=created,
            threshold=float(threshold),
            params={
                **model.get_params(),
                "features": list(feats.names),
                "n_train": model.n_train_,
                "window_start": start,
                "window_end": end,
            },
            metrics=metrics,
        ),
    )
    save_inferences(
        conn,
        version,
        pa.table(
            {
                "user_id": pa.array(feats.node_ids[target], pa.string()),
                "predicted_role": pa.array(predicted, pa.string()),
                "role": pa.array(role, pa.string()),
                "confidence": pa.array(confidence, pa.float64()),
            }
        ),
    )
    return {
        "model_version": version,
        "threshold": float(threshold),
        "trained_on": dict(sorted(Counter(labels[train].tolist()).items())),
        "inferred": dict(sorted(Counter(role.tolist()).items())),
        "metrics": metrics,
        "timings": {
            "features": round(t_feat, 3),
            "fit": round(t_fit, 3),
            "total": round(time.perf_counter() - t0, 3),
        },
    }


def evaluate_roles(
    store: GraphStore,
    *,
    folds: int = 5,
    ground_truth: str | Path | None = None,
    threshold: float = 0.6,
    start: datetime | None = None,
    end: datetime | None = None,
    estimator: str = "logistic",
    seed: int = 0,
    max_train_samples: int | None = 200_000,
    config: ScoreConfig | str | Path | None = None,
) -> dict[str, Any]:
    """Cross-validated quality of the role classifier (``koc roles evaluate``).

    ``cv`` is stratified k-fold on the declared users (what the pipeline knows).
    With ``ground_truth`` (a Parquet/CSV file with ``user_id`` and the true
    ``role``, e.g. the generator's ``ground_truth_users.parquet``), the model is
    also trained on all declared users and scored on the *undeclared* users
    against the truth (``holdout``), with the threshold applied (``coverage`` =
    share of them given a role; precision and recall over all of them, an
    ``unknown`` counting as a miss).

    Returns
    -------
    dict
        ``n_declared``, ``n_undeclared``, ``cv`` and optionally ``holdout`` and
        ``holdout_thresholded``: per-class precision / recall / F1, macro
        averages, confusion matrix (rows = true role).
    """
    from influence.roles import classification_report_dict, cross_validate_roles

    t0 = time.perf_counter()
    _, feats, labels, _ = compute_features(store, start=start, end=end, config=config)
    train = np.isin(labels, TRAIN_ROLES)
    model = _model(estimator, threshold, seed, max_train_samples)
    out: dict[str, Any] = {
        "n_declared": int(train.sum()),
        "n_undeclared": int((~train).sum()),
        "threshold": threshold,
        "cv": _public_report(
            cross_validate_roles(model, feats.X[train], labels[train], n_splits=folds, seed=seed)
        ),
    }
    if ground_truth is not None:
        truth = _read_truth(Path(ground_truth))
        pos = index_of(truth.column("user_id"), pa.array(feats.node_ids, pa.string()))
        true_role = np.full(feats.node_ids.shape[0], None, dtype=object)
        true_role[pos >= 0] = np.asarray(truth.column("role").to_pylist(), dtype=object)[
            pos[pos >= 0]
        ]
        hidden = np.flatnonzero(~train & np.isin(true_role, TRAIN_ROLES))
        model.fit(feats.X[train], labels[train])
        predicted, role, _ = model.predict_role(feats.X[hidden])
        out["holdout"] = classification_report_dict(
            true_role[hidden], predicted, labels=list(TRAIN_ROLES)
        )
        out["holdout_thresholded"] = classification_report_dict(
            true_role[hidden], role, labels=list(TRAIN_ROLES)
        )
        out["holdout_thresholded"]["coverage"] = float(np.mean(role != Role.UNKNOWN.value))
    out["seconds"] = round(time.perf_counter() - t0, 3)
    return out


def _read_truth(path: Path) -> pa.Table:
    if not path.is_file():
        raise IngestError(f"Ground-truth file {path} does not exist.", source=str(path))
    if path.suffix == ".parquet":
        table = pq.read_table(path)
    else:
        import pyarrow.csv as pacsv

        table = pacsv.read_csv(path)
    missing = {"user_id", "role"} - set(table.column_names)
    if missing:
        raise IngestError(
            f"Ground-truth file {path} needs the columns user_id and role; missing "
            f"{', '.join(sorted(missing))}.",
            source=str(path),
        )
    return table.select(["user_id", "role"])


# --- views ----------------------------------------------------------------------------------
def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
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
    conn = _conn(store)
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
    idx = index_of(snapshot.node_ids, users.column("user_id"))
    store_of[idx[idx >= 0]] = np.asarray(users.column("store_id").to_pylist(), object)[idx >= 0]
    conn = _conn(store)
    if conn is not None:  # the roster's store at ``at`` wins over the user record
        decl = read_declarations(conn, Role.EMPLOYEE.value)
        when = pa.scalar(at or datetime.now(UTC), pa.timestamp("us", tz="UTC"))
        live = pc.and_(
            pc.less_equal(decl.column("valid_from"), when),
            pc.fill_null(pc.greater(decl.column("valid_to"), when), True),
        )
        decl = decl.filter(live)
        d_idx = index_of(snapshot.node_ids, decl.column("user_id"))
        store_of[d_idx[d_idx >= 0]] = np.asarray(decl.column("store_id").to_pylist(), object)[
            d_idx >= 0
        ]
    spend = store.read_spend(start, end)
    s_idx = index_of(snapshot.node_ids, spend.column("user_id"))
    ok = s_idx >= 0
    orders = np.zeros(snapshot.n_nodes, dtype=np.int64)
    net = np.zeros(snapshot.n_nodes, dtype=np.int64)
    orders[s_idx[ok]] = spend.column("orders").to_numpy()[ok]
    net[s_idx[ok]] = money_units(spend.column("net"))[ok]
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
    conn = _conn(store)
    if conn is not None:
        decl = read_declarations(conn, Role.KOL.value)
        decl = decl.filter(pc.is_valid(decl.column("fee")))
        if decl.num_rows:  # latest contract with a fee
            pos = index_of(snapshot.node_ids[kols], decl.column("user_id"))
            units = money_units(decl.column("fee"))
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
            "attributed_gmv": str(pc.sum(table.column("attributed_gmv")).as_py() or Decimal(0)),
            "median_engagement_rate": _median(table.column("engagement_rate")),
        },
        "items": _rows(table.slice(0, limit)),
        "overlap": _rows(overlap),
    }


def _consumer_view(
    store: GraphStore, run_id: str | None, at: datetime | None, limit: int
) -> dict[str, Any]:
    from api.services.ranking import leaderboard, rank_changes, resolve_run

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
    cfg = _score_config(config)
    snapshot = build_snapshot(store, start=start, end=end)
    roles = node_roles(store, snapshot.node_ids, when)
    signals = _attribution(store, snapshot, cfg, start, end)
    if role == Role.EMPLOYEE.value:
        out.update(_employee_view(store, snapshot, roles, signals, start, end, when, int(limit)))
    else:
        out.update(_kol_view(store, snapshot, roles, signals, cfg, int(limit)))
    return out
