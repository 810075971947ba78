"""Multi-hop reach: how many distinct users a user's influence reaches within k hops.

``reach[u, k-1] = |B(u, k)| - 1`` where ``B(u, k)`` is the set of users within
``k`` hops of ``u`` *downstream* (along influencer -> influenced edges) and the
``- 1`` leaves ``u`` out. Counts are cumulative: hop 2 includes hop 1.

Two implementations:

:func:`reach_exact`
    breadth-first search from a few given users (API lookups, tests).
:func:`reach_hyperanf`
    HyperANF (Boldi, Rosa, Vigna 2011) for *every* user at once: each user keeps
    a HyperLogLog counter (Flajolet et al. 2007) of ``B(u, t)`` and
    ``B(u, t+1) = {u} ∪ ⋃_{v in out(u)} B(v, t)`` is a register-wise maximum over
    out-neighbours. Relative standard error about ``1.04 / sqrt(m)`` for ``m``
    registers (6.5 % at the default 256; mean |error| about 4 % at 3 hops on the
    ranking benchmark, docs/metrics.md); far smaller for sets much smaller than
    ``m``, where the linear-counting correction is used.

Reach counts the edge types in :data:`REACH_TYPES` by default (views of shares,
forwards, referrals); comments are left out because a comment does not pass
content on. Pass ``types`` to choose others.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from functools import cache
from numbers import Integral

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from graph.errors import DeadlineExceeded, NotFoundError
from graph.events import EventType
from graph.params import Constraint, Interval, Satisfies, validate_params
from graph.snapshot import GraphSnapshot

__all__ = [
    "REACH_TYPES",
    "reach_exact",
    "reach_hyperanf",
    "gather_rows",
    "hll_estimate",
    "hll_estimate_sums",
    "node_hashes",
    "HYPERANF_CONSTRAINTS",
    "log2_registers",
]

#: Edge types that carry content to new people: views of shares, forwards, referrals.
REACH_TYPES: tuple[EventType, ...] = (EventType.VIEW, EventType.FORWARD, EventType.REFERRAL)

_EDGE_CHUNK = 1 << 17  # gathered neighbour rows per HyperANF block (x m bytes)
_EST_CHUNK = 1 << 15  # rows per estimation block


def gather_rows(indptr: np.ndarray, indices: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Concatenated column indices of CSR ``rows`` (no Python loop over rows).

    Parameters
    ----------
    indptr, indices : numpy.ndarray
        CSR structure.
    rows : numpy.ndarray of int
        Rows to read.

    Returns
    -------
    numpy.ndarray
        ``indices[indptr[r]:indptr[r+1]]`` for each ``r`` in ``rows``, concatenated.
    """
    starts = indptr[rows].astype(np.int64)
    lens = indptr[rows + 1].astype(np.int64) - starts
    total = int(lens.sum())
    if total == 0:
        return indices[:0]
    # position k of the output reads indices[starts[row(k)] + (k - offset(row(k)))]
    offsets = np.cumsum(lens) - lens
    pos = np.repeat(starts - offsets, lens) + np.arange(total, dtype=np.int64)
    return indices[pos]


def _reach_matrix(
    snapshot: GraphSnapshot, types: Iterable[EventType | str] | None
) -> sp.csr_matrix:
    return snapshot.adjacency(REACH_TYPES if types is None else types, weighted=False)


def _as_indices(snapshot: GraphSnapshot, nodes: Iterable[int] | Iterable[str]) -> np.ndarray:
    arr = np.asarray(list(nodes) if not isinstance(nodes, np.ndarray) else nodes)
    if arr.size and arr.dtype.kind in "UOS":
        idx = snapshot.index_of(arr.astype(str).tolist())
        if (idx < 0).any():
            missing = arr[idx < 0][:5].tolist()
            raise NotFoundError(f"Unknown users {missing}; check the user ids.", user_ids=missing)
        return idx
    idx = arr.astype(np.int64).ravel()
    if idx.size and (idx.min() < 0 or idx.max() >= snapshot.n_nodes):
        raise NotFoundError(
            f"Node indices must lie in [0, {snapshot.n_nodes}).", nodes=idx[:5].tolist()
        )
    return idx


@validate_params({"hops": [Interval(Integral, 1, None)]})
def reach_exact(
    snapshot: GraphSnapshot,
    nodes: Iterable[int] | Iterable[str],
    *,
    hops: int = 3,
    types: Iterable[EventType | str] | None = None,
    deadline: float | None = None,
) -> np.ndarray:
    """Exact k-hop downstream reach of some users, by breadth-first search.

    Parameters
    ----------
    snapshot : GraphSnapshot
        The graph.
    nodes : iterable of int or str
        Node indices, or user ids.
    hops : int, default 3
        Largest number of hops.
    types : iterable of EventType or str, optional
        Edge types to walk; default :data:`REACH_TYPES`.
    deadline : float, optional
        A :func:`time.monotonic` value; when passed, the search stops with
        :class:`graph.errors.DeadlineExceeded`.

    Returns
    -------
    numpy.ndarray of int64, shape (len(nodes), hops)
        ``out[i, k-1]`` = distinct users within ``k`` hops of ``nodes[i]``,
        excluding ``nodes[i]`` itself (cumulative over hops).

    Raises
    ------
    DeadlineExceeded
        When ``deadline`` passes.
    NotFoundError
        For unknown users or out-of-range indices.

    Notes
    -----
    One frontier breadth-first search per user over the CSR arrays: per hop, one
    gather of the frontier's out-lists (:func:`gather_rows`), a mask of users not seen
    yet and a sort of the new ones; the visited mask is reset only where the search
    went. Cost per user: the edges of its ``hops``-hop ball (no sparse matrix
    products, no per-call graph construction). The same ball sizes
    ``|B(u, k)| - 1`` are what :func:`reach_hyperanf` estimates for all users
    (Boldi, Rosa, Vigna 2011, the neighbourhood function).
    """
    idx = _as_indices(snapshot, nodes)
    a = _reach_matrix(snapshot, types)
    n = snapshot.n_nodes
    out = np.zeros((idx.size, hops), dtype=np.int64)
    indptr, indices = a.indptr, a.indices
    seen = np.zeros(n, dtype=bool)
    for i, start in enumerate(idx.tolist()):
        # frontier breadth-first search: one gather of the frontier's out-lists per hop
        frontier = np.array([start], dtype=np.int64)
        seen[start] = True
        touched = [frontier]
        reached = 0
        for k in range(hops):
            if deadline is not None and time.monotonic() > deadline:
                seen[np.concatenate(touched)] = False
                raise DeadlineExceeded("reach", nodes_done=int(i))
            if frontier.size:
                nbrs = gather_rows(indptr, indices, frontier)
                frontier = np.unique(nbrs[~seen[nbrs]]).astype(np.int64)  # newly reached
                seen[frontier] = True
                touched.append(frontier)
                reached += frontier.size
            out[i, k] = reached
        seen[np.concatenate(touched)] = False  # reset only what this search touched
    return out


# --- HyperLogLog ------------------------------------------------------------------------
def _splitmix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser (Steele, Lea, Flood 2014): a well-mixed 64-bit hash."""
    z = x.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _alpha(m: int) -> float:
    return {16: 0.673, 32: 0.697, 64: 0.709}.get(m, 0.7213 / (1.0 + 1.079 / m))


def hll_estimate(registers: np.ndarray) -> np.ndarray:
    """HyperLogLog cardinality estimate of each row of a register array.

    Parameters
    ----------
    registers : numpy.ndarray of uint8, shape (n, m)
        ``m`` (a power of two >= 16) registers per counter.

    Returns
    -------
    numpy.ndarray of float64, shape (n,)
        ``alpha_m m^2 / sum_j 2^(-M_j)``, replaced by linear counting
        ``m ln(m / V)`` when that raw estimate is at most ``2.5 m`` and ``V > 0``
        registers are zero (Flajolet, Fusy, Gandouet, Meunier 2007). With 64-bit
        hashes no large-range correction is needed.
    """
    n, m = registers.shape
    pair_sum, pair_zeros = _pair_tables()
    out = np.empty(n, dtype=np.float64)
    for lo in range(0, n, _EST_CHUNK):
        # two registers per lookup: a uint16 view indexes tables of 2^-a + 2^-b and zeros
        block = np.ascontiguousarray(registers[lo : lo + _EST_CHUNK]).view(np.uint16)
        z = pair_sum[block].sum(axis=1)
        zeros = pair_zeros[block].sum(axis=1, dtype=np.int64)
        out[lo : lo + block.shape[0]] = hll_estimate_sums(z, zeros, m)
    return out


@cache
def _pair_tables() -> tuple[np.ndarray, np.ndarray]:
    """``2^-a + 2^-b`` and ``[a == 0] + [b == 0]`` for every byte pair ``(a, b)`` (a uint16)."""
    pair = np.arange(1 << 16)
    a, b = pair & 0xFF, pair >> 8
    return np.ldexp(1.0, -a) + np.ldexp(1.0, -b), ((a == 0).astype(np.int8) + (b == 0))


def hll_estimate_sums(z: np.ndarray, zeros: np.ndarray, m: int) -> np.ndarray:
    """HyperLogLog estimate from the register sums of each counter.

    Parameters
    ----------
    z : numpy.ndarray of float64
        ``sum_j 2^(-M_j)`` of each counter (a zero register adds 1).
    zeros : numpy.ndarray of int
        Number of zero registers ``V`` of each counter.
    m : int
        Registers per counter.

    Returns
    -------
    numpy.ndarray of float64
        The estimate of :func:`hll_estimate`; the distributed HyperANF
        (:mod:`influence.spark.reach`) calls this same function, so both give equal values.
    """
    z = np.asarray(z, dtype=np.float64)
    zeros = np.asarray(zeros, dtype=np.int64)
    est = _alpha(m) * m * m / z
    small = (est <= 2.5 * m) & (zeros > 0)
    est[small] = m * np.log(m / zeros[small])
    return est


_FNV_PRIME = np.uint64(0x100000001B3)


def _id_keys(node_ids: np.ndarray) -> np.ndarray:
    """A 64-bit key per user id, from the id's UTF-8 bytes only (no Python loop over users).

    ``key = sum_i b_i P^(L-1-i) mod 2^64`` over the bytes ``b_0..b_(L-1)`` of the id
    with an odd multiplier ``P``, plus ``L`` mixed in, then SplitMix64. The key
    depends on the id alone, never on the node's index, so HyperANF estimates do
    not change when the same users are stored in another order (a copy synced
    into another store, another ingestion batch size).
    """
    ids = pa.array(node_ids, pa.string()) if not isinstance(node_ids, pa.Array) else node_ids
    ids = pc.fill_null(ids.cast(pa.large_string()), "")
    n = len(ids)
    offsets = np.frombuffer(ids.buffers()[1], dtype=np.int64)[ids.offset : ids.offset + n + 1]
    data = ids.buffers()[2]
    raw = (
        np.frombuffer(data, dtype=np.uint8)[offsets[0] : offsets[-1]]
        if data is not None
        else np.zeros(0, np.uint8)
    )
    lengths = np.diff(offsets)
    starts = (offsets[:-1] - offsets[0]).astype(np.int64)
    pos_from_end = np.repeat(starts + lengths - 1, lengths) - np.arange(raw.size, dtype=np.int64)
    longest = int(lengths.max()) if n else 0
    steps = np.full(max(longest, 1), _FNV_PRIME, dtype=np.uint64)
    steps[0] = 1
    powers = np.multiply.accumulate(steps)  # P^k mod 2^64 (uint64 arrays wrap)
    terms = (raw.astype(np.uint64) + np.uint64(1)) * powers[pos_from_end]
    acc = np.zeros(n, dtype=np.uint64)
    filled = lengths > 0
    if raw.size:
        acc[filled] = np.add.reduceat(terms, starts[filled])
    return _splitmix64(acc ^ _splitmix64(lengths.astype(np.uint64)))


def node_hashes(node_ids: np.ndarray, log2m: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Register index ``j`` and rank ``rho`` (1 + trailing zeros) of each user's hash.

    The hash is of the user id (:func:`_id_keys`), so results do not depend on
    the order users are stored in. The single-node and the distributed HyperANF
    (:mod:`influence.spark.reach`) both hash with this function.

    Parameters
    ----------
    node_ids : numpy.ndarray or pyarrow.Array of str
        User ids.
    log2m : int
        Log2 of the registers per counter.
    seed : int
        Hash seed.

    Returns
    -------
    j : numpy.ndarray of int64
    rho : numpy.ndarray of uint8
    """
    key = _id_keys(node_ids) + _splitmix64(np.array([seed], dtype=np.uint64))[0]
    h = _splitmix64(key)
    j = (h & np.uint64((1 << log2m) - 1)).astype(np.int64)
    w = h >> np.uint64(log2m)
    low = w & (~w + np.uint64(1))  # lowest set bit
    rho = np.where(w == 0, 64 - log2m + 1, np.log2(np.maximum(low, 1).astype(np.float64)) + 1)
    return j, rho.astype(np.uint8)


def _hyperanf_active(
    indptr: np.ndarray,
    indices: np.ndarray,
    active: np.ndarray,
    node_ids: np.ndarray,
    hops: int,
    log2m: int,
    seed: int,
) -> np.ndarray:
    """Estimated reach at hops 2..``hops`` of the ``active`` users (those with out-edges).

    Counters are kept only for active users. A user without out-edges has the
    constant ball ``{v}``, so its contribution to its in-neighbours' counters is
    folded once into a constant register array ``P``; each hop is then
    ``next[u] = max(P[u], max_{v active in out(u)} cur[v])``.
    """
    n, r, m = indptr.size - 1, active.size, 1 << log2m
    j, rho = node_hashes(node_ids, log2m, seed)
    local = np.full(n, r, dtype=np.int64)  # passive users map to the sentinel row r
    local[active] = np.arange(r)
    deg = np.diff(indptr)[active]
    edge_row = np.repeat(np.arange(r, dtype=np.int64), deg)
    target = local[indices]
    to_active = target < r
    # constant part: own singleton plus every passive out-neighbour's singleton
    const = np.zeros((r + 1, m), dtype=np.uint8)  # row r: all-zero sentinel (empty set)
    const[np.arange(r), j[active]] = rho[active]
    passive = ~to_active
    np.maximum.at(
        const.reshape(-1), edge_row[passive] * m + j[indices[passive]], rho[indices[passive]]
    )
    # edges between active users, as a CSR over local indices
    a_indptr = np.zeros(r + 1, dtype=np.int64)
    np.cumsum(np.bincount(edge_row[to_active], minlength=r), out=a_indptr[1:])
    plans = _plan(a_indptr, target[to_active], r)
    # B(., 1): the constant part plus every active out-neighbour's singleton, scattered
    # edge by edge (one byte per edge instead of a merge of m registers per edge)
    cur = const.copy()
    np.maximum.at(
        cur.reshape(-1), edge_row[to_active] * m + j[indices[to_active]], rho[indices[to_active]]
    )
    nxt = np.empty_like(cur)
    est = np.empty((r, hops - 1), dtype=np.float64)
    for k in range(1, hops):  # nxt = counters of B(., k + 1)
        np.copyto(nxt, const)
        _propagate(cur, nxt, plans)
        est[:, k - 1] = hll_estimate(nxt[:r]) - 1.0
        cur, nxt = nxt, cur
    return est


def _register_count(r: object) -> bool:
    return isinstance(r, Integral) and 16 <= int(r) <= 1 << 16 and int(r) & (int(r) - 1) == 0


#: What :func:`reach_hyperanf` accepts (the Spark engine checks its parameters against the same).
HYPERANF_CONSTRAINTS: dict[str, list[Constraint]] = {
    "hops": [Interval(Integral, 1, None)],
    "log2m": [Interval(Integral, 4, 16)],
    "registers": [Satisfies(_register_count, "a power of two in [16, 65536]"), None],
}


def log2_registers(registers: int | None, log2m: int) -> int:
    """``log2(m)`` from a register count (when given) or ``log2m`` (both engines)."""
    return int(log2m) if registers is None else int(registers).bit_length() - 1


@validate_params(HYPERANF_CONSTRAINTS)
def reach_hyperanf(
    snapshot: GraphSnapshot,
    *,
    hops: int = 3,
    log2m: int = 8,
    registers: int | None = None,
    seed: int = 0,
    types: Iterable[EventType | str] | None = None,
) -> np.ndarray:
    """Approximate k-hop downstream reach of every user (HyperANF).

    Parameters
    ----------
    snapshot : GraphSnapshot
        The graph.
    hops : int, default 3
        Largest number of hops.
    log2m : int, default 8
        Log2 of the registers per counter (4..16); 8 gives 256 registers,
        relative standard error ``1.04 / sqrt(256)`` = 6.5 %.
    registers : int, optional
        Register count (a power of two); overrides ``log2m``.
    seed : int, default 0
        Seed of the hash function (different seeds give independent errors).
    types : iterable of EventType or str, optional
        Edge types to walk; default :data:`REACH_TYPES`.

    Returns
    -------
    numpy.ndarray of float64, shape (n_nodes, hops)
        Estimated distinct users within ``1..hops`` hops, excluding the user.

    Raises
    ------
    ParameterError
        For an invalid ``hops`` or register count.

    Notes
    -----
    Counters are kept only for users with out-edges (``r`` of them): three
    ``r x m`` uint8 arrays (768 MB if all of 1M users at ``m = 256``) plus a
    gather buffer of ``2**17 x m`` bytes; users without out-edges reach 0. Each hop reads
    every edge's target counter once: ``O(|E| m)`` byte operations, vectorised
    as contiguous maxima over neighbour lists padded to power-of-two lengths
    (at most 2x the edges). Hop-1 counts are exact (the
    number of distinct out-neighbours).

    References
    ----------
    .. [1] P. Boldi, M. Rosa, S. Vigna, "HyperANF: Approximating the
       neighbourhood function of very large graphs on a budget", WWW 2011.
    .. [2] P. Flajolet, É. Fusy, O. Gandouet, F. Meunier, "HyperLogLog: the
       analysis of a near-optimal cardinality estimation algorithm", AofA 2007.
    """
    log2m = log2_registers(registers, log2m)
    n = snapshot.n_nodes
    out = np.zeros((n, hops), dtype=np.float64)
    if n == 0:
        return out
    a = _reach_matrix(snapshot, types)
    indptr, indices = a.indptr, a.indices
    deg = np.diff(indptr)
    out[:, 0] = deg  # hop 1 is exact: distinct out-neighbours (no self-loops in the matrix)
    active = np.flatnonzero(deg)  # users with out-edges; the others always reach 0
    r = active.size
    if r and hops > 1:
        out[active, 1:] = _hyperanf_active(
            indptr, indices, active, snapshot.node_ids, hops, int(log2m), int(seed)
        )
    np.maximum(out, 0.0, out=out)
    # reach cannot shrink with more hops; estimates can wobble by rounding only
    np.maximum.accumulate(out, axis=1, out=out)
    return out


_MAX_PIECE = 1 << 12  # longest neighbour list reduced in one piece


def _plan(
    indptr: np.ndarray, indices: np.ndarray, n: int
) -> list[tuple[np.ndarray, np.ndarray, bool]]:
    """Padded neighbour blocks for :func:`_propagate`, built once per call.

    Every row's neighbour list is cut into pieces of at most :data:`_MAX_PIECE`
    edges; pieces are grouped by length bucket ``(L/2, L]`` (``L`` a power of two)
    and padded to ``L`` with the sentinel ``n`` (an all-zero register row), so
    a bucket's maxima are one contiguous ``(pieces, L, m).max(axis=1)``.
    Returns ``(owner rows, padded int32 index matrix, owners_unique)`` per bucket.
    """
    deg = np.diff(indptr).astype(np.int64)
    rows = np.flatnonzero(deg)
    if rows.size == 0:
        return []
    n_pieces = -(-deg[rows] // _MAX_PIECE)
    owner = np.repeat(rows, n_pieces)
    first = np.cumsum(n_pieces) - n_pieces
    k = np.arange(owner.size) - np.repeat(first, n_pieces)  # piece number within its row
    p_start = indptr[owner].astype(np.int64) + k * _MAX_PIECE
    p_len = np.minimum(indptr[owner + 1].astype(np.int64) - p_start, _MAX_PIECE)
    multi = np.repeat(n_pieces > 1, n_pieces)
    plans = []
    bucket = np.ceil(np.log2(p_len)).astype(np.int64)
    for b in np.unique(bucket):
        width = 1 << int(b)
        for heavy in (False, True):
            sel = np.flatnonzero((bucket == b) & (multi == heavy))
            if sel.size == 0:
                continue
            offs = np.arange(width, dtype=np.int64)
            pos = p_start[sel, None] + offs[None, :]
            valid = offs[None, :] < p_len[sel, None]
            padded = np.where(valid, indices[np.minimum(pos, indices.size - 1)], n)
            plans.append((owner[sel], padded.astype(np.int32), not heavy))
    return plans


def _propagate(
    cur: np.ndarray, nxt: np.ndarray, plans: list[tuple[np.ndarray, np.ndarray, bool]]
) -> None:
    """``nxt[u] = max(nxt[u], max_{v in out(u)} cur[v])`` over the padded blocks of ``plans``."""
    m = cur.shape[1]
    for owners, padded, unique in plans:
        width = padded.shape[1]
        step = max(1, _EDGE_CHUNK // width)
        for lo in range(0, owners.size, step):
            block = padded[lo : lo + step]
            red = cur[block.ravel()].reshape(block.shape[0], width, m).max(axis=1)
            rows = owners[lo : lo + step]
            if unique:
                np.maximum(nxt[rows], red, out=red)
                nxt[rows] = red
            else:  # pieces of the same heavy row: combine with an unbuffered maximum
                np.maximum.at(nxt, rows, red)
