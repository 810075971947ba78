"""Communities of the interaction graph (PLM / Leiden) and the top spreaders of each.

The influence graph is made undirected for community detection: two users are
tied with weight ``w(u, v) + w(v, u)`` (summed event weights in both
directions, self-loops dropped). Two methods:

:func:`plm_communities` (the default of ``koc rank``)
    networkit's PLM with refinement (Staudt, Meyerhenke 2016: Louvain's local
    moves on every level, then a second move phase after each uncoarsening),
    single-threaded so that a seed gives the same partition, on a networkit
    graph built straight from the CSR arrays; communities that come out
    disconnected are split into their connected parts (which only raises
    modularity), so every community is connected as with Leiden.
:func:`leiden_communities`
    igraph's Leiden (Traag, Waltman, van Eck 2019), modularity or the Constant
    Potts Model; unlike Louvain it guarantees connected communities by itself.

Community labels are renumbered by size: 0 is the largest community, ties
broken by the smallest member index, so the same partition always gets the same
labels (:func:`stable_labels` in :mod:`influence.community_labels` then carries
ids over from a previous run). Users without any tie form singleton communities.

On large graphs (more than ``backbone_above`` ties) Leiden runs on a backbone:
every user's ``backbone_ties`` strongest ties (the union over users, with
their full weights), a local sparsification in the spirit of Satuluri,
Parthasarathy and Ruan (2011). igraph's Leiden costs a few microseconds per tie
and iteration; the backbone has about a third of the ties of the 1M-user /
10M-tie benchmark graph and gives communities of almost the same modularity
(figures in ``benchmarks/results/communities.md``).
"""

from __future__ import annotations

import random
from numbers import Integral, Real

import igraph as ig
import numpy as np
import scipy.sparse as sp

from graph.errors import ParameterError
from graph.params import Interval, Satisfies, validate_params
from graph.snapshot import GraphSnapshot

__all__ = [
    "leiden_communities",
    "plm_communities",
    "split_disconnected",
    "strongest_ties",
    "ties_communities",
    "top_spreaders",
    "undirected_ties",
]

_OBJECTIVES = {"modularity": "modularity", "cpm": "CPM"}
_OBJECTIVES_TEXT = "one of " + ", ".join(repr(o) for o in _OBJECTIVES)


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


@validate_params({"per_user": [Interval(Integral, 1, None)]})
def strongest_ties(ties: sp.csr_matrix, per_user: int, *, seed: int = 0) -> sp.csr_matrix:
    """Backbone of an undirected tie matrix: every user's ``per_user`` strongest ties.

    Parameters
    ----------
    ties : scipy.sparse.csr_matrix
        Upper triangle of a symmetric tie matrix (as from :func:`undirected_ties`).
    per_user : int
        Ties each user keeps, strongest first.
    seed : int, default 0
        Seed of the random order that breaks ties of equal weight (unweighted
        graphs); a fixed order such as "lower index first" would bias every
        user towards the same low-index users.

    Returns
    -------
    scipy.sparse.csr_matrix
        Upper triangle of the kept ties with their original weights: a tie stays
        when it is among the ``per_user`` strongest of *either* endpoint, so no user
        with a tie loses all of them and every user keeps at least
        ``min(degree, per_user)`` ties.

    Raises
    ------
    ParameterError
        If ``per_user`` is not an int >= 1.

    Notes
    -----
    ``per_user`` vectorised passes over both ends of every tie (per-user maximum
    with ``numpy.maximum.reduceat`` on the matrix and its transpose); no loop over
    users or ties and no sort. Local
    sparsification keeps each node's strongest edges so that sparse and dense
    regions both keep their structure (Satuluri, Parthasarathy, Ruan 2011, who rank
    edges by neighbourhood similarity; here the tie weight already is the strength).

    References
    ----------
    .. [1] V. Satuluri, S. Parthasarathy, Y. Ruan, "Local graph sparsification for
       scalable clustering", Proc. ACM SIGMOD 2011, 721-732.
    """
    upper = sp.csr_matrix(ties)
    n, m = upper.shape[0], upper.nnz
    owner_row = np.repeat(np.arange(n, dtype=np.int32), np.diff(upper.indptr))
    if not (owner_row < upper.indices).all():
        upper = sp.triu(upper, k=1, format="csr")
        n, m = upper.shape[0], upper.nnz
        owner_row = np.repeat(np.arange(n, dtype=np.int32), np.diff(upper.indptr))
    if m == 0:
        return upper
    index = np.int32 if m < np.iinfo(np.int32).max else np.int64  # half the memory traffic
    weight = upper.data.astype(np.float64)
    priority = np.random.default_rng(seed).permutation(m).astype(index)  # unique per user
    # every tie has two ends: grouped by its row (upper as is) and by its column (transpose)
    by_col = sp.csr_matrix((np.arange(m, dtype=index), upper.indices, upper.indptr), upper.shape)
    by_col = by_col.T.tocsr()
    owner_col = np.repeat(np.arange(n, dtype=np.int32), np.diff(by_col.indptr))
    sides = [
        (
            tie,
            owner,
            indptr[:-1][np.diff(indptr) > 0],
            np.diff(indptr) > 0,
            weight[tie],
            priority[tie],
        )
        for tie, owner, indptr in (
            (np.arange(m, dtype=index), owner_row, upper.indptr),
            (by_col.data, owner_col, by_col.indptr),
        )
    ]
    keep = np.zeros(m, dtype=bool)
    for _ in range(int(per_user)):
        # each pass takes every user's strongest remaining tie (seeded order on equal weight)
        best = np.full(n, -np.inf)
        for _tie, _owner, starts, nonempty, work, _rank in sides:
            best[nonempty] = np.maximum(best[nonempty], np.maximum.reduceat(work, starts))
        if not np.isfinite(best).any():
            break
        first = np.full(n, m, dtype=index)
        hits = []
        for _tie, owner, starts, nonempty, work, rank in sides:
            hit = (work == best[owner]) & (work > -np.inf)
            hit_rank = np.where(hit, rank, m)
            first[nonempty] = np.minimum(first[nonempty], np.minimum.reduceat(hit_rank, starts))
            hits.append(hit)
        for (tie, owner, _starts, _nonempty, work, rank), hit in zip(sides, hits, strict=True):
            chosen = np.flatnonzero(hit & (rank == first[owner]))
            keep[tie[chosen]] = True
            work[chosen] = -np.inf
    kept = upper.copy()
    kept.data = np.where(keep, upper.data, 0)
    kept.eliminate_zeros()
    return kept


def _relabel_by_size(membership: np.ndarray) -> np.ndarray:
    """Renumber labels: largest community 0; ties by smallest member index."""
    labels, first, inverse, counts = np.unique(
        membership, return_index=True, return_inverse=True, return_counts=True
    )
    order = np.lexsort((first, -counts))
    new_label = np.empty(labels.size, dtype=np.int32)
    new_label[order] = np.arange(labels.size, dtype=np.int32)
    return new_label[inverse.ravel()]


def _igraph(n: int, rows: np.ndarray, cols: np.ndarray) -> ig.Graph:
    """Undirected igraph graph on ``n`` nodes from two index arrays.

    A list of int tuples is what igraph's constructor converts fastest (about 2x a
    numpy ``(m, 2)`` array, which it reads element by element).
    """
    return ig.Graph(n=n, edges=list(zip(rows.tolist(), cols.tolist(), strict=True)), directed=False)


@validate_params(
    {
        "objective": [Satisfies(lambda o: str(o).lower() in _OBJECTIVES, _OBJECTIVES_TEXT)],
        "resolution": [Interval(Real, 0, None, closed="neither")],
        "backbone_above": [Interval(Integral, 0, None)],
        "backbone_ties": [Interval(Integral, 1, None)],
    }
)
def leiden_communities(
    snapshot: GraphSnapshot,
    *,
    resolution: float = 1.0,
    seed: int = 0,
    n_iterations: int = -1,
    objective: str = "modularity",
    weighted: bool = True,
    beta: float = 0.01,
    backbone_above: int = 2_000_000,
    backbone_ties: int = 5,
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
        Two are usually enough (igraph's default); on a 1M-user graph each
        iteration costs tens of seconds.
    objective : {"modularity", "cpm"}
        Quality function: Newman-Girvan modularity or the Constant Potts Model.
    weighted : bool, default True
        Use summed edge weights (per-type weights and decay) as tie strength.
    beta : float, default 0.01
        Randomness of the refinement step.
    backbone_above : int, default 2_000_000
        When the graph has more undirected ties than this, Leiden runs on the
        backbone of every user's ``backbone_ties`` strongest ties
        (:func:`strongest_ties`); 0 never does.
    backbone_ties : int, default 5
        Strongest ties kept per user in the backbone.

    Returns
    -------
    numpy.ndarray of int32, shape (n_nodes,)
        Community label of each user, ordered like ``snapshot.node_ids``;
        label 0 is the largest community.

    Raises
    ------
    ParameterError
        For an unknown objective, a non-positive resolution, a negative
        ``backbone_above`` or ``backbone_ties`` < 1.

    Notes
    -----
    Communities found on the backbone are connected in it, hence in the whole
    graph (the backbone is a subgraph), and every user with a tie keeps at least
    one, so the only singletons are users without ties. The partition is judged
    by the modularity of the *whole* graph: on the 1M-user / 10M-tie benchmark
    the 5-ties backbone keeps 37 % of the ties and reaches 0.294 against 0.298
    for two iterations on every tie, in a third of the time; on a 100k-user
    ``koc synth`` graph (forced) 0.584 against 0.590, with NMI 0.58 against 0.61
    to the planted communities (``benchmarks/results/communities.md``). Fewer
    ties per user are faster and lose more (3: 0.565 and NMI 0.54).

    References
    ----------
    .. [1] V. A. Traag, L. Waltman, N. J. van Eck, "From Louvain to Leiden:
       guaranteeing well-connected communities", Scientific Reports 9, 5233, 2019.
    .. [2] V. Satuluri, S. Parthasarathy, Y. Ruan, "Local graph sparsification for
       scalable clustering", Proc. ACM SIGMOD 2011, 721-732.
    """
    key = str(objective).lower()
    n = snapshot.n_nodes
    if n == 0:
        return np.zeros(0, dtype=np.int32)
    ties = undirected_ties(snapshot, weighted=weighted)
    if backbone_above and ties.nnz > backbone_above:
        ties = strongest_ties(ties, backbone_ties, seed=seed)
    return _leiden_on(ties, key, resolution, seed, n_iterations, beta)


def _leiden_on(
    ties: sp.csr_matrix, key: str, resolution: float, seed: int, n_iterations: int, beta: float
) -> np.ndarray:
    coo = ties.tocoo()
    graph = _igraph(ties.shape[0], coo.row, coo.col)
    rng = random.Random(seed)
    ig.set_random_number_generator(rng)
    try:
        clustering = graph.community_leiden(
            objective_function=_OBJECTIVES[key],
            weights=coo.data.tolist(),
            resolution=float(resolution),
            beta=float(beta),
            n_iterations=int(n_iterations),
        )
    finally:
        ig.set_random_number_generator(random)
    return _relabel_by_size(np.asarray(clustering.membership, dtype=np.int64))


def split_disconnected(ties: sp.csr_matrix, labels: np.ndarray) -> np.ndarray:
    """Split every community into its connected parts, then relabel by size.

    Parameters
    ----------
    ties : scipy.sparse.csr_matrix
        Upper triangle of the undirected tie matrix the partition was found on.
    labels : numpy.ndarray of int, shape (n,)
        A partition.

    Returns
    -------
    numpy.ndarray of int32, shape (n,)
        Labels of the connected parts (largest 0, ties by smallest member index).

    Notes
    -----
    One connected-components pass over the ties inside communities. Splitting a
    community into parts without ties between them raises modularity by
    ``2 d_1 d_2 / (2m)^2`` per pair of parts (their expected ties are no longer
    counted), so the result is never worse than the input.
    """
    coo = sp.coo_matrix(ties)
    inside = labels[coo.row] == labels[coo.col]
    n = labels.size
    graph = sp.csr_matrix(
        (np.ones(int(inside.sum()), dtype=np.int8), (coo.row[inside], coo.col[inside])), (n, n)
    )
    _, parts = sp.csgraph.connected_components(graph, directed=False)
    return _relabel_by_size(parts.astype(np.int64))


@validate_params(
    {
        "resolution": [Interval(Real, 0, None, closed="neither")],
        "backbone_above": [Interval(Integral, 0, None)],
        "backbone_ties": [Interval(Integral, 1, None)],
    }
)
def plm_communities(
    snapshot: GraphSnapshot,
    *,
    resolution: float = 1.0,
    seed: int = 0,
    weighted: bool = True,
    refine: bool = True,
    backbone_above: int = 0,
    backbone_ties: int = 5,
) -> np.ndarray:
    """Modularity communities by networkit's PLM with refinement (PLMR).

    Parameters
    ----------
    snapshot : GraphSnapshot
        The graph.
    resolution : float, default 1.0
        Resolution ``gamma`` of the modularity: higher gives more, smaller communities.
    seed : int, default 0
        Seed of networkit's random number generator (node order of the local moves).
    weighted : bool, default True
        Use summed edge weights (per-type weights and decay) as tie strength.
    refine : bool, default True
        Run PLM's refinement phase (PLMR); False is plain parallel Louvain.
    backbone_above, backbone_ties : int
        As for :func:`leiden_communities`; default 0: every tie is used.

    Returns
    -------
    numpy.ndarray of int32, shape (n_nodes,)
        Community label of each user, ordered like ``snapshot.node_ids``; label 0
        is the largest community; every community is connected.

    Raises
    ------
    ParameterError
        For a non-positive resolution, a negative ``backbone_above`` or
        ``backbone_ties`` < 1.

    Notes
    -----
    The networkit graph is built from the upper-triangle CSR arrays in one call
    (``networkit.GraphFromCsr``, about 1 s for 10M ties; building it from COO
    triplets takes several times longer). PLM runs on one thread for
    the call (restored afterwards): with several threads the moves race and the
    partition changes from run to run, and on a shared 2-core machine the second
    thread did not make it faster. Growth is near-linear in the ties (each
    level's move phase is ``O(m)``, levels shrink geometrically). On the
    1M-user / 10M-tie benchmark graph PLMR reaches modularity 0.2997 against
    0.2978 for networkit's ParallelLeiden and 0.2944 for igraph's Leiden on the
    backbone (``benchmarks/RESULTS.md``). Disconnected communities (possible
    with Louvain-type moves) are split by :func:`split_disconnected`.

    References
    ----------
    .. [1] C. L. Staudt, H. Meyerhenke, "Engineering parallel algorithms for
       community detection in massive networks", IEEE TPDS 27(1), 171-184, 2016.
    .. [2] V. D. Blondel, J.-L. Guillaume, R. Lambiotte, E. Lefebvre, "Fast
       unfolding of communities in large networks", J. Stat. Mech. P10008, 2008.
    """
    n = snapshot.n_nodes
    if n == 0:
        return np.zeros(0, dtype=np.int32)
    ties = undirected_ties(snapshot, weighted=weighted)
    if backbone_above and ties.nnz > backbone_above:
        ties = strongest_ties(ties, backbone_ties, seed=seed)
    return _plm_on(ties, resolution, seed, refine)


def _plm_on(ties: sp.csr_matrix, resolution: float, seed: int, refine: bool) -> np.ndarray:
    import networkit as nk  # imported here: importing networkit takes seconds

    ties.sort_indices()
    graph = nk.GraphFromCsr(ties, directed=False, weighted=True)
    threads = nk.getCurrentNumberOfThreads()
    nk.setNumberOfThreads(1)
    nk.setSeed(int(seed), False)
    try:
        algo = nk.community.PLM(graph, refine=bool(refine), gamma=float(resolution))
        algo.run()
        membership = np.asarray(algo.getPartition().getVector(), dtype=np.int64)
    finally:
        nk.setNumberOfThreads(threads)
    return split_disconnected(ties, membership)


def ties_communities(
    ties: sp.csr_matrix,
    *,
    method: str = "plm",
    resolution: float = 1.0,
    seed: int = 0,
    n_iterations: int = 2,
) -> np.ndarray:
    """Communities of a given undirected tie matrix, by ``method`` (no backbone step).

    For callers that hold the ties but no snapshot: the Spark engine computes the
    strongest-ties backbone on the cluster
    (:func:`influence.spark.strongest_ties_backbone`) and runs the single-node
    method on it here, in the driver.

    Parameters
    ----------
    ties : scipy.sparse.csr_matrix
        ``n x n`` upper triangle of the symmetric tie weights (as from
        :func:`undirected_ties` or :func:`strongest_ties`).
    method : {"plm", "leiden"}
        :func:`plm_communities` (PLM with refinement) or :func:`leiden_communities`
        (modularity objective).
    resolution, seed, n_iterations
        As for those functions (``n_iterations``: Leiden only).

    Returns
    -------
    numpy.ndarray of int32, shape (n,)
        Label of each node, 0 = the largest community.
    """
    if ties.shape[0] == 0:
        return np.zeros(0, dtype=np.int32)
    if method == "plm":
        return _plm_on(sp.csr_matrix(ties), resolution, seed, True)
    if method == "leiden":
        return _leiden_on(sp.csr_matrix(ties), "modularity", resolution, seed, n_iterations, 0.01)
    raise ParameterError(
        f"Unknown community method {method!r}; use 'plm' or 'leiden'.", parameter="method"
    )


@validate_params({"k": [Interval(Integral, 1, None)]})
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
        raise ParameterError(
            "The 'communities' and 'scores' parameters of top_spreaders must be 1-d arrays "
            f"of the same length. Got shapes {communities.shape} and {scores.shape}.",
            parameter="scores",
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
