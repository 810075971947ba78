"""In-memory profile facts: what ``GET /v1/users/{id}`` needs, for every user at once.

A profile gathers a user's referral counts (a recursive walk of the referral
tree), effective role (a join over role periods, user records and inferences)
and rank in recent runs. Asked of the store per request, that is four queries and
about 100 ms on a 1M-user store; :class:`FactsCache` instead computes them for
all users in one vectorised pass (:func:`referral.forest.referral_forest`,
:func:`graph.roles.role_at` over every user, one aligned array per recent run)
and answers each profile with array lookups.

Freshness. The facts are tagged with the store's :meth:`~graph.store.GraphStore.revision`
(bumped by every event, user or role write), the ids of the recent runs and the
next start or end of a declared role period. When any of those moves on, a
rebuild starts in a background thread. Until it finishes, the previous facts are
still served for at most ``max_stale_s`` seconds after the change was noticed
(the store's revision is read at most once a second, or on every request when
``max_stale_s`` is 0); after that, or when there are no facts yet, callers get
``None`` and query the store directly (exact, slower). The facts never change
the answer, only when it is known: tests compare them with the store's own
queries for every user.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from graph.arrays import node_indexes
from graph.money import units_to_decimal
from graph.store import GraphStore, RunRecord
from referral.forest import ReferralForest, store_forest

__all__ = ["HISTORY_RUNS", "ProfileFacts", "FactsCache", "build_facts", "history_runs"]

_log = logging.getLogger(__name__)

#: Recent succeeded runs shown in a profile's rank history.
HISTORY_RUNS = 10
_NO_END = float("inf")


def history_runs(store: GraphStore, runs: int = HISTORY_RUNS) -> list[RunRecord]:
    """The latest ``runs`` succeeded runs, newest first."""
    out: list[RunRecord] = []
    limit = runs * 3
    while True:
        listed = store.list_runs(limit=limit)
        out = [r for r in listed if r.status == "succeeded"][:runs]
        if len(out) >= runs or len(listed) < limit:
            return out
        limit *= 4


@dataclass
class _Ranks:
    """One run's rank and score per node (rank 0: not ranked in that run)."""

    run: RunRecord
    rank: np.ndarray
    score: np.ndarray


@dataclass
class _Roles:
    role: np.ndarray  # codes into the lists below
    source: np.ndarray
    model: np.ndarray
    confidence: np.ndarray
    role_names: list[Any]
    source_names: list[Any]
    model_names: list[Any]


@dataclass
class ProfileFacts:
    """Per-user lookups built from one store state (see the module docstring).

    Attributes
    ----------
    revision : int
        Store revision the facts were read at.
    run_ids : tuple of str
        The recent runs of the rank history, newest first.
    valid_until : float
        Epoch seconds of the next role period boundary (``inf`` when none).
    built_at : datetime
    build_seconds : float
    """

    revision: int
    run_ids: tuple[str, ...]
    valid_until: float
    ids: np.ndarray
    index: dict[str, int]
    forest: ReferralForest
    roles: _Roles | None
    history: list[_Ranks]
    built_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    build_seconds: float = 0.0

    def node(self, user_id: str) -> int | None:
        """The user's node index, or None for a user the facts do not know."""
        return self.index.get(user_id)

    def referral_summary(self, v: int) -> dict[str, Any]:
        """Direct referrer, direct referrals and downline totals over all levels."""
        f = self.forest
        parent = int(f.ancestors[0, v])
        return {
            "referred_by": None if parent < 0 else str(self.ids[parent]),
            "direct_referrals": int(f.users[0, v]),
            "downline_users": int(f.users[:, v].sum()),
            "downline_buyers": int(f.buyers[:, v].sum()),
            "downline_gmv": units_to_decimal(int(f.gmv_units[:, v].sum())),
            "levels": f.levels,
        }

    def role(self, v: int) -> dict[str, Any] | None:
        """Effective role now (as :func:`graph.roles.role_at`), or None without role data."""
        r = self.roles
        if r is None:
            return None
        source = r.source_names[r.source[v]]
        confidence = float(r.confidence[v])
        return {
            "role": r.role_names[r.role[v]],
            "source": source,
            "inferred": source == "inferred",
            "confidence": None if np.isnan(confidence) else confidence,
            "model_version": r.model_names[r.model[v]],
        }

    def rank_history(self, v: int) -> list[dict[str, Any]]:
        """Rank and score in each recent run that ranked the user, newest first."""
        out = []
        for h in self.history:
            if v < h.rank.shape[0] and h.rank[v] > 0:
                out.append(
                    {
                        "run_id": h.run.run_id,
                        "created_at": h.run.created_at,
                        "rank": int(h.rank[v]),
                        "score": float(h.score[v]),
                    }
                )
        return out


def _codes(column: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, list[Any]]:
    encoded = pc.dictionary_encode(column)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    names = encoded.dictionary.to_pylist() + [None]  # the last code stands for null
    codes = encoded.indices.fill_null(len(names) - 1).to_numpy(zero_copy_only=False)
    return np.asarray(codes, dtype=np.int32), names


def _roles(store: GraphStore, ids: pa.Array, now: datetime) -> tuple[_Roles | None, float]:
    if not store.tables.holds_graph:  # role history joins the graph's users in SQL
        return None, _NO_END
    from graph.roles import next_role_change, role_at

    conn = store.tables.cursor().conn
    table = role_at(conn, ids, now)
    role, role_names = _codes(table.column("role"))
    source, source_names = _codes(table.column("source"))
    model, model_names = _codes(table.column("model_version"))
    confidence = table.column("confidence").to_numpy(zero_copy_only=False)
    change = next_role_change(conn, now)
    roles = _Roles(
        role=role,
        source=source,
        model=model,
        confidence=np.asarray(confidence, dtype=np.float64),
        role_names=role_names,
        source_names=source_names,
        model_names=model_names,
    )
    return roles, _NO_END if change is None else change.timestamp()


def _ranks(store: GraphStore, runs: list[RunRecord], id_set: pa.Array) -> list[_Ranks]:
    """Rank and score arrays of ``runs``, node-aligned (one id lookup for all runs)."""
    tables = [store.read_scores(r.run_id) for r in runs]
    positions = node_indexes(id_set, *(t.column("user_id") for t in tables))
    out = []
    for run, table, pos in zip(runs, tables, positions, strict=True):
        hit = pos >= 0
        rank = np.zeros(len(id_set), dtype=np.int32)
        score = np.zeros(len(id_set), dtype=np.float64)
        rank[pos[hit]] = table.column("rank").to_numpy()[hit]
        score[pos[hit]] = table.column("score").to_numpy()[hit]
        out.append(_Ranks(run, rank, score))
    return out


def build_facts(
    store: GraphStore,
    *,
    levels: int = 3,
    history: int = HISTORY_RUNS,
    reuse: ProfileFacts | None = None,
    now: datetime | None = None,
) -> ProfileFacts:
    """Read the store once and build every user's profile facts.

    Parameters
    ----------
    store : GraphStore
    levels : int
        Referral levels counted.
    history : int
        Recent succeeded runs in the rank history.
    reuse : ProfileFacts, optional
        Earlier facts whose per-run rank arrays are kept (a run's results never
        change, and node indexes only grow).
    now : datetime, optional
        Time of the effective roles (default: now).
    """
    started = time.perf_counter()
    revision = store.revision()  # before reading: a write during the build retags it stale
    now = now or datetime.now(UTC)
    runs = history_runs(store, history)
    ids = store.node_ids()
    n = ids.shape[0]
    id_set = pa.array(ids, pa.string())
    index = dict(zip(ids.tolist(), range(n), strict=True))
    forest = store_forest(store, id_set, levels)
    roles, valid_until = _roles(store, id_set, now)
    old = {h.run.run_id: h for h in (reuse.history if reuse is not None else [])}
    same_nodes = reuse is not None and reuse.ids.shape[0] <= n
    if same_nodes and reuse is not None and reuse.ids.shape[0]:
        last = reuse.ids.shape[0] - 1
        same_nodes = ids[0] == reuse.ids[0] and ids[last] == reuse.ids[last]
    kept = {r.run_id: old[r.run_id] for r in runs if same_nodes and r.run_id in old}
    new = {
        h.run.run_id: h for h in _ranks(store, [r for r in runs if r.run_id not in kept], id_set)
    }
    ranks = [kept.get(r.run_id) or new[r.run_id] for r in runs]
    return ProfileFacts(
        revision=revision,
        run_ids=tuple(r.run_id for r in runs),
        valid_until=valid_until,
        ids=ids,
        index=index,
        forest=forest,
        roles=roles,
        history=ranks,
        build_seconds=round(time.perf_counter() - started, 3),
    )


class FactsCache:
    """The current :class:`ProfileFacts` of one store, rebuilt in the background.

    Parameters
    ----------
    max_stale_s : float
        Seconds previous facts are still served after a change was noticed, while
        the rebuild runs (0: never; callers query the store instead).
    levels, history : int
        As for :func:`build_facts`.
    clock : callable
        Epoch seconds (tests pass a fake clock).
    """

    def __init__(
        self,
        max_stale_s: float = 30.0,
        *,
        levels: int = 3,
        history: int = HISTORY_RUNS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.max_stale_s = float(max_stale_s)
        self.levels = levels
        self.history = history
        self._clock = clock
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="koc-facts")
        self._facts: ProfileFacts | None = None
        self._building: Future[ProfileFacts | None] | None = None
        self._checked_at = -_NO_END
        self._key: tuple[int, tuple[str, ...]] | None = None
        self._stale_since: float | None = None
        self._next_build_at = -_NO_END
        self.builds = 0
        self.last_error: str | None = None
        #: whether the last :meth:`get` found the facts current
        self.is_current = False

    @property
    def _check_every(self) -> float:
        return 0.0 if self.max_stale_s <= 0 else min(1.0, self.max_stale_s / 2)

    @property
    def latest(self) -> ProfileFacts | None:
        """The most recent facts, current or not."""
        return self._facts

    def invalidate(self) -> None:
        """Re-read the store's revision on the next request (after an in-process write)."""
        with self._lock:
            self._checked_at = -_NO_END

    def get(self, store: GraphStore) -> ProfileFacts | None:
        """Current facts, stale ones within ``max_stale_s``, or None (query the store).

        ``store`` may be a caching wrapper (``api.services.cache.RunCache``): the run list
        comes through it, the bulk reads of a rebuild from the store it wraps.
        """
        now = self._clock()
        facts = self._facts
        if now - self._checked_at >= self._check_every or facts is None:
            runs = tuple(r.run_id for r in history_runs(store, self.history))
            with self._lock:
                self._checked_at, self._key = now, (store.revision(), runs)
        seen = self._key
        current = (
            facts is not None
            and seen is not None
            and (facts.revision, facts.run_ids) == seen
            and now < facts.valid_until
        )
        self.is_current = current
        if current:
            self._stale_since = None
            return facts
        with self._lock:
            if self._stale_since is None:
                self._stale_since = now
            idle = self._building is None or self._building.done()
            if idle and now >= self._next_build_at:
                self._start(store)
        if facts is not None and now - self._stale_since < self.max_stale_s:
            return facts
        return None

    def _start(self, store: GraphStore) -> None:
        bulk = getattr(store, "wrapped", store)
        reuse = self._facts

        def build() -> ProfileFacts | None:
            try:
                facts = build_facts(bulk, levels=self.levels, history=self.history, reuse=reuse)
            except Exception as exc:  # keep serving from the store; retry later
                _log.warning("profile facts rebuild failed, retrying in 30 s: %s", exc)
                with self._lock:
                    self.last_error = f"{type(exc).__name__}: {exc}"
                    self._next_build_at = self._clock() + 30.0
                return None
            with self._lock:
                self._facts = facts
                self.builds += 1
                self.last_error = None
                # under a stream of writes, rebuild at most half of the time
                self._next_build_at = self._clock() + facts.build_seconds
            return facts

        self._building = self._executor.submit(build)

    def wait(self, timeout: float | None = None) -> ProfileFacts | None:
        """Block until a running rebuild ends (tests, warm-up); the facts after it."""
        building = self._building
        if building is not None:
            building.result(timeout=timeout)
        return self._facts

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
