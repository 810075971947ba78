"""Behavioural features that tell employees, KOLs and consumers apart.

Pure functions: a snapshot (or any edge arrays with ``src``, ``dst``, ``etype``,
``ts`` and ``node_ids``) plus Arrow tables in, a dense ``float32`` matrix out,
one row per node in ``node_ids`` order. Everything is vectorized with numpy
``bincount`` and scipy sparse products; no Python loop touches an event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from graph.arrays import node_index
from graph.events import EDGE_TYPE_CODES, EDGE_TYPES, EventType, Role

__all__ = [
    "EdgeLike",
    "RoleFeatures",
    "NEIGHBOUR_ROLES",
    "role_features",
    "neighbour_pattern",
    "audience_pattern",
]

#: Roles whose share among a user's neighbours is a feature (in this column order).
NEIGHBOUR_ROLES: tuple[str, ...] = (
    Role.EMPLOYEE.value,
    Role.KOL.value,
    Role.CONSUMER.value,
    Role.UNKNOWN.value,
)
_US_PER_HOUR = 3_600_000_000


class EdgeLike(Protocol):
    """What the role functions read from a snapshot: :class:`graph.snapshot.GraphSnapshot`
    and :class:`graph.store.EdgeArrays` both qualify."""

    @property
    def src(self) -> np.ndarray: ...
    @property
    def dst(self) -> np.ndarray: ...
    @property
    def etype(self) -> np.ndarray: ...
    @property
    def ts(self) -> np.ndarray: ...
    @property
    def node_ids(self) -> np.ndarray: ...


@dataclass(frozen=True)
class RoleFeatures:
    """A feature matrix: ``X[i]`` describes user ``node_ids[i]``; columns named by ``names``."""

    X: np.ndarray
    names: tuple[str, ...]
    node_ids: np.ndarray

    def to_arrow(self) -> pa.Table:
        """The matrix as an Arrow table with a ``user_id`` column first."""
        cols = {"user_id": pa.array(self.node_ids, pa.string())}
        cols.update({n: pa.array(self.X[:, j]) for j, n in enumerate(self.names)})
        return pa.table(cols)


def _pattern(n: int, rows: np.ndarray, cols: np.ndarray) -> sp.csr_matrix:
    """0/1 ``n x n`` CSR with one entry per distinct (row, col) pair, self-loops dropped."""
    keep = rows != cols
    rows, cols = rows[keep], cols[keep]
    m = sp.csr_matrix(
        (np.ones(rows.shape[0], dtype=np.float32), (rows, cols)), shape=(n, n), dtype=np.float32
    )
    m.sum_duplicates()
    m.data[:] = 1.0
    return m


def audience_pattern(edges: EdgeLike, types: tuple[EventType, ...] | None = None) -> sp.csr_matrix:
    """Distinct audience as a 0/1 CSR: row = influencer, column = someone they influenced."""
    src, dst = edges.src, edges.dst
    if types is not None:
        mask = np.isin(edges.etype, [EDGE_TYPE_CODES[t] for t in types])
        src, dst = src[mask], dst[mask]
    return _pattern(len(edges.node_ids), src, dst)


def neighbour_pattern(edges: EdgeLike, audience: sp.csr_matrix | None = None) -> sp.csr_matrix:
    """Undirected 0/1 CSR of distinct neighbours (an edge in either direction).

    ``audience`` is :func:`audience_pattern` of ``edges`` when already computed.
    """
    a = audience_pattern(edges) if audience is None else audience
    sym = (a + a.T).tocsr()
    sym.data[:] = 1.0
    return sym


def _log1p(x: np.ndarray) -> np.ndarray:
    return np.log1p(np.maximum(x, 0.0))


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.zeros(num.shape, dtype=np.float64)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _time_histograms(
    n: int, actor: np.ndarray, ts: np.ndarray, tz_offset_hours: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Share of each user's actions per local hour (24) and weekday (7, Monday first),
    and the number of distinct local days they were active."""
    hours_since_epoch = (ts + int(round(tz_offset_hours * _US_PER_HOUR))) // _US_PER_HOUR
    hour = hours_since_epoch % 24
    day = hours_since_epoch // 24
    weekday = (day + 3) % 7  # 1970-01-01 was a Thursday
    hours = np.bincount(actor * 24 + hour, minlength=n * 24).reshape(n, 24).astype(np.float32)
    days = np.bincount(actor * 7 + weekday, minlength=n * 7).reshape(n, 7).astype(np.float32)
    total = hours.sum(axis=1, keepdims=True)
    np.divide(hours, total, out=hours, where=total > 0)
    np.divide(days, total, out=days, where=total > 0)
    active_days = np.zeros(n, dtype=np.float64)
    if actor.size:  # distinct (user, day) pairs: a sparse pattern, no global sort
        span = int(day.max() - day.min()) + 1
        pattern = sp.csr_matrix(
            (np.ones(actor.size, dtype=np.float32), (actor, day - day.min())), shape=(n, span)
        )
        pattern.sum_duplicates()
        active_days = np.diff(pattern.indptr).astype(np.float64)
    return hours, days, active_days


def role_features(
    edges: EdgeLike,
    *,
    shares: pa.Table | None = None,
    orders: pa.Table | None = None,
    attributed: pa.Table | None = None,
    labels: np.ndarray | None = None,
    tz_offset_hours: float = 8.0,
) -> RoleFeatures:
    """Behavioural features of every node, for the role classifier.

    Parameters
    ----------
    edges : graph.snapshot.GraphSnapshot or graph.store.EdgeArrays
        Influence edges (``src`` influenced ``dst``), with ``etype``, ``ts``
        (UTC epoch microseconds) and ``node_ids``.
    shares : pyarrow.Table, optional
        Share events: columns ``sharer`` and ``ts``.
    orders : pyarrow.Table, optional
        Orders: ``buyer``, ``amount`` (decimal), ``ts``; optional ``refunded``.
    attributed : pyarrow.Table, optional
        Orders attributed to each influencer: ``user_id``, ``orders``, ``gmv``
        (currency units).
    labels : numpy.ndarray of str, optional
        Known (declared) role of every node, ``unknown`` when not declared; gives
        the neighbour-role features. A node's own label is never used for its
        own row.
    tz_offset_hours : float
        Offset of the brand's local time from UTC for the hour/weekday profile.

    Returns
    -------
    RoleFeatures
        Columns (all ``log1p`` for counts): audience and influencer counts
        (distinct users), outgoing/incoming edge counts per type, shares,
        forward and comment rates per view, attributed orders and GMV,
        conversion rate (attributed orders per audience member), own orders,
        spend and average order value, active days, the share of actions per
        local hour and weekday, and the number and share of neighbours per
        declared role.

    Notes
    -----
    Roles of neighbours follow the homophily argument of relational
    classification (Macskassy and Provost, "Classification in networked data",
    JMLR 8, 2007): sales guides cluster around their store's customers and each
    other; KOLs follow KOLs.
    """
    node_ids = np.asarray(edges.node_ids, dtype=object)
    n = node_ids.shape[0]
    id_set = pa.array(node_ids, pa.string())
    src = np.asarray(edges.src, dtype=np.int64)
    dst = np.asarray(edges.dst, dtype=np.int64)
    etype = np.asarray(edges.etype, dtype=np.int64)
    ts = np.asarray(edges.ts, dtype=np.int64)
    k = len(EDGE_TYPES)
    cols: dict[str, np.ndarray] = {}

    aud = audience_pattern(edges)
    audience = np.diff(aud.indptr).astype(np.float64)
    influencers = np.asarray(aud.getnnz(axis=0), dtype=np.float64)
    cols["audience"] = _log1p(audience)
    cols["influencers"] = _log1p(influencers)
    out_counts = np.bincount(src * k + etype, minlength=n * k).reshape(n, k).astype(np.float64)
    in_counts = np.bincount(dst * k + etype, minlength=n * k).reshape(n, k).astype(np.float64)
    for t in EDGE_TYPES:
        c = EDGE_TYPE_CODES[t]
        cols[f"out_{t.value}"] = _log1p(out_counts[:, c])
        cols[f"in_{t.value}"] = _log1p(in_counts[:, c])
    views = out_counts[:, EDGE_TYPE_CODES[EventType.VIEW]]
    cols["forward_rate"] = _ratio(out_counts[:, EDGE_TYPE_CODES[EventType.FORWARD]], views)
    cols["comment_rate"] = _ratio(out_counts[:, EDGE_TYPE_CODES[EventType.COMMENT]], views)

    actors, times = [dst], [ts]
    n_shares = np.zeros(n)
    if shares is not None and shares.num_rows:
        s_idx = node_index(id_set, shares.column("sharer"))
        s_ts = pc.cast(shares.column("ts"), pa.int64()).to_numpy()
        ok = s_idx >= 0
        n_shares = np.bincount(s_idx[ok], minlength=n).astype(np.float64)
        actors.append(s_idx[ok])
        times.append(np.asarray(s_ts, dtype=np.int64)[ok])
    cols["shares"] = _log1p(n_shares)

    a_orders = a_gmv = np.zeros(n)
    if attributed is not None and attributed.num_rows:
        a_idx = node_index(id_set, attributed.column("user_id"))
        ok = a_idx >= 0

        def _sum(name: str) -> np.ndarray:
            vals = pc.cast(attributed.column(name), pa.float64()).to_numpy(zero_copy_only=False)
            return np.bincount(a_idx[ok], weights=np.nan_to_num(vals[ok]), minlength=n)

        a_orders, a_gmv = _sum("orders"), _sum("gmv")
    cols["attributed_orders"] = _log1p(a_orders)
    cols["attributed_gmv"] = _log1p(a_gmv)
    cols["conversion_rate"] = _ratio(a_orders, audience)

    own_orders: np.ndarray = np.zeros(n)
    spend: np.ndarray = np.zeros(n)
    if orders is not None and orders.num_rows:
        o_idx = node_index(id_set, orders.column("buyer"))
        ok = o_idx >= 0
        amount = pc.cast(orders.column("amount"), pa.float64()).to_numpy(zero_copy_only=False)
        if "refunded" in orders.column_names:
            amount = amount - np.nan_to_num(
                pc.cast(orders.column("refunded"), pa.float64()).to_numpy(zero_copy_only=False)
            )
        own_orders = np.bincount(o_idx[ok], minlength=n).astype(np.float64)
        spend = np.bincount(o_idx[ok], weights=amount[ok], minlength=n)
        actors.append(o_idx[ok])
        times.append(pc.cast(orders.column("ts"), pa.int64()).to_numpy()[ok])
    cols["orders"] = _log1p(own_orders)
    cols["spend"] = _log1p(spend)
    cols["avg_order_value"] = _log1p(_ratio(spend, own_orders))

    hours, weekdays, active_days = _time_histograms(
        n, np.concatenate(actors), np.concatenate(times), tz_offset_hours
    )
    cols["active_days"] = _log1p(active_days)

    if labels is not None:
        lab = np.asarray(labels, dtype=object)
        onehot = np.zeros((n, len(NEIGHBOUR_ROLES)), dtype=np.float32)
        for j, r in enumerate(NEIGHBOUR_ROLES):
            onehot[:, j] = lab == r
        sym = neighbour_pattern(edges, aud)
        counts = np.asarray(sym @ onehot, dtype=np.float64)
        degree = counts.sum(axis=1)
        for j, r in enumerate(NEIGHBOUR_ROLES):
            cols[f"neighbours_{r}"] = _log1p(counts[:, j])
            cols[f"neighbour_share_{r}"] = _ratio(counts[:, j], degree)

    names = list(cols) + [f"hour_{h:02d}" for h in range(24)]
    names += [f"weekday_{d}" for d in range(7)]
    X = np.empty((n, len(names)), dtype=np.float32)
    for j, arr in enumerate(cols.values()):
        X[:, j] = arr
    X[:, len(cols) : len(cols) + 24] = hours
    X[:, len(cols) + 24 :] = weekdays
    return RoleFeatures(X=X, names=tuple(names), node_ids=node_ids)
