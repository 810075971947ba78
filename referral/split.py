"""Exact splitting of integer minor-unit amounts across groups of beneficiaries.

Used for the share-chain split: each order's commission ``T`` (in cents) is shared
across its forward chain so that the parts sum to ``T`` *exactly*. Parts are
``floor(T * w_i / W)``; the ``T - sum(floor)`` leftover cents go one each to the
members with the largest fractional parts, ties to the member closest to the buyer
(the largest-remainder, or Hamilton, method). Everything is vectorized over all
groups at once.
"""

from __future__ import annotations

import numpy as np

from graph.arrays import US_PER_DAY

__all__ = ["split_minor", "time_decay_weights"]


def time_decay_weights(age_us: np.ndarray, half_life_days: float) -> np.ndarray:
    """Weights ``2 ** (-age / half_life)`` for ages in microseconds (ages < 0 count as 0)."""
    age_days = np.maximum(np.asarray(age_us, dtype=np.float64), 0.0) / US_PER_DAY
    return np.exp2(-age_days / float(half_life_days))


def split_minor(
    totals: np.ndarray,
    group: np.ndarray,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Split each group's integer total across its rows.

    Parameters
    ----------
    totals : numpy.ndarray of int64
        Per row, the total of the row's group (equal within a group), in minor units.
    group : numpy.ndarray of int
        Group id per row; rows of a group are contiguous and in priority order
        (first row = closest to the buyer, who wins ties).
    weights : numpy.ndarray of float, optional
        Positive weight per row; ``None`` splits equally. Weights are scaled to
        integers (largest of a group = 2**20) so the split itself is exact integer
        arithmetic; totals must stay below 2**43 minor units.

    Returns
    -------
    numpy.ndarray of int64
        Parts, ``>= 0``, summing exactly to each group's total.
    """
    totals = np.asarray(totals, dtype=np.int64)
    group = np.asarray(group)
    n = totals.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    sizes = np.diff(np.r_[starts, n])
    gid = np.repeat(np.arange(starts.size), sizes)
    pos = np.arange(n) - starts[gid]
    gtotal = totals[starts]
    if weights is None:
        wint = np.ones(n, dtype=np.int64)
    else:
        # weights -> integers (max of each group = 2**20, min 1): exact integer split
        w = np.asarray(weights, dtype=np.float64)
        wmax = np.maximum.reduceat(w, starts)
        wint = np.maximum(np.rint(w / wmax[gid] * 2**20), 1).astype(np.int64)
    wsum = np.add.reduceat(wint, starts)
    num = gtotal[gid] * wint
    base = num // wsum[gid]
    frac = num % wsum[gid]  # remainder numerators: comparable within a group
    left = gtotal - np.add.reduceat(base, starts)
    # rank rows within each group: largest fraction first, then position
    order = np.lexsort((pos, -frac, gid))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n) - starts[gid[order]]
    return base + (rank < left[gid]).astype(np.int64)
