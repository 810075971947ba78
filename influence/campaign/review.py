"""Realised spread of a campaign: who the seeds actually reached after it started.

A user is *reached* when a time-respecting path of influence ties leads from a
seed to them: the seeds are reached at the campaign's start ``t0``; a tie
``u -> v`` at time ``t`` (``t0 <= t < t1``) reaches ``v`` at ``t`` when ``u`` was
reached at or before ``t``. Processing the window's ties in time order once gives
every user's earliest reach time (the temporal reachability of Kempe, Kleinberg,
Kumar 2002); ties at the same instant are applied in the given order, so a chain
``a -> b -> c`` at one timestamp counts only if listed in that order.

The realised spread (reached users, seeds included) is what the plan's expected
spread predicted; the service adds the GMV of the reached users' orders placed
after they were reached.

References
----------
Kempe, D., Kleinberg, J., Kumar, A. (2002). Connectivity and inference problems for
temporal networks. Journal of Computer and System Sciences 64(4), 820-842.
"""

from __future__ import annotations

import numba
import numpy as np

from graph.errors import ParameterError

__all__ = ["NOT_REACHED", "reach_times"]

#: reach time of a user the seeds did not reach
NOT_REACHED = np.iinfo(np.int64).max


@numba.njit(cache=True, nogil=True)
def _sweep(
    src: np.ndarray, dst: np.ndarray, ts: np.ndarray, reached: np.ndarray
) -> None:  # pragma: no cover
    for e in range(src.shape[0]):
        if reached[src[e]] <= ts[e] and ts[e] < reached[dst[e]]:
            reached[dst[e]] = ts[e]


def reach_times(
    n_nodes: int,
    src: np.ndarray,
    dst: np.ndarray,
    ts: np.ndarray,
    seeds: np.ndarray,
    *,
    start_us: int,
    end_us: int | None = None,
) -> np.ndarray:
    """Earliest time each user was reached from ``seeds`` (module docstring).

    Parameters
    ----------
    n_nodes : int
        Number of nodes.
    src, dst : numpy.ndarray of int
        Influence ties (influencer, influenced).
    ts : numpy.ndarray of int64
        Time of each tie, UTC epoch microseconds.
    seeds : numpy.ndarray of int
        The campaign's seeds.
    start_us, end_us : int
        The campaign window ``[start_us, end_us)`` (no end when None).

    Returns
    -------
    numpy.ndarray of int64
        Reach time per node (:data:`NOT_REACHED` when not reached); seeds get ``start_us``.
    """
    s = np.asarray(src, dtype=np.int64)
    d = np.asarray(dst, dtype=np.int64)
    t = np.asarray(ts, dtype=np.int64)
    if not (s.shape == d.shape == t.shape):
        raise ParameterError("'src', 'dst' and 'ts' must have the same length.", parameter="ts")
    reached = np.full(n_nodes, NOT_REACHED, dtype=np.int64)
    reached[np.asarray(seeds, dtype=np.int64)] = int(start_us)
    window = t >= start_us
    if end_us is not None:
        window &= t < end_us
    idx = np.flatnonzero(window)
    order = idx[np.argsort(t[idx], kind="stable")]
    _sweep(s[order], d[order], t[order], reached)
    return reached
