"""Sort-based set operations on int64 keys (faster here than ``np.unique`` / ``np.isin``)."""

from __future__ import annotations

import numpy as np

__all__ = ["first_of_each", "in_sorted"]


def first_of_each(keys: np.ndarray, order_by: np.ndarray) -> np.ndarray:
    """Positions of the row with the smallest ``order_by`` for each distinct key (ties: first)."""
    if keys.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort((np.arange(keys.shape[0]), order_by, keys))
    sk = keys[order]
    first = np.ones(sk.shape[0], dtype=bool)
    first[1:] = sk[1:] != sk[:-1]
    return order[first]


def in_sorted(values: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    """Boolean mask: which ``values`` occur in the ascending array ``sorted_set``."""
    if sorted_set.shape[0] == 0:
        return np.zeros(values.shape[0], dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_set, values), sorted_set.shape[0] - 1)
    return sorted_set[pos] == values
