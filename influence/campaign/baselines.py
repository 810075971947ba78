"""Baseline seed sets a plan is compared with: top K by a score, by degree, random K.

Kempe, Kleinberg, Tardos (2003) compare greedy seeds with the highest-degree and
random users; the leaderboard's top K (by KOC score) is the seed list a brand would
pick without a plan. Each baseline takes the same candidates as the plan, so the
comparison is between seed lists a campaign could actually use.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np

from graph.errors import ParameterError
from graph.params import Interval, validate_params

__all__ = ["top_k_by", "random_k"]


@validate_params({"k": [Interval(Integral, 0, None)]})
def top_k_by(values: np.ndarray, k: int, *, allowed: np.ndarray | None = None) -> np.ndarray:
    """The ``k`` allowed nodes with the largest ``values`` (ties: smaller index first).

    Parameters
    ----------
    values : numpy.ndarray of float
        One value per node (NaN: never chosen).
    k : int
        Seeds to return (fewer when fewer nodes are allowed).
    allowed : numpy.ndarray of bool, optional
        Candidates; all nodes when None.

    Returns
    -------
    numpy.ndarray of int64
        Node indices, best first.
    """
    v = np.asarray(values, dtype=np.float64)
    ok = ~np.isnan(v) if allowed is None else np.asarray(allowed, dtype=bool) & ~np.isnan(v)
    if ok.shape != v.shape:
        raise ParameterError("'allowed' must have one entry per value.", parameter="allowed")
    idx = np.flatnonzero(ok)
    order = np.lexsort((idx, -v[idx]))
    return idx[order[:k]].astype(np.int64)


@validate_params({"k": [Interval(Integral, 0, None)], "seed": [Interval(Integral, 0, None)]})
def random_k(allowed: np.ndarray, k: int, *, seed: int = 0) -> np.ndarray:
    """``k`` allowed nodes drawn uniformly without replacement (reproducible per seed)."""
    idx = np.flatnonzero(np.asarray(allowed, dtype=bool))
    rng = np.random.default_rng(seed)
    return rng.choice(idx, size=min(k, idx.size), replace=False).astype(np.int64)
