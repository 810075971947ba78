"""Fixtures for influence tests: small snapshots built straight from edge arrays."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from graph.events import EDGE_TYPE_CODES, EventType
from graph.snapshot import GraphSnapshot
from graph.store import EdgeArrays


def snapshot_from_pairs(
    pairs: Sequence[tuple[int, int]] | np.ndarray,
    n: int,
    *,
    etype: EventType | np.ndarray = EventType.VIEW,
    ts: np.ndarray | None = None,
    content: np.ndarray | None = None,
    **kwargs: object,
) -> GraphSnapshot:
    """Snapshot of ``n`` nodes named ``u0..u{n-1}`` with influence edges ``pairs``."""
    arr = np.asarray(pairs, dtype=np.int32).reshape(-1, 2)
    m = arr.shape[0]
    codes = (
        np.full(m, EDGE_TYPE_CODES[etype], dtype=np.int8)
        if isinstance(etype, EventType)
        else np.asarray(etype, dtype=np.int8)
    )
    edges = EdgeArrays(
        src=arr[:, 0].copy(),
        dst=arr[:, 1].copy(),
        etype=codes,
        ts=np.zeros(m, dtype=np.int64) if ts is None else np.asarray(ts, dtype=np.int64),
        node_ids=np.array([f"u{i}" for i in range(n)], dtype=object),
    )
    return GraphSnapshot.from_edges(edges, content=content, **kwargs)  # type: ignore[arg-type]


def random_pairs(rng: np.random.Generator, n: int, m: int, *, loops: bool = False) -> np.ndarray:
    """``m`` random directed pairs over ``n`` nodes (duplicates possible, no self-loops)."""
    pairs = rng.integers(0, n, size=(m, 2))
    if not loops:
        pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    return pairs


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261122)
