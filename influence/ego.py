"""Ego networks: the users one person reached, as a small graph to draw.

``ego_network(snapshot, node)`` walks the influence graph *downstream* from one
user (influencer -> influenced, see :data:`graph.events.INFLUENCE_DIRECTION`) up to
``radius`` hops and returns a :class:`networkx.DiGraph` small enough to draw: when a
hop would exceed ``max_nodes``, the users most strongly tied to the previous hop
are kept. Optionally each reached user is marked ``bought`` when they placed an
order after the ego network first reached them.
"""

from __future__ import annotations

from collections.abc import Iterable
from numbers import Integral

import networkx as nx
import numpy as np

from graph.errors import NotFoundError, ParameterError
from graph.events import EDGE_TYPE_CODES, EDGE_TYPES, EventType
from graph.params import Interval, validate_params
from graph.snapshot import GraphSnapshot

__all__ = ["ego_network"]

_NEVER = np.iinfo(np.int64).max
_TYPE_NAMES = {EDGE_TYPE_CODES[t]: t.value for t in EDGE_TYPES}


def _node_index(snapshot: GraphSnapshot, node: int | str) -> int:
    if isinstance(node, (int, np.integer)) and not isinstance(node, bool):
        idx = int(node)
        if not 0 <= idx < snapshot.n_nodes:
            raise NotFoundError(
                f"Node index {idx} is outside the snapshot (0..{snapshot.n_nodes - 1}).",
                node=idx,
            )
        return idx
    idx = int(snapshot.index_of([str(node)])[0])
    if idx < 0:
        raise NotFoundError(
            f"User {node!r} is not in the snapshot; pick one of snapshot.node_ids.", user_id=node
        )
    return idx


def _edge_mask(snapshot: GraphSnapshot, types: Iterable[EventType | str] | None) -> np.ndarray:
    mask = snapshot.src != snapshot.dst  # nobody influences themselves
    if types is not None:
        codes = [EDGE_TYPE_CODES[EventType(getattr(t, "value", t))] for t in types]
        mask &= np.isin(snapshot.etype, np.asarray(codes, dtype=snapshot.etype.dtype))
    return mask


@validate_params(
    {"radius": [Interval(Integral, 1, None)], "max_nodes": [Interval(Integral, 1, None)]}
)
def ego_network(
    snapshot: GraphSnapshot,
    node: int | str,
    *,
    radius: int = 1,
    max_nodes: int = 60,
    types: Iterable[EventType | str] | None = None,
    order_buyer: np.ndarray | None = None,
    order_ts: np.ndarray | None = None,
) -> nx.DiGraph:
    """The users ``node`` reached within ``radius`` hops, as a drawable digraph.

    Parameters
    ----------
    snapshot : graph.snapshot.GraphSnapshot
    node : int or str
        Node index or ``user_id`` of the ego.
    radius : int, default 1
        Hops to walk downstream (along influencer -> influenced edges).
    max_nodes : int, default 60
        Most nodes in the result, the ego included. Within a hop, candidates are
        kept by decreasing summed edge weight from the previous hop (ties: lower
        node index first); the walk stops when the budget is used up.
    types : iterable of EventType or str, optional
        Edge types to walk and draw (default: all).
    order_buyer, order_ts : numpy.ndarray, optional
        Node index of the buyer and UTC epoch microseconds of every order. When
        given, a reached user is marked ``bought`` if they ordered at or after
        the time the ego network first reached them.

    Returns
    -------
    networkx.DiGraph
        Nodes are user ids with attributes ``hop`` (0 for the ego), ``reached_at``
        (earliest edge time from the previous hop, µs; None for the ego) and
        ``bought`` (bool; always False for the ego and without orders). Edges are
        all edges of the selected types between kept users, aggregated per ordered
        pair: ``weight`` (summed snapshot weight), ``count`` and ``types`` (sorted
        names). Graph attributes: ``ego``, ``radius`` and ``truncated`` (True when
        ``max_nodes`` left reachable users out).

    Raises
    ------
    ParameterError
        ``radius < 1`` or ``max_nodes < 1``, or only one of the order arrays.
    NotFoundError
        ``node`` is not in the snapshot.

    Notes
    -----
    Without truncation the node set equals ``networkx.ego_graph(G, node, radius)``
    on the directed influence graph ``G`` and ``hop`` is the breadth-first
    distance. The ego network is the unit of analysis of personal-network studies
    (Wasserman and Faust, *Social Network Analysis*, 1994, ch. 5.5). One pass over
    the edge arrays per hop; no Python loop over edges.
    """
    if (order_buyer is None) != (order_ts is None):
        raise ParameterError(
            "Give both 'order_buyer' and 'order_ts' to ego_network, or neither.",
            parameter="order_ts",
        )
    ego = _node_index(snapshot, node)
    mask = _edge_mask(snapshot, types)
    src, dst = snapshot.src[mask].astype(np.int64), snapshot.dst[mask].astype(np.int64)
    ts, weight, etype = snapshot.ts[mask], snapshot.weight[mask], snapshot.etype[mask]
    n = snapshot.n_nodes

    hop = np.full(n, -1, dtype=np.int64)
    hop[ego] = 0
    reached_at = np.full(n, _NEVER, dtype=np.int64)
    frontier = np.zeros(n, dtype=bool)
    frontier[ego] = True
    kept = 1
    truncated = False
    for h in range(1, int(radius) + 1):
        step = frontier[src] & (hop[dst] < 0)
        if not step.any():
            break
        cand, inv = np.unique(dst[step], return_inverse=True)
        strength = np.bincount(inv, weights=weight[step], minlength=cand.size)
        first = np.full(cand.size, _NEVER, dtype=np.int64)
        np.minimum.at(first, inv, ts[step])
        budget = int(max_nodes) - kept
        order = np.lexsort((cand, -strength))  # strongest first, then lower index
        if order.size > budget:
            truncated = True
            order = order[:budget]
        chosen = cand[order]
        hop[chosen] = h
        reached_at[chosen] = first[order]
        kept += chosen.size
        frontier[:] = False
        frontier[chosen] = True
        if kept >= int(max_nodes):
            if h < int(radius) and (frontier[src] & (hop[dst] < 0)).any():
                truncated = True
            break

    bought = np.zeros(n, dtype=bool)
    if order_buyer is not None and order_ts is not None:
        ob = np.asarray(order_buyer, dtype=np.int64)
        ots = np.asarray(order_ts, dtype=np.int64)
        ok = (ob >= 0) & (ob < n)
        ob, ots = ob[ok], ots[ok]
        hit = (hop[ob] > 0) & (ots >= reached_at[ob])
        bought[ob[hit]] = True

    members = np.flatnonzero(hop >= 0)
    ids = snapshot.node_ids
    graph = nx.DiGraph(ego=str(ids[ego]), radius=int(radius), truncated=truncated)
    graph.add_nodes_from(
        (
            str(ids[i]),
            {
                "hop": int(hop[i]),
                "reached_at": None if i == ego else int(reached_at[i]),
                "bought": bool(bought[i]),
            },
        )
        for i in members
    )
    inside = (hop[src] >= 0) & (hop[dst] >= 0)
    if inside.any():
        s, d, w, et = src[inside], dst[inside], weight[inside], etype[inside]
        pairs, inv = np.unique(s * n + d, return_inverse=True)
        wsum = np.bincount(inv, weights=w, minlength=pairs.size)
        cnt = np.bincount(inv, minlength=pairs.size)
        type_bits = np.zeros(pairs.size, dtype=np.int64)
        np.bitwise_or.at(type_bits, inv, np.left_shift(1, et.astype(np.int64)))
        graph.add_edges_from(
            (
                str(ids[p // n]),
                str(ids[p % n]),
                {
                    "weight": float(wsum[k]),
                    "count": int(cnt[k]),
                    "types": sorted(
                        name for code, name in _TYPE_NAMES.items() if type_bits[k] >> code & 1
                    ),
                },
            )
            for k, p in enumerate(pairs.tolist())
        )
    return graph
