"""Graph snapshots: the read-only, array form of the influence graph that metrics run on.

A :class:`GraphSnapshot` holds the edges of one time window as parallel numpy
arrays (``src`` influences ``dst``, see :data:`graph.events.INFLUENCE_DIRECTION`),
one weight per edge, and two cached sparse matrices built from them:

``influence_csr``
    ``n x n`` CSR, row = influencer, column = influenced, value = summed edge
    weight. Reach and cascades walk it downstream.
``reverse_csr``
    its transpose (row = influenced), the graph PageRank walks: score flows
    from the influenced user to the influencer.

Edge weight
-----------
``weight[e] = type_weight[etype[e]] * 0.5 ** (age_days[e] / half_life_days)``
with ``age_days = max(now - ts, 0) / 86400e6`` (microseconds) and the decay
factor omitted when ``half_life_days`` is None. Default type weights
(:data:`DEFAULT_TYPE_WEIGHTS`): view 1.0, forward 2.0, comment 1.5,
referral 3.0; the scoring configuration overrides them.

Self-loops (a user viewing their own share) stay in the edge arrays but are left
out of both matrices: nobody influences themselves.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from graph.arrays import US_PER_DAY, US_PER_SECOND, micros, node_index, node_indexes
from graph.errors import ConfigError
from graph.events import EDGE_TYPE_CODES, EDGE_TYPES, EventType
from graph.store import EdgeArrays, GraphStore

__all__ = ["GraphSnapshot", "build_snapshot", "edge_weights", "DEFAULT_TYPE_WEIGHTS"]

#: Default per-type edge weights (a referral says more than a view).
DEFAULT_TYPE_WEIGHTS: dict[str, float] = {
    EventType.VIEW.value: 1.0,
    EventType.FORWARD.value: 2.0,
    EventType.COMMENT.value: 1.5,
    EventType.REFERRAL.value: 3.0,
}


def _type_weight_table(type_weights: Mapping[str, float] | None) -> np.ndarray:
    """Weight per edge-type code, defaults overridden by ``type_weights``."""
    merged = dict(DEFAULT_TYPE_WEIGHTS)
    for key, value in (type_weights or {}).items():
        name = str(getattr(key, "value", key))
        if name not in DEFAULT_TYPE_WEIGHTS:
            raise ConfigError(
                f"The type weight key {name!r} is not an edge type. "
                f"Use one of {sorted(DEFAULT_TYPE_WEIGHTS)}.",
                key=name,
            )
        fvalue = float(value)
        if not np.isfinite(fvalue) or fvalue < 0:
            raise ConfigError(
                f"The type weight of {name!r} must be a finite float >= 0. Got {value!r} instead.",
                key=name,
                value=value,
            )
        merged[name] = fvalue
    table = np.zeros(len(EDGE_TYPES), dtype=np.float64)
    for t in EDGE_TYPES:
        table[EDGE_TYPE_CODES[t]] = merged[t.value]
    return table


def _type_codes(types: Iterable[EventType | str] | None) -> np.ndarray:
    """Sorted int8 codes of ``types`` (all edge types when None)."""
    if types is None:
        return np.arange(len(EDGE_TYPES), dtype=np.int8)
    codes = set()
    for t in types:
        try:
            codes.add(EDGE_TYPE_CODES[EventType(t)])
        except (ValueError, KeyError):
            raise ConfigError(
                f"{t!r} is not an edge type. Use some of {[e.value for e in EDGE_TYPES]}.",
                key="types",
                value=str(t),
            ) from None
    if not codes:
        raise ConfigError("At least one edge type is needed.", key="types")
    return np.array(sorted(codes), dtype=np.int8)


def _csr(n: int, src: np.ndarray, dst: np.ndarray, data: np.ndarray) -> sp.csr_matrix:
    """``n x n`` CSR with duplicate (src, dst) entries summed and self-loops dropped."""
    keep = src != dst
    if not keep.all():
        src, dst, data = src[keep], dst[keep], data[keep]
    m = sp.csr_matrix((data, (src, dst)), shape=(n, n), dtype=np.float64)
    m.sum_duplicates()  # also sorts the column indices of each row
    return m


def edge_weights(
    etype: np.ndarray,
    ts: np.ndarray,
    *,
    type_weights: Mapping[str, float] | None = None,
    half_life_days: float | None = None,
    now_us: int | None = None,
) -> np.ndarray:
    """Weight of each edge: its type weight times the optional time decay (module docstring).

    Parameters
    ----------
    etype : numpy.ndarray of int8
        Edge type codes.
    ts : numpy.ndarray of int64
        Edge times, UTC epoch microseconds.
    type_weights, half_life_days
        See :meth:`GraphSnapshot.from_edges`.
    now_us : int, optional
        Reference time of the decay; required when ``half_life_days`` is set and
        there are edges.

    Returns
    -------
    numpy.ndarray of float64
        The snapshot and the distributed ranking (:mod:`influence.spark`) both weigh
        edges with this function.

    Raises
    ------
    ConfigError
        For an unknown type, a negative / non-finite weight or half-life.
    """
    table = _type_weight_table(type_weights)
    weight = table[np.asarray(etype, dtype=np.int8)]
    if half_life_days is not None:
        hl = float(half_life_days)
        if not np.isfinite(hl) or hl <= 0:
            raise ConfigError(
                "The 'half_life_days' parameter must be a float > 0 or None. "
                f"Got {half_life_days!r} instead.",
                key="half_life_days",
            )
        ts = np.asarray(ts, dtype=np.int64)
        if ts.size:
            if now_us is None:
                raise ConfigError("edge_weights needs now_us to decay edges.", key="now_us")
            age_days = np.maximum(int(now_us) - ts, 0).astype(np.float64) / US_PER_DAY
            weight = weight * np.exp2(-age_days / hl)
    return np.ascontiguousarray(weight, dtype=np.float64)


@dataclass(frozen=True, eq=False)
class GraphSnapshot:
    """Edges of one window as arrays, with cached CSR matrices.

    Attributes
    ----------
    node_ids : numpy.ndarray of object
        ``node_ids[i]`` is the ``user_id`` of node ``i``.
    src, dst : numpy.ndarray of int32
        Influencer and influenced node index of each edge.
    etype : numpy.ndarray of int8
        Edge type code (:data:`graph.events.EDGE_TYPE_CODES`).
    ts : numpy.ndarray of int64
        Event time, UTC epoch microseconds.
    weight : numpy.ndarray of float64
        Per-type weight times the optional time decay (module docstring).
    content : numpy.ndarray of int32 or None
        Factorised ``content_id`` of each edge (-1 when unknown), or None when
        the snapshot was built without content. Forward cascades use it.
    content_ids : numpy.ndarray of object or None
        ``content_ids[c]`` is the ``content_id`` with code ``c``.
    """

    node_ids: np.ndarray
    src: np.ndarray
    dst: np.ndarray
    etype: np.ndarray
    ts: np.ndarray
    weight: np.ndarray
    content: np.ndarray | None = None
    content_ids: np.ndarray | None = None

    @property
    def n_nodes(self) -> int:
        """Number of nodes (every known user, also those without an edge)."""
        return int(self.node_ids.shape[0])

    @property
    def n_edges(self) -> int:
        """Number of edges (events), duplicates included."""
        return int(self.src.shape[0])

    @classmethod
    def from_edges(
        cls,
        edges: EdgeArrays,
        *,
        type_weights: Mapping[str, float] | None = None,
        half_life_days: float | None = None,
        now_us: int | None = None,
        content: np.ndarray | None = None,
        content_ids: np.ndarray | None = None,
    ) -> GraphSnapshot:
        """Build a snapshot from edge arrays, computing the edge weights.

        Parameters
        ----------
        edges : graph.store.EdgeArrays
            Edges as returned by :meth:`graph.store.GraphStore.read_edges`.
        type_weights : mapping of str to float, optional
            Weight per edge type (``"view"``, ``"forward"``, ``"comment"``,
            ``"referral"``); missing types keep :data:`DEFAULT_TYPE_WEIGHTS`.
        half_life_days : float, optional
            Half-life of the exponential time decay; None disables decay.
        now_us : int, optional
            Reference time of the decay (UTC epoch microseconds). Defaults to
            the latest edge timestamp, so a snapshot of the same data always
            gets the same weights. Edges after ``now_us`` get age 0.
        content, content_ids : numpy.ndarray, optional
            Factorised content id per edge and the code -> id table.

        Returns
        -------
        GraphSnapshot

        Raises
        ------
        ConfigError
            For an unknown type or a negative / non-finite weight or half-life.
        """
        etype = np.ascontiguousarray(edges.etype, dtype=np.int8)
        ts = np.ascontiguousarray(edges.ts, dtype=np.int64)
        ref = int(ts.max()) if now_us is None and ts.size else now_us
        weight = edge_weights(
            etype, ts, type_weights=type_weights, half_life_days=half_life_days, now_us=ref
        )
        n = edges.n_nodes
        src = np.ascontiguousarray(edges.src, dtype=np.int32)
        dst = np.ascontiguousarray(edges.dst, dtype=np.int32)
        if src.size and (min(src.min(), dst.min()) < 0 or max(src.max(), dst.max()) >= n):
            raise ConfigError(
                "Edge endpoints must be node indices in [0, n_nodes); the edge arrays "
                "and node_ids do not match.",
                key="edges",
            )
        return cls(
            node_ids=np.asarray(edges.node_ids, dtype=object),
            src=src,
            dst=dst,
            etype=etype,
            ts=ts,
            weight=np.ascontiguousarray(weight, dtype=np.float64),
            content=None if content is None else np.ascontiguousarray(content, dtype=np.int32),
            content_ids=content_ids,
        )

    # --- matrices ---------------------------------------------------------------------
    @cached_property
    def influence_csr(self) -> sp.csr_matrix:
        """``n x n`` CSR: row = influencer, column = influenced, summed weights."""
        return _csr(self.n_nodes, self.src, self.dst, self.weight)

    @cached_property
    def reverse_csr(self) -> sp.csr_matrix:
        """Transpose of :attr:`influence_csr` (row = influenced), as CSR."""
        return self.influence_csr.T.tocsr()

    def edge_mask(self, types: Iterable[EventType | str] | np.ndarray | None = None) -> np.ndarray:
        """Boolean mask of the edges whose type is in ``types`` (all when None)."""
        codes = types if isinstance(types, np.ndarray) else _type_codes(types)
        if codes.size == len(EDGE_TYPES):
            return np.ones(self.n_edges, dtype=bool)
        return np.isin(self.etype, codes)

    def adjacency(
        self, types: Iterable[EventType | str] | None = None, *, weighted: bool = True
    ) -> sp.csr_matrix:
        """Influence CSR restricted to some edge types.

        Parameters
        ----------
        types : iterable of EventType or str, optional
            Edge types to keep; None keeps all (and returns the cached
            :attr:`influence_csr` when ``weighted``). Results are cached per
            (types, weighted) on the snapshot.
        weighted : bool
            Summed edge weights when True; a 0/1 pattern (one entry per
            distinct influencer -> influenced pair) when False.

        Returns
        -------
        scipy.sparse.csr_matrix
            Row = influencer, column = influenced, self-loops dropped.
        """
        codes = _type_codes(types)
        key = (codes.tobytes(), bool(weighted))
        cached = self._adjacency_cache.get(key)
        if cached is not None:
            return cached
        if codes.size == len(EDGE_TYPES):
            m = self.influence_csr
        else:
            mask = self.edge_mask(codes)
            m = (
                self.influence_csr
                if mask.all()
                else _csr(self.n_nodes, self.src[mask], self.dst[mask], self.weight[mask])
            )
        if not weighted:
            m = sp.csr_matrix(
                (np.ones(m.nnz, dtype=np.float64), m.indices, m.indptr), shape=m.shape
            )
        self._adjacency_cache[key] = m  # a race only computes the same matrix twice
        return m

    @cached_property
    def _adjacency_cache(self) -> dict[tuple[bytes, bool], sp.csr_matrix]:
        return {}

    def index_of(self, user_ids: Iterable[str]) -> np.ndarray:
        """Node indices of ``user_ids`` (int64); -1 for unknown ids."""
        return node_index(self._id_array, pa.array(list(user_ids), type=pa.string()))

    @cached_property
    def _id_array(self) -> pa.Array:
        return pa.array(self.node_ids, type=pa.string())


def _content_codes(
    store: GraphStore, node_ids: np.ndarray, start: datetime | None, end: datetime | None
) -> tuple[EdgeArrays, np.ndarray, np.ndarray]:
    """Forward edges with their factorised content ids (through the store protocol)."""
    table = store.read_events(EventType.FORWARD, start, end)
    id_set = pa.array(node_ids, type=pa.string())

    src, dst = node_indexes(id_set, table.column("from_user"), table.column("forwarder"))
    enc = pc.dictionary_encode(table.column("content_id")).combine_chunks()
    codes = np.asarray(enc.indices.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int32)
    ts = micros(table.column("ts"))
    # users created after node_ids was read (concurrent ingestion) are left out
    keep = (src >= 0) & (dst >= 0)
    edges = EdgeArrays(
        src=src[keep].astype(np.int32),
        dst=dst[keep].astype(np.int32),
        etype=np.full(int(keep.sum()), EDGE_TYPE_CODES[EventType.FORWARD], dtype=np.int8),
        ts=ts[keep],
        node_ids=node_ids,
    )
    return edges, codes[keep], np.asarray(enc.dictionary.to_pylist(), dtype=object)


def build_snapshot(
    store: GraphStore,
    *,
    types: Iterable[EventType | str] = EDGE_TYPES,
    start: datetime | None = None,
    end: datetime | None = None,
    type_weights: Mapping[str, float] | None = None,
    half_life_days: float | None = None,
    now: datetime | None = None,
    with_content: bool = False,
) -> GraphSnapshot:
    """Read the edges of a window from a store and build a :class:`GraphSnapshot`.

    Parameters
    ----------
    store : graph.store.GraphStore
        Any store (embedded DuckDB or Neo4j).
    types : iterable of EventType or str
        Edge types to read (default: all four).
    start, end : datetime, optional
        Window ``start <= ts < end``.
    type_weights, half_life_days
        See :meth:`GraphSnapshot.from_edges`.
    now : datetime, optional
        Reference time of the decay; defaults to the latest edge in the window.
    with_content : bool
        Also read the ``content_id`` of forward edges (needed for per-content
        cascades in :func:`influence.cascades.cascade_stats`); other edges get
        content -1. Costs one more query over the forward events.

    Returns
    -------
    GraphSnapshot
    """
    codes = _type_codes(types)
    wanted = [EDGE_TYPES[c] for c in codes]
    fwd = EventType.FORWARD
    now_us = None if now is None else int(now.timestamp() * US_PER_SECOND)
    if not with_content or fwd not in wanted:
        edges = store.read_edges(wanted, start, end)
        return GraphSnapshot.from_edges(
            edges, type_weights=type_weights, half_life_days=half_life_days, now_us=now_us
        )
    others = [t for t in wanted if t is not fwd]
    node_ids = store.node_ids()
    fedges, fcontent, content_ids = _content_codes(store, node_ids, start, end)
    if others:
        oedges = store.read_edges(others, start, end)
        node_ids = oedges.node_ids
        edges = EdgeArrays(
            src=np.concatenate([oedges.src, fedges.src]),
            dst=np.concatenate([oedges.dst, fedges.dst]),
            etype=np.concatenate([oedges.etype, fedges.etype]),
            ts=np.concatenate([oedges.ts, fedges.ts]),
            node_ids=node_ids,
        )
        content = np.concatenate([np.full(oedges.n_edges, -1, dtype=np.int32), fcontent])
    else:
        edges, content = fedges, fcontent
    return GraphSnapshot.from_edges(
        edges,
        type_weights=type_weights,
        half_life_days=half_life_days,
        now_us=now_us,
        content=content,
        content_ids=content_ids,
    )
