"""The referral tree below one user as a drawable graph.

The first referral of each referee defines its referrer (:mod:`graph.referrals`,
as :meth:`graph.store.GraphStore.downline` and the commission levels do); this module
turns referral events into the tree under one root, for pictures of a top
referrer's downline. Pure: it takes the referral events as an Arrow table.
"""

from __future__ import annotations

from collections.abc import Iterable

import networkx as nx
import numpy as np
import pyarrow as pa

from graph.arrays import micros
from graph.errors import ConfigError
from graph.referrals import first_referrals

__all__ = ["downline_graph"]


def downline_graph(
    referrals: pa.Table,
    root: str,
    *,
    levels: int = 3,
    max_nodes: int = 200,
    buyers: Iterable[str] | None = None,
) -> nx.DiGraph:
    """The users ``root`` referred directly and indirectly, as a tree.

    Parameters
    ----------
    referrals : pyarrow.Table
        Referral events with columns ``referrer``, ``referee``, ``ts`` and
        ``event_id`` (as returned by ``store.read_events(EventType.REFERRAL)``);
        without ``event_id`` the rows must be in that ``(ts, event_id)`` order.
    root : str
        User id at the top of the tree.
    levels : int, default 3
        Depth of the tree (1 = direct referees only).
    max_nodes : int, default 200
        Most nodes, the root included; each level is filled in order of referral
        time (ties: user id) until the budget is used up.
    buyers : iterable of str, optional
        Users who bought; their nodes get ``bought = True``.

    Returns
    -------
    networkx.DiGraph
        Nodes are user ids with ``level`` (0 for the root) and ``bought``; edges go
        referrer -> referee with ``referred_at`` (the binding referral's ``ts``).
        Graph attributes ``root``, ``levels`` and ``truncated``.

    Raises
    ------
    ConfigError
        ``levels < 1`` or ``max_nodes < 1``, or a missing column.

    Notes
    -----
    Each referee's first referral defines its parent (:mod:`graph.referrals`: earliest
    ``ts``, ties to the smallest ``event_id``), so every user has at most one parent;
    a user already in the tree is not added again, which stops cycles. The per-level user counts therefore equal
    :meth:`graph.store.GraphStore.downline`.
    """
    if int(levels) < 1 or int(max_nodes) < 1:
        raise ConfigError(
            "The 'levels' and 'max_nodes' parameters of downline_graph must be ints >= 1. "
            f"Got {levels!r} and {max_nodes!r} instead.",
            key="levels" if int(levels) < 1 else "max_nodes",
        )
    missing = {"referrer", "referee", "ts"} - set(referrals.column_names)
    if missing:
        raise ConfigError(
            f"downline_graph needs referral events with columns referrer, referee, ts; "
            f"{sorted(missing)} missing.",
            key="referrals",
        )
    bound = first_referrals(referrals)
    child = np.asarray(bound.column("referee").to_pylist(), dtype=object)
    parent = np.asarray(bound.column("referrer").to_pylist(), dtype=object)
    when = bound.column("ts").to_pylist()
    order_key = micros(bound.column("ts"))

    graph = nx.DiGraph(root=str(root), levels=int(levels), truncated=False)
    graph.add_node(str(root), level=0, bought=False)
    frontier = np.array([str(root)], dtype=object)
    for level in range(1, int(levels) + 1):
        hit = np.flatnonzero(np.isin(parent, frontier))
        hit = hit[[c not in graph for c in child[hit]]]
        if hit.size == 0:
            break
        hit = hit[np.lexsort((child[hit].astype(str), order_key[hit]))]
        budget = int(max_nodes) - graph.number_of_nodes()
        if hit.size > budget:
            graph.graph["truncated"] = True
            hit = hit[:budget]
        for i in hit.tolist():
            graph.add_node(child[i], level=level, bought=False)
            graph.add_edge(parent[i], child[i], referred_at=when[i])
        frontier = child[hit]
        if graph.number_of_nodes() >= int(max_nodes):
            break
    for user in set(buyers or ()):
        if user in graph:
            graph.nodes[user]["bought"] = True
    return graph
