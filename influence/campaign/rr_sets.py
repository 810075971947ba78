"""Reverse-reachable (RR) sets, sampled by compiled kernels and stored as flat CSR arrays.

An RR set of the independent cascade model (Borgs et al. 2014; Tang, Xiao, Shi
2014) is the set of users that reach a uniformly random root ``v`` in one random
*live-edge* graph: every tie ``u -> v`` is live with probability ``p(u, v)``. A
breadth-first search from ``v`` over the reverse ties flips each tie's coin once.
For the linear threshold model each node keeps at most one incoming tie, ``u``
with probability ``b(u, v)`` and none with ``1 - sum_u b(u, v)`` (Kempe et al.
2003's live-edge form), so an RR set is a reverse random walk that stops at a node
without a live tie or at a node already in the set.

For any seed set ``S``, ``n * Pr[S meets a random RR set]`` is its expected spread,
so the share of RR sets covered by ``S`` (:func:`coverage`) estimates the spread and
maximising coverage maximises spread (the reduction IMM relies on).

Sets are returned as ``(indptr, nodes)``: set ``i`` is ``nodes[indptr[i]:indptr[i+1]]``
(int64 pointers, int32 nodes, its root first). Sampling is seeded: the same
``seed`` gives the same sets. Large batches are split into two halves sampled on
two threads (the kernels release the GIL); each half has its own seed drawn from
``seed``, so the result depends on the seed and not on thread timing.

References
----------
Borgs, C., Brautbar, M., Chayes, J., Lucier, B. (2014). Maximizing social
influence in nearly optimal time. SODA, 946-957.
Tang, Y., Shi, Y., Xiao, X. (2015). Influence maximization in near-linear time:
a martingale approach. SIGMOD, 1539-1554.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from influence.campaign.probabilities import EdgeProbabilities

__all__ = ["MODELS", "RRSets", "sample_rr_sets", "coverage"]

#: the diffusion models: independent cascade, linear threshold
MODELS: tuple[str, ...] = ("ic", "lt")

#: below this many sets one thread samples them all
_PARALLEL_MIN = 20_000


@numba.njit(cache=True, nogil=True)
def _grow(buf: np.ndarray, need: int) -> np.ndarray:  # pragma: no cover - compiled
    size = buf.shape[0]
    while size < need:
        size *= 2
    out = np.empty(size, dtype=buf.dtype)
    out[: buf.shape[0]] = buf
    return out


@numba.njit(cache=True, nogil=True)
def _sample_kernel(
    indptr: np.ndarray,
    indices: np.ndarray,
    prob: np.ndarray,
    n: int,
    count: int,
    seed: int,
    lt: bool,
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    np.random.seed(seed)
    mark = np.full(n, -1, dtype=np.int64)
    ptr = np.empty(count + 1, dtype=np.int64)
    ptr[0] = 0
    nodes = np.empty(max(16, 4 * count), dtype=np.int32)
    size = 0
    for r in range(count):
        root = np.random.randint(0, n)
        if size + 1 > nodes.shape[0]:
            nodes = _grow(nodes, size + 1)
        nodes[size] = root
        mark[root] = r
        start = size
        size += 1
        head = start
        while head < size:
            v = nodes[head]
            head += 1
            lo, hi = indptr[v], indptr[v + 1]
            if lt:
                x = np.random.random()
                for e in range(lo, hi):
                    x -= prob[e]
                    if x < 0.0:
                        u = indices[e]
                        if mark[u] != r:
                            mark[u] = r
                            if size + 1 > nodes.shape[0]:
                                nodes = _grow(nodes, size + 1)
                            nodes[size] = u
                            size += 1
                        break
            else:
                if size + (hi - lo) > nodes.shape[0]:
                    nodes = _grow(nodes, size + (hi - lo))
                for e in range(lo, hi):
                    u = indices[e]
                    if mark[u] != r and np.random.random() < prob[e]:
                        mark[u] = r
                        nodes[size] = u
                        size += 1
        ptr[r + 1] = size
    return ptr, nodes[:size].copy()


class RRSets:
    """A growing collection of RR sets as flat CSR arrays (see the module docstring).

    Parameters
    ----------
    probs : EdgeProbabilities
        Ties with IC probabilities, or LT weights (:meth:`EdgeProbabilities.lt_weights`).
    model : {"ic", "lt"}
        The diffusion model.
    seed : int
        Seed of every batch drawn (batch ``j`` uses the ``j``-th seed of a
        :class:`numpy.random.SeedSequence` of ``seed``).
    threads : int
        Threads for large batches (1 or 2).
    """

    def __init__(
        self, probs: EdgeProbabilities, *, model: str, seed: int, threads: int = 2
    ) -> None:
        self.probs = probs
        self.lt = model == "lt"
        self.threads = threads
        self._seeds = np.random.SeedSequence(seed)
        self._ptr_parts: list[np.ndarray] = [np.zeros(1, dtype=np.int64)]
        self._node_parts: list[np.ndarray] = []
        self._count = 0
        self._size = 0
        self._flat: tuple[np.ndarray, np.ndarray] | None = None

    def __len__(self) -> int:
        return self._count

    def _batch(self, count: int) -> list[tuple[np.ndarray, np.ndarray]]:
        p = self.probs
        halves = (
            [count]
            if self.threads < 2 or count < _PARALLEL_MIN
            else [count // 2, count - count // 2]
        )
        seeds = [int(s.generate_state(1)[0]) for s in self._seeds.spawn(len(halves))]
        args = [
            (p.in_indptr, p.in_src, p.in_prob, p.n_nodes, c, s, self.lt)
            for c, s in zip(halves, seeds, strict=True)
        ]
        if len(args) == 1:
            return [_sample_kernel(*args[0])]
        with ThreadPoolExecutor(max_workers=len(args)) as pool:
            return list(pool.map(lambda a: _sample_kernel(*a), args))

    def extend_to(self, total: int) -> None:
        """Sample sets until the collection holds at least ``total`` of them."""
        need = int(total) - self._count
        if need <= 0 or self.probs.n_nodes == 0:
            return
        for ptr, nodes in self._batch(need):
            self._ptr_parts.append(ptr[1:] + self._size)
            self._node_parts.append(nodes)
            self._size += int(nodes.shape[0])
            self._count += int(ptr.shape[0] - 1)
        self._flat = None

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """``(indptr, nodes)`` of every set sampled so far."""
        if self._flat is None:
            nodes = (
                np.concatenate(self._node_parts)
                if self._node_parts
                else np.zeros(0, dtype=np.int32)
            )
            self._ptr_parts = [np.concatenate(self._ptr_parts)]
            self._node_parts = [nodes] if nodes.size else []
            self._flat = (self._ptr_parts[0], nodes)
        return self._flat


def sample_rr_sets(
    probs: EdgeProbabilities, count: int, *, model: str = "ic", seed: int = 0, threads: int = 2
) -> tuple[np.ndarray, np.ndarray]:
    """Sample ``count`` RR sets; return ``(indptr, nodes)`` (module docstring).

    Parameters
    ----------
    probs : EdgeProbabilities
        IC probabilities, or LT weights for ``model="lt"``.
    count : int
        Number of sets.
    model : {"ic", "lt"}
        The diffusion model.
    seed : int
        Random seed; the same seed gives the same sets.
    threads : int
        1 or 2 threads.

    Returns
    -------
    indptr : numpy.ndarray of int64, shape (count + 1,)
    nodes : numpy.ndarray of int32
    """
    sets = RRSets(probs, model=model, seed=seed, threads=threads)
    sets.extend_to(count)
    return sets.arrays()


def coverage(indptr: np.ndarray, nodes: np.ndarray, seeds: np.ndarray, n_nodes: int) -> float:
    """Share of the RR sets that contain at least one of ``seeds``.

    ``n_nodes * coverage`` estimates the expected spread of ``seeds``.
    """
    count = indptr.shape[0] - 1
    if count <= 0:
        return 0.0
    is_seed = np.zeros(n_nodes, dtype=bool)
    is_seed[np.asarray(seeds, dtype=np.int64)] = True
    hit = is_seed[nodes]
    set_of = np.repeat(np.arange(count), np.diff(indptr))
    return float(np.unique(set_of[hit]).size) / count
