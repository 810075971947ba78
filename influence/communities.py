"""Communities of the interaction graph (Leiden) and the top spreaders of each.

The influence graph is made undirected for community detection: two users are
tied with weight ``w(u, v) + w(v, u)`` (summed event weights in both
directions, self-loops dropped). The Leiden algorithm (Traag, Waltman, van Eck
2019) then maximises modularity (or the Constant Potts Model); unlike Louvain it
guarantees that every community is internally connected.

Community labels are renumbered by size: 0 is the largest community, ties
broken by the smallest member index, so the same partition always gets the same
labels. Users without any tie form singleton communities.
"""

from __future__ import annotations

import random

import igraph as ig
import numpy as np
import scipy.sparse as sp

from graph.errors import ConfigError
from graph.snapshot import GraphSnapshot

__all__ = ["leiden_communities", "top_spreaders", "undirected_ties"]

_OBJECTIVES = {"modularity": "modularity", "cpm": "CPM"}


def undirected_ties(snapshot: GraphSnapshot, *, weighted: bool = True) -> sp.csr_matrix:
    """Upper triangle of the symmetrised influence matrix ``A + A.T``.

    Parameters
    ----------
    snapshot : GraphSnapshot
        The graph.
    weighted : bool
        Summed edge weights when True, 1 per tied pair when False.

    Returns
    -------
    scipy.sparse.csr_matrix
        ``n x n``, entries only for ``u < v``.
    """
    a = snapshot.adjacency(weighted=weighted)
    sym = sp.triu(a + a.T, k=1, format="csr")
    if not weighted:
        sym.data[:] = 1.0
    return sym


def _relabel_by_size(membership: np.ndarray) -> np.ndarray:
    """Renumber labels: largest community 0; ties by smallest member index."""
    labels, first, inverse, counts = np.unique(
        membership, return_index=True, return_inverse=True, return_counts=True
    )
    order = np.lexsort((first, -counts))
    new_label = np.empty(labels.size, dtype=np.int32)
    new_label[order] = np.arange(labels.size, dtype=np.int32)
    return new_label[inverse.ravel()]


def leiden_communities(
    snapshot: GraphSnapshot,
    *,
    resolution: float = 1.0,
    seed: int = 0,
    n_iterations: int = -1,
    objective: str = "modularity",
    weighted: bool = True,
    beta: float = 0.01,
) -> np.ndarray:
    """Leiden communities of the undirected interaction graph.

    Parameters
    ----------
    snapshot : GraphSnapshot
        The graph.
    resolution : float, default 1.0
        Resolution parameter: higher gives more, smaller communities.
    seed : int, default 0
        Seed of igraph's random number generator for this call (igraph's
        generator is process-global: do not run two calls concurrently in
        threads if you need reproducible labels).
    n_iterations : int, default -1
        Leiden iterations; negative runs until an iteration changes nothing.
    objective : {"modularity", "cpm"}
        Quality function: Newman-Girvan modularity or the Constant Potts Model.
    weighted : bool, default True
        Use summed edge weights (per-type weights and decay) as tie strength.
    beta : float, default 0.01
        Randomness of the refinement step.

    Returns
    -------
    numpy.ndarray of int32, shape (n_nodes,)
        Community label of each user, ordered like ``snapshot.node_ids``;
        label 0 is the largest community.

    Raises
    ------
    ConfigError
        For an unknown objective or a non-positive resolution.

    References
    ----------
    .. [1] V. A. Traag, L. Waltman, N. J. van Eck, "From Louvain to Leiden:
       guaranteeing well-connected communities", Scientific Reports 9, 5233, 2019.
    """
    key = str(objective).lower()
    if key not in _OBJECTIVES:
        raise ConfigError(
            f"The 'objective' parameter of leiden_communities must be one of "
            f"{sorted(_OBJECTIVES)}. Got {objective!r} instead.",
            key="objective",
        )
    if not resolution > 0:
        raise ConfigError(
            f"The 'resolution' parameter of leiden_communities must be a float > 0. "
            f"Got {resolution!r} instead.",
            key="resolution",
        )
    n = snapshot.n_nodes
    if n == 0:
        return np.zeros(0, dtype=np.int32)
    ties = undirected_ties(snapshot, weighted=weighted).tocoo()
    edges = np.column_stack([ties.row, ties.col]).astype(np.int64)
    graph = ig.Graph(n=n, edges=edges, directed=False)
    rng = random.Random(seed)
    ig.set_random_number_generator(rng)
    try:
        clustering = graph.community_leiden(
            objective_function=_OBJECTIVES[key],
            weights=ties.data.tolist(),
            resolution=float(resolution),
            beta=float(beta),
            n_iterations=int(n_iterations),
        )
    finally:
        ig.set_random_number_generator(random)
    return _relabel_by_size(np.asarray(clustering.membership, dtype=np.int64))


def top_spreaders(communities: np.ndarray, scores: np.ndarray, k: int = 5) -> dict[int, np.ndarray]:
    """The ``k`` highest-scoring users of every community.

    Parameters
    ----------
    communities : numpy.ndarray of int, shape (n,)
        Community label per user (e.g. from :func:`leiden_communities`).
    scores : numpy.ndarray of float, shape (n,)
        Any per-user score (PageRank, reach, KOC score).
    k : int, default 5
        Users to keep per community.

    Returns
    -------
    dict of int to numpy.ndarray of int64
        ``{community: node indices}``, best first (ties: lower index first);
        communities smaller than ``k`` return all their members.

    Notes
    -----
    One lexicographic sort of all users; no loop over users. Seeding the top
    spreaders of every community spreads a campaign across the whole network
    instead of one dense cluster (compare the community-based seeding of
    influence maximisation, Kempe, Kleinberg, Tardos 2003).
    """
    communities = np.asarray(communities)
    scores = np.asarray(scores, dtype=np.float64)
    if communities.shape != scores.shape or communities.ndim != 1:
        raise ConfigError(
            "The 'communities' and 'scores' parameters of top_spreaders must be 1-d arrays "
            f"of the same length. Got shapes {communities.shape} and {scores.shape}.",
            key="scores",
        )
    if not (isinstance(k, int | np.integer) and k >= 1):
        raise ConfigError(
            f"The 'k' parameter of top_spreaders must be an int >= 1. Got {k!r} instead.",
            key="k",
        )
    if communities.size == 0:
        return {}
    idx = np.arange(communities.size, dtype=np.int64)
    order = np.lexsort((idx, -scores, communities))
    comm_sorted = communities[order]
    starts = np.flatnonzero(np.r_[True, comm_sorted[1:] != comm_sorted[:-1]])
    group_start = np.repeat(starts, np.diff(np.r_[starts, comm_sorted.size]))
    keep = (np.arange(comm_sorted.size) - group_start) < k
    kept, kept_comm = order[keep], comm_sorted[keep]
    bounds = np.flatnonzero(np.r_[True, kept_comm[1:] != kept_comm[:-1]])
    return {
        int(kept_comm[b]): part for b, part in zip(bounds, np.split(kept, bounds[1:]), strict=True)
    }
