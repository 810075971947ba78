"""Role features of a store: snapshot, behavioural features, declared labels, attribution.

Attribution of orders to sharers and referrers is the ranking's
(:mod:`influence.engagement`, driven by the scoring configuration), so a KOL's
attributed GMV here is the same number the KOC score's conversion uses.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa

from api.services.roles._history import declared_roles, node_roles, role_history_conn
from api.services.signals import conversion_signals
from graph.errors import NotFoundError
from graph.events import EventType
from graph.money import UNITS_PER_CURRENCY_UNIT
from graph.snapshot import GraphSnapshot, build_snapshot
from graph.store import GraphStore
from influence.config import ScoreConfig, as_score_config
from influence.roles import RoleFeatures, role_features

__all__ = ["compute_features"]


# --- features -----------------------------------------------------------------------------
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
    cfg = as_score_config(config)
    snapshot = build_snapshot(store, start=start, end=end)
    if snapshot.n_nodes == 0:
        raise NotFoundError("The store holds no users yet; run `koc ingest` first.")
    conn = role_history_conn(store)
    when = at or end
    if conn is None:
        labels = declared_roles(store, snapshot.node_ids)
    else:
        labels = node_roles(store, snapshot.node_ids, when, model_version=None)
    signals = conversion_signals(store, snapshot, cfg, start, end, {})
    attributed = pa.table(
        {
            "user_id": pa.array(snapshot.node_ids, pa.string()),
            "orders": signals["conversions"],
            "gmv": signals["attributed_gmv_units"] / UNITS_PER_CURRENCY_UNIT,
        }
    )
    shares = store.read_events(EventType.SHARE, start, end).select(["sharer", "ts"])
    orders = store.read_events(EventType.ORDER, start, end).select(["buyer", "amount", "ts"])
    features = role_features(
        snapshot, shares=shares, orders=orders, attributed=attributed, labels=labels
    )
    return snapshot, features, labels, signals
