"""Monte-Carlo simulation of the independent cascade and linear threshold models.

:func:`simulate_spread` runs independent cascades from a seed set (Kempe, Kleinberg,
Tardos 2003) and reports the mean number of activated users with a normal
confidence interval ``mean +- z * sd / sqrt(runs)``:

* **IC**: each newly active ``u`` gets one chance to activate each inactive
  ``v`` it influences, with probability ``p(u, v)``;
* **LT**: each user draws a threshold ``theta_v ~ U[0, 1]`` and becomes active once
  the weights ``b(u, v)`` of their active influencers sum to ``theta_v``.

:class:`LiveEdgeWorlds` samples ``R`` live-edge graphs once (Kempe et al. 2003,
Claims 2.3 and 2.6: IC keeps each tie with probability ``p``, LT keeps at most one
incoming tie per user) and measures any seed set on the same worlds. Spread on fixed
worlds is monotone and submodular exactly, so CELF's lazy evaluation
(:mod:`influence.campaign.celf`) is exact for it and comparisons between seed sets
share their randomness.

References
----------
Kempe, D., Kleinberg, J., Tardos, E. (2003). Maximizing the spread of influence
through a social network. KDD, 137-146.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral

import numba
import numpy as np

from graph.params import Interval, Options, validate_params
from influence.campaign.probabilities import EdgeProbabilities
from influence.campaign.rr_sets import MODELS

__all__ = ["SpreadEstimate", "simulate_spread", "LiveEdgeWorlds"]

_Z = {0.90: 1.6448536269514722, 0.95: 1.959963984540054, 0.99: 2.5758293035489004}


@dataclass(frozen=True)
class SpreadEstimate:
    """Expected spread from independent simulations.

    Attributes
    ----------
    mean, sd : float
        Mean and sample standard deviation of the activated users (seeds included).
    low, high : float
        The confidence interval of the mean.
    runs : int
        Simulations.
    level : float
        Confidence level of ``[low, high]``.
    """

    mean: float
    sd: float
    low: float
    high: float
    runs: int
    level: float


@numba.njit(cache=True, nogil=True)
def _cascades(
    indptr: np.ndarray,
    indices: np.ndarray,
    prob: np.ndarray,
    seeds: np.ndarray,
    runs: int,
    seed: int,
    lt: bool,
) -> np.ndarray:  # pragma: no cover - compiled
    np.random.seed(seed)
    n = indptr.shape[0] - 1
    active = np.full(n, -1, dtype=np.int64)
    touched = np.full(n, -1, dtype=np.int64)
    acc = np.zeros(n, dtype=np.float64)
    theta = np.zeros(n, dtype=np.float64)
    queue = np.empty(n, dtype=np.int64)
    out = np.empty(runs, dtype=np.int64)
    for r in range(runs):
        tail = 0
        for s in seeds:
            if active[s] != r:
                active[s] = r
                queue[tail] = s
                tail += 1
        head = 0
        while head < tail:
            u = queue[head]
            head += 1
            for e in range(indptr[u], indptr[u + 1]):
                v = indices[e]
                if active[v] == r:
                    continue
                if lt:
                    if touched[v] != r:
                        touched[v] = r
                        acc[v] = 0.0
                        theta[v] = 1.0 - np.random.random()  # in (0, 1]
                    acc[v] += prob[e]
                    hit = acc[v] >= theta[v]
                else:
                    hit = np.random.random() < prob[e]
                if hit:
                    active[v] = r
                    queue[tail] = v
                    tail += 1
        out[r] = tail
    return out


@validate_params(
    {
        "model": [Options(MODELS)],
        "runs": [Interval(Integral, 2, None)],
        "level": [Options(tuple(_Z))],
        "seed": [Interval(Integral, 0, None)],
    }
)
def simulate_spread(
    probs: EdgeProbabilities,
    seeds: np.ndarray,
    *,
    model: str = "ic",
    runs: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> SpreadEstimate:
    """Expected spread of ``seeds`` from ``runs`` independent cascades (module docstring).

    Parameters
    ----------
    probs : EdgeProbabilities
        IC probabilities; for ``model="lt"`` the LT weights
        (:meth:`EdgeProbabilities.lt_weights`).
    seeds : numpy.ndarray of int
        Seed node indices.
    model : {"ic", "lt"}
        The diffusion model.
    runs : int
        Simulations (>= 2).
    seed : int
        Random seed; the same seed gives the same estimate.
    level : {0.9, 0.95, 0.99}
        Confidence level of the interval.

    Returns
    -------
    SpreadEstimate
    """
    s = np.unique(np.asarray(seeds, dtype=np.int64))
    counts = _cascades(
        probs.out_indptr, probs.dst, probs.prob, s, int(runs), int(seed), model == "lt"
    ).astype(np.float64)
    mean = float(counts.mean())
    sd = float(counts.std(ddof=1))
    half = _Z[level] * sd / np.sqrt(runs)
    return SpreadEstimate(mean, sd, float(mean - half), float(mean + half), int(runs), float(level))


@numba.njit(cache=True, nogil=True)
def _world_reach(
    indptr: np.ndarray, indices: np.ndarray, live: np.ndarray, seeds: np.ndarray
) -> float:  # pragma: no cover - compiled
    n = indptr.shape[0] - 1
    worlds = live.shape[0]
    mark = np.full(n, -1, dtype=np.int64)
    queue = np.empty(n, dtype=np.int64)
    total = 0
    for w in range(worlds):
        tail = 0
        for s in seeds:
            if mark[s] != w:
                mark[s] = w
                queue[tail] = s
                tail += 1
        head = 0
        while head < tail:
            u = queue[head]
            head += 1
            for e in range(indptr[u], indptr[u + 1]):
                v = indices[e]
                if live[w, e] and mark[v] != w:
                    mark[v] = w
                    queue[tail] = v
                    tail += 1
        total += tail
    return total / worlds


@numba.njit(cache=True, nogil=True)
def _lt_live(
    in_indptr: np.ndarray, in_prob: np.ndarray, in_edge: np.ndarray, m: int, worlds: int, seed: int
) -> np.ndarray:  # pragma: no cover - compiled
    np.random.seed(seed)
    n = in_indptr.shape[0] - 1
    live = np.zeros((worlds, m), dtype=np.bool_)
    for w in range(worlds):
        for v in range(n):
            x = np.random.random()
            for e in range(in_indptr[v], in_indptr[v + 1]):
                x -= in_prob[e]
                if x < 0.0:
                    live[w, in_edge[e]] = True
                    break
    return live


class LiveEdgeWorlds:
    """``worlds`` live-edge graphs sampled once; :meth:`spread` measures seed sets on them.

    Parameters
    ----------
    probs : EdgeProbabilities
        IC probabilities or LT weights.
    model : {"ic", "lt"}
        The diffusion model.
    worlds : int
        Number of live-edge graphs (memory: ``worlds * n_edges`` bytes).
    seed : int
        Random seed.
    """

    def __init__(self, probs: EdgeProbabilities, *, model: str, worlds: int, seed: int) -> None:
        self.probs = probs
        if model == "lt":
            self.live = _lt_live(
                probs.in_indptr, probs.in_prob, probs.in_edge, probs.n_edges, worlds, seed
            )
        else:
            rng = np.random.default_rng(seed)
            self.live = rng.random((worlds, probs.n_edges)) < probs.prob[None, :]

    def spread(self, seeds: np.ndarray) -> float:
        """Mean number of users the seeds reach over the worlds (seeds included)."""
        s = np.unique(np.asarray(seeds, dtype=np.int64))
        if not s.size:
            return 0.0
        return float(_world_reach(self.probs.out_indptr, self.probs.dst, self.live, s))
