"""Which keys of a batch may already be stored: a superset filter over key hashes.

De-duplication used to compare every batch with every stored ``event_id`` (a
semi-join over the whole column per batch: linear in the store, so a load grew
quadratically). :class:`StoredKeys` keeps the 64-bit hashes of the stored keys
of one column in memory, as a few sorted runs, and answers "may this key be
stored?" by binary search, in ``O(batch * log(store))``. A "no" is certain
(every stored key's hash is in the filter), a "yes" may be a hash collision,
so only the keys that answer "yes" are then compared with the stored rows.

The runs merge like a binary counter (a run is merged into the one before it
once it is at least half its size), so there are ``O(log n)`` runs and every
hash is re-sorted ``O(log n)`` times over a whole load.

Runs are built and merged by sorting (``np.sort``, then dropping repeats), not
with ``np.unique`` / ``np.union1d``: numpy 2.4's ``np.unique`` hashes its input,
about 200x slower than a sort on these 64-bit hashes (1.2 s against 6 ms for
300k keys), and was the largest cost of an ingest (issue 20).

The filter may hold more keys than are stored (a rolled-back batch, a deleted
row): that only costs a lookup, never a wrong answer. It must never hold fewer:
the owner (:class:`graph.duckdb_store.DuckDBStore`) drops it whenever the store
was written by someone else (its revision moved).
"""

from __future__ import annotations

import numpy as np

__all__ = ["StoredKeys", "sorted_unique"]


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """The distinct ``uint64`` values of ``values``, ascending (what ``np.unique`` returns).

    Parameters
    ----------
    values : numpy.ndarray
        Any 1-d array of integers; cast to ``uint64``.

    Returns
    -------
    numpy.ndarray
        Sorted, without repeats. Two concatenated sorted runs are merged in
        linear time (the stable sort finds the runs).
    """
    out = np.sort(np.asarray(values, dtype=np.uint64), kind="stable")
    if out.size < 2:
        return out
    keep = np.empty(out.size, dtype=bool)
    keep[0] = True
    np.not_equal(out[1:], out[:-1], out=keep[1:])
    return out if keep.all() else out[keep]


class StoredKeys:
    """A superset of the hashes of the keys stored in one column.

    Parameters
    ----------
    hashes : numpy.ndarray
        ``uint64`` hashes of the stored keys (any order, repeats allowed).
    """

    def __init__(self, hashes: np.ndarray) -> None:
        self._runs: list[np.ndarray] = []
        self.add(hashes)

    def __len__(self) -> int:
        return sum(r.size for r in self._runs)

    @property
    def runs(self) -> int:
        """The number of sorted runs (``O(log n)``)."""
        return len(self._runs)

    def add(self, hashes: np.ndarray) -> None:
        """Record the hashes of newly stored keys."""
        run = sorted_unique(hashes)
        if not run.size:
            return
        self._runs.append(run)
        while len(self._runs) > 1 and 2 * self._runs[-1].size >= self._runs[-2].size:
            last = self._runs.pop()
            self._runs[-1] = sorted_unique(np.concatenate((self._runs[-1], last)))

    def maybe(self, hashes: np.ndarray) -> np.ndarray:
        """``True`` where a key with this hash may be stored, ``False`` where it is not."""
        hashes = np.asarray(hashes, dtype=np.uint64)
        out = np.zeros(hashes.size, dtype=bool)
        for run in self._runs:
            at = np.searchsorted(run, hashes)
            np.minimum(at, run.size - 1, out=at)
            out |= run[at] == hashes
        return out
