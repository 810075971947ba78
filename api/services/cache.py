"""Caches of the HTTP app: finished runs' results in memory, and leaderboard pages.

A finished ranking run never changes (``save_run`` of a succeeded run is the
last write to it), so its scores and breakdowns can be served from memory:
:class:`RunCache` wraps the store and answers ``read_scores`` of finished runs
from an Arrow table indexed by user id and ``read_components`` from the
breakdown pivoted to one array per component and field,
``get_run`` of finished runs from a dict, and the run lists for a couple of
seconds (cleared by every ``save_run`` through it). Everything else goes to the
store. :class:`PageCache` keeps recent leaderboard pages per finished run and
query (LRU). Both are per process; memory grows with the number of users of the
runs kept (``max_runs``, about 0.4 GB per 1M-user run with its breakdown).

When a newer run finishes, ``latest_run`` keeps answering the previous run (in
memory) while the new one loads in a background thread, then switches: no
request waits seconds for a new run's results. At start-up (nothing in memory
yet) the first run loads in the background too, and until its breakdown is in
memory the breakdown of a few users is read from the store.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from graph.store import COMPONENT_SCHEMA, GraphStore, RunRecord

__all__ = ["FINISHED", "RunCache", "PageCache", "RefreshingCache"]

#: Statuses after which a run's stored results no longer change.
FINISHED = frozenset({"succeeded", "failed"})
T = TypeVar("T")


class _Scores:
    """A run's scores table and, built on the first point read (a second or two of
    Python per 1M users that a leaderboard page does not need), its row per user id."""

    def __init__(self, table: pa.Table) -> None:
        self.table = table
        self._row_of: dict[str, int] | None = None

    @property
    def row_of(self) -> dict[str, int]:
        if self._row_of is None:  # idempotent: two threads at once build equal dicts
            ids = self.table.column("user_id").to_pylist()
            self._row_of = dict(zip(ids, range(len(ids)), strict=True))
        return self._row_of


_FIELDS = ("raw", "normalized", "contribution")


@dataclass
class _Components:
    """A run's breakdown pivoted to arrays of shape (components, users of the run):
    ``present[c, i]`` whether user ``i`` (row ``i`` of the run's scores) has component
    ``names[c]``; per field its values (NaN where null) and null mask."""

    names: list[str]
    present: np.ndarray
    values: dict[str, np.ndarray]
    nulls: dict[str, np.ndarray]
    complete: bool = True


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

    def __init__(
        self,
        store: GraphStore,
        *,
        max_runs: int = 3,
        list_ttl: float = 2.0,
        on_warm: Callable[[RunCache, str], None] | None = None,
    ) -> None:
        self._store = store
        self._on_warm = on_warm
        self._warmed: set[str] = set()
        self._derived: OrderedDict[tuple[str, str], Any] = OrderedDict()
        self._warmer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="koc-run-cache")
        self._warming: Future[None] | None = None
        self._serving: RunRecord | None = None
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
        """The store's latest run; for ``succeeded``, the latest one already in memory
        while a newer one loads in the background (so no request waits for the load)."""
        run = self._listed(("latest", status), lambda: self._store.latest_run(status))
        if status != "succeeded" or run is None:
            return run
        if self.is_warm(run.run_id):
            self._serving = run
            return run
        serving = self._serving
        if serving is None or not self.is_warm(serving.run_id):
            if self._on_warm is not None:  # the first run's warm-up hook must run too
                self.start_warm(run.run_id)
            return run  # nothing in memory yet (start-up): the caller loads it meanwhile
        self.start_warm(run.run_id)
        return serving

    def start_warm(self, run_id: str) -> None:
        """Start :meth:`warm` of ``run_id`` in the background (unless a warm-up runs)."""
        with self._lock:
            if self._warming is None or self._warming.done():
                self._warming = self._warmer.submit(self.warm, run_id)

    def is_warm(self, run_id: str) -> bool:
        """Whether a run's scores and breakdown are in memory (and ``on_warm`` ran)."""
        ready = run_id in self._scores and run_id in self._components
        return ready and (self._on_warm is None or run_id in self._warmed)

    def warm(self, run_id: str) -> None:
        """Load a finished run's results (and its predecessor's scores) into memory."""
        self._entry("scores", self._scores, run_id, lambda: self._build_scores(run_id))
        created = self.get_run(run_id).created_at
        earlier = [
            r.run_id
            for r in self.list_runs(limit=50)
            if r.status == "succeeded" and r.created_at < created
        ]
        if earlier:  # the predecessor's ranks give the rank changes
            prev = earlier[0]
            self._entry("scores", self._scores, prev, lambda: self._build_scores(prev))
        self._entry("components", self._components, run_id, lambda: self._build_components(run_id))
        for held in (run_id, *earlier[:1]):  # the row of each user, for point reads
            entry = self._scores.get(held)
            if entry is not None:
                entry.row_of  # noqa: B018 - built here, in the background
        if self._on_warm is not None and run_id not in self._warmed:
            self._on_warm(self, run_id)
            with self._lock:
                self._warmed.add(run_id)

    def wait_warm(self, timeout: float | None = None) -> None:
        """Block until a background load ends (tests, benchmarks)."""
        warming = self._warming
        if warming is not None:
            warming.result(timeout=timeout)

    def close(self) -> None:
        """Stop loading and close the store."""
        self._warmer.shutdown(wait=True, cancel_futures=True)
        self._store.close()

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
                self._derived.clear()
                self._warmed.clear()
            else:
                self._runs.pop(run_id, None)
                self._scores.pop(run_id, None)
                self._components.pop(run_id, None)
                self._warmed.discard(run_id)
                for key in [k for k in self._derived if k[1] == run_id]:
                    del self._derived[key]

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

    def derived(self, kind: str, run_id: str, build: Callable[[], T]) -> T:
        """A value computed from a finished run (e.g. its leaderboard board), built once
        per ``kind`` and run and kept like the run's results (``max_runs`` per kind)."""
        key = (kind, run_id)
        value = self._derived.get(key)
        if value is not None:
            with self._lock:
                if key in self._derived:
                    self._derived.move_to_end(key)
            return value  # type: ignore[no-any-return]
        with self._lock:
            lock = self._build_locks.setdefault((f"derived:{kind}", run_id), threading.Lock())
        with lock:  # one build per run, other threads wait for it
            value = self._derived.get(key)
            if value is None:
                value = build()
                with self._lock:
                    self._derived[key] = value
                    same = [k for k in self._derived if k[0] == kind]
                    for old in same[: max(0, len(same) - self._max_runs)]:
                        del self._derived[old]
        return value  # type: ignore[no-any-return]

    def is_finished(self, run_id: str) -> bool:
        """Whether ``run_id`` is a finished run (its results never change again)."""
        return self._finished(run_id)

    def component_column(self, run_id: str, component: str) -> tuple[np.ndarray, np.ndarray] | None:
        """One component's raw value for every row of the run's scores (NaN where the
        user has none) and whether it is present, from the pivoted breakdown (None when
        the breakdown is not held in memory: read the store)."""
        entry: _Components = self._entry(
            "components", self._components, run_id, lambda: self._build_components(run_id)
        )
        if not entry.complete or component not in entry.names:
            n = self._entry(
                "scores", self._scores, run_id, lambda: self._build_scores(run_id)
            ).table.num_rows
            if entry.complete:  # no user has this component
                return np.full(n, np.nan), np.zeros(n, bool)
            return None
        c = entry.names.index(component)
        valid = entry.present[c] & ~entry.nulls["raw"][c]
        return entry.values["raw"][c], valid

    def component_block(
        self, run_id: str, names: Sequence[str], rows: np.ndarray, field: str
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """``field`` of components ``names`` for rows ``rows`` of the run's scores, from
        the pivoted breakdown: values of shape (names, rows), NaN where null or absent,
        and whether each user has the component (None: the breakdown is not in memory
        yet, or cannot be: read the store)."""
        entry: _Components | None = self._components.get(run_id)
        if entry is None or not entry.complete:
            return None
        k = len(names)
        values = np.full((k, rows.shape[0]), np.nan)
        present = np.zeros((k, rows.shape[0]), bool)
        nulls = np.zeros((k, rows.shape[0]), bool)
        for j, name in enumerate(names):
            if name in entry.names:
                c = entry.names.index(name)
                values[j] = entry.values[field][c, rows]
                present[j] = entry.present[c, rows]
                nulls[j] = entry.nulls[field][c, rows]
        return np.where(nulls, np.nan, values), present

    # --- results ------------------------------------------------------------------------
    def _build_scores(self, run_id: str) -> _Scores:
        return _Scores(self._store.read_scores(run_id).combine_chunks())

    def _build_components(self, run_id: str) -> _Components:
        """The pivot of a run's breakdown (``complete`` False when a row's user is not
        in the run's scores: then reads go to the store)."""
        scores: _Scores = self._entry(
            "scores", self._scores, run_id, lambda: self._build_scores(run_id)
        )
        table = self._store.read_components(run_id, ordered=False)
        n = scores.table.num_rows
        rows = pc.index_in(table.column("user_id"), value_set=scores.table.column("user_id"))
        if rows.null_count:
            return _Components([], np.zeros((0, 0), dtype=bool), {}, {}, complete=False)
        row = np.asarray(rows.to_numpy(zero_copy_only=False), dtype=np.int64)
        encoded = pc.dictionary_encode(table.column("component")).combine_chunks()
        names = encoded.dictionary.to_pylist()
        order = sorted(range(len(names)), key=names.__getitem__)  # component order, as stored
        remap = np.empty(len(names), dtype=np.int64)
        remap[order] = np.arange(len(names))
        code = remap[np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)]
        shape = (len(names), n)
        flat = code * n + row  # one flat index for every scatter below
        present = np.zeros(shape, dtype=bool)
        present.ravel()[flat] = True
        values, nulls = {}, {}
        for name in _FIELDS:
            column = table.column(name).combine_chunks()
            values[name] = np.full(shape, np.nan)
            values[name].ravel()[flat] = column.to_numpy(zero_copy_only=False)
            nulls[name] = np.zeros(shape, dtype=bool)
            if column.null_count:
                nulls[name].ravel()[flat] = np.asarray(
                    column.is_null().to_numpy(zero_copy_only=False)
                )
        return _Components([names[i] for i in order], present, values, nulls)

    def read_scores(
        self, run_id: str, *, user_ids: Iterable[str] | None = None, limit: int | None = None
    ) -> pa.Table:
        if not self._finished(run_id):
            return self._store.read_scores(run_id, user_ids=user_ids, limit=limit)
        entry: _Scores = self._entry(
            "scores", self._scores, run_id, lambda: self._build_scores(run_id)
        )
        table = entry.table
        if user_ids is not None and entry._row_of is None:  # the warm-up builds it
            return self._store.read_scores(run_id, user_ids=user_ids, limit=limit)
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
        ordered: bool = True,
    ) -> pa.Table:
        loaded = run_id in self._components  # while it loads, a few users' rows: the store
        if user_ids is None or component is not None or not loaded or not self._finished(run_id):
            return self._store.read_components(
                run_id, user_ids=user_ids, component=component, ordered=ordered
            )
        entry: _Components = self._entry(
            "components", self._components, run_id, lambda: self._build_components(run_id)
        )
        if not entry.complete:
            return self._store.read_components(run_id, user_ids=user_ids)
        row_of = self._scores[run_id].row_of if run_id in self._scores else None
        if row_of is None:  # scores evicted meanwhile: rebuild them (rare)
            row_of = self._entry(
                "scores", self._scores, run_id, lambda: self._build_scores(run_id)
            ).row_of
        out: dict[str, list[Any]] = {"user_id": [], "component": [], **{f: [] for f in _FIELDS}}
        for user in sorted(set(user_ids)):  # the store's order: user, then component
            i = row_of.get(user)
            if i is None:
                continue
            for c in np.flatnonzero(entry.present[:, i]).tolist():
                out["user_id"].append(user)
                out["component"].append(entry.names[c])
                for f in _FIELDS:
                    out[f].append(None if entry.nulls[f][c, i] else float(entry.values[f][c, i]))
        return pa.table(out, schema=COMPONENT_SCHEMA)


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


class RefreshingCache:
    """Values per key that are recomputed in the background when their ``version``
    moves on: a reader gets the last value at once (stale-while-revalidate), and the
    fresh one as soon as it is computed. One recomputation at a time.

    For views that take seconds to compute (``GET /v1/roles/{role}``): a stream of
    writes must not make every reader wait for one.
    """

    def __init__(self, max_entries: int = 64) -> None:
        self.max_entries = max_entries
        self._items: OrderedDict[Hashable, tuple[Hashable, Any]] = OrderedDict()
        self._pending: set[Hashable] = set()
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="koc-refresh")
        self._last: Future[None] | None = None

    def get(self, key: Hashable, version: Hashable, compute: Callable[[], T]) -> T:
        """The value of ``key``; computed now when there is none, else the last one
        (recomputed in the background when it was computed for another version)."""
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
                if hit[0] != version and key not in self._pending:
                    self._pending.add(key)
                    self._last = self._pool.submit(self._refresh, key, version, compute)
                return hit[1]  # type: ignore[no-any-return]
        value = compute()
        self._put(key, version, value)
        return value

    def _refresh(self, key: Hashable, version: Hashable, compute: Callable[[], Any]) -> None:
        try:
            self._put(key, version, compute())
        finally:
            with self._lock:
                self._pending.discard(key)

    def _put(self, key: Hashable, version: Hashable, value: Any) -> None:
        with self._lock:
            self._items[key] = (version, value)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)

    def wait(self, timeout: float | None = None) -> None:
        """Block until the last background recomputation ends (tests)."""
        last = self._last
        if last is not None:
            last.result(timeout=timeout)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
