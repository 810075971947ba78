"""Exact k-hop reach on demand, within a time budget (``GET /v1/users/{id}/reach``).

The graph snapshot is built once in a background thread and reused until the
store's row counts change (new events). A request waits for it at most the
budget; the breadth-first search itself gets the rest of the budget as a
deadline (:func:`influence.reach.reach_exact`). Running out of time raises
:class:`graph.errors.DeadlineExceeded`, which the API answers with 503 and a
``Retry-After`` hint instead of hanging.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from graph.errors import DeadlineExceeded
from graph.snapshot import GraphSnapshot, build_snapshot
from graph.store import GraphStore
from influence.reach import REACH_TYPES, reach_exact

__all__ = ["REACH_BUDGET_S", "MAX_HOPS", "SnapshotCache", "user_reach"]

#: Seconds one reach request may take, snapshot wait included.
REACH_BUDGET_S = 2.0
#: Largest ``hops`` a request may ask for.
MAX_HOPS = 6


class SnapshotCache:
    """One reach snapshot per store state, built in the background."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="koc-snapshot")
        self._key: Any = None
        self._future: Future[GraphSnapshot] | None = None

    def get(self, store: GraphStore, timeout: float) -> GraphSnapshot:
        """The snapshot for the store's current state; DeadlineExceeded after ``timeout`` s."""
        key = tuple(sorted(store.counts().items()))
        with self._lock:
            if self._future is None or key != self._key:
                self._key = key
                self._future = self._executor.submit(build_snapshot, store, types=REACH_TYPES)
            future = self._future
        try:
            return future.result(timeout=max(timeout, 0.0))
        except FutureTimeout:
            raise DeadlineExceeded("building the reach snapshot", timeout) from None

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


def user_reach(
    store: GraphStore,
    cache: SnapshotCache,
    user_id: str,
    hops: int,
    budget_s: float = REACH_BUDGET_S,
) -> dict[str, Any]:
    """Exact reach of ``user_id`` at 1..``hops`` hops (cumulative), within ``budget_s``.

    Raises
    ------
    DeadlineExceeded
        The snapshot or the search did not finish in time.
    NotFoundError
        Unknown user.
    """
    started = time.monotonic()
    snapshot = cache.get(store, budget_s)
    counts = reach_exact(snapshot, [user_id], hops=hops, deadline=started + budget_s)[0]
    return {
        "user_id": user_id,
        "hops": hops,
        "reach": [int(c) for c in counts],
        "edge_types": [t.value for t in REACH_TYPES],
        "seconds": round(time.monotonic() - started, 4),
    }
