"""Caches of the HTTP app: finished runs' results in memory, and leaderboard pages.

A finished ranking run never changes (``save_run`` of a succeeded run is the
last write to it), so its scores and breakdowns can be served from memory:
:class:`RunCache` wraps the store and answers ``read_scores`` /
``read_components`` of finished runs from Arrow tables indexed by user id,
``get_run`` of finished runs from a dict, and the run lists for a couple of
seconds (cleared by every ``save_run`` through it). Everything else goes to the
store. :class:`PageCache` keeps recent leaderboard pages per finished run and
query (LRU). Both are per process; memory grows with the number of users of the
runs kept (``max_runs``, about 0.5 GB for two 1M-user runs).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa

from graph.store import GraphStore, RunRecord

__all__ = ["FINISHED", "RunCache", "PageCache"]

#: Statuses after which a run's stored results no longer change.
FINISHED = frozenset({"succeeded", "failed"})
T = TypeVar("T")


@dataclass
class _Scores:
    table: pa.Table
    row_of: dict[str, int]


@dataclass
class _Components:
    table: pa.Table
    span_of: dict[str, tuple[int, int]]


class RunCache:
    """A store whose reads of finished runs come from memory (see the module docstring).

    Parameters
    ----------
    store : GraphStore
        The wrapped store; every other attribute is the store's.
    max_runs : int
        Finished runs whose results are kept (least recently used dropped first).
    list_ttl : float
        Seconds ``list_runs`` / ``latest_run`` answers are reused.
    """

    def __init__(self, store: GraphStore, *, max_runs: int = 2, list_ttl: float = 2.0) -> None:
        self._store = store
        self._max_runs = max_runs
        self._list_ttl = list_ttl
        self._lock = threading.RLock()
        self._build_locks: dict[tuple[str, str], threading.Lock] = {}
        self._runs: dict[str, RunRecord] = {}
        self._lists: dict[Hashable, tuple[float, Any]] = {}
        self._scores: OrderedDict[str, _Scores] = OrderedDict()
        self._components: OrderedDict[str, _Components] = OrderedDict()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    @property
    def wrapped(self) -> GraphStore:
        """The underlying store."""
        return self._store

    # --- runs ---------------------------------------------------------------------------
    def _listed(self, key: Hashable, compute: Callable[[], T]) -> T:
        now = time.monotonic()
        hit = self._lists.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]  # type: ignore[no-any-return]
        value = compute()
        with self._lock:
            self._lists[key] = (now + self._list_ttl, value)
        return value

    def get_run(self, run_id: str) -> RunRecord:
        run = self._runs.get(run_id)
        if run is None:
            run = self._store.get_run(run_id)
            if run.status in FINISHED:
                with self._lock:
                    self._runs[run_id] = run
        return run

    def list_runs(self, limit: int = 20) -> list[RunRecord]:
        return self._listed(("list", limit), lambda: self._store.list_runs(limit=limit))

    def latest_run(self, status: str = "succeeded") -> RunRecord | None:
        return self._listed(("latest", status), lambda: self._store.latest_run(status))

    def save_run(
        self, run: RunRecord, scores: pa.Table | None = None, components: pa.Table | None = None
    ) -> None:
        self._store.save_run(run, scores, components)
        self.invalidate(run.run_id)

    def invalidate(self, run_id: str | None = None) -> None:
        """Forget the run lists, and one run's cached results (all runs when None)."""
        with self._lock:
            self._lists.clear()
            if run_id is None:
                self._runs.clear()
                self._scores.clear()
                self._components.clear()
            else:
                self._runs.pop(run_id, None)
                self._scores.pop(run_id, None)
                self._components.pop(run_id, None)

    def _finished(self, run_id: str) -> bool:
        try:
            return self.get_run(run_id).status in FINISHED
        except Exception:  # unknown run: let the store answer (and raise) as usual
            return False

    def _entry(self, kind: str, cache: OrderedDict, run_id: str, build: Callable[[], Any]) -> Any:
        entry = cache.get(run_id)
        if entry is not None:
            with self._lock:
                cache.move_to_end(run_id)
            return entry
        with self._lock:
            lock = self._build_locks.setdefault((kind, run_id), threading.Lock())
        with lock:  # one build per run, other threads wait for it
            entry = cache.get(run_id)
            if entry is None:
                entry = build()
                with self._lock:
                    cache[run_id] = entry
                    while len(cache) > self._max_runs:
                        cache.popitem(last=False)
        return entry

    # --- results ------------------------------------------------------------------------
    def _build_scores(self, run_id: str) -> _Scores:
        table = self._store.read_scores(run_id).combine_chunks()
        ids = table.column("user_id").to_pylist()
        return _Scores(table, dict(zip(ids, range(len(ids)), strict=True)))

    def _build_components(self, run_id: str) -> _Components:
        table = self._store.read_components(run_id).combine_chunks()  # ordered by user_id
        ids = np.asarray(table.column("user_id").to_numpy(zero_copy_only=False), dtype=object)
        if ids.size == 0:
            return _Components(table, {})
        starts = np.concatenate(([0], np.flatnonzero(ids[1:] != ids[:-1]) + 1))
        stops = np.append(starts[1:], ids.size)
        spans = dict(
            zip(
                ids[starts].tolist(), zip(starts.tolist(), stops.tolist(), strict=True), strict=True
            )
        )
        return _Components(table, spans)

    def read_scores(
        self, run_id: str, *, user_ids: Iterable[str] | None = None, limit: int | None = None
    ) -> pa.Table:
        if not self._finished(run_id):
            return self._store.read_scores(run_id, user_ids=user_ids, limit=limit)
        entry: _Scores = self._entry(
            "scores", self._scores, run_id, lambda: self._build_scores(run_id)
        )
        table = entry.table
        if user_ids is not None:
            rows = sorted({entry.row_of[u] for u in user_ids if u in entry.row_of})
            table = table.take(pa.array(rows, pa.int64()))
        return table if limit is None else table.slice(0, int(limit))

    def read_components(
        self,
        run_id: str,
        user_ids: Iterable[str] | None = None,
        *,
        component: str | None = None,
    ) -> pa.Table:
        if user_ids is None or component is not None or not self._finished(run_id):
            return self._store.read_components(run_id, user_ids=user_ids, component=component)
        entry: _Components = self._entry(
            "components", self._components, run_id, lambda: self._build_components(run_id)
        )
        spans = sorted(entry.span_of[u] for u in set(user_ids) if u in entry.span_of)
        rows = [np.arange(a, b) for a, b in spans]
        take = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
        return entry.table.take(pa.array(take, pa.int64()))


class PageCache:
    """A small thread-safe LRU of computed responses (leaderboard pages of finished runs)."""

    def __init__(self, max_entries: int = 512) -> None:
        self.max_entries = max_entries
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_compute(self, key: Hashable, compute: Callable[[], T]) -> T:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]  # type: ignore[no-any-return]
        value = compute()
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
