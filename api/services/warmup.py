"""Start-up warm-up of a server: the latest run and the profile index, loaded before traffic.

A fresh ``koc serve`` answers at once: until the latest run is in memory, a page is
computed from the store (its scores and the previous run's ranks, about a second on a
1M-user store, then kept), a breakdown or a profile is read from the store for the
users asked about. Meanwhile :class:`Warmup` loads, in one background thread:

1. the latest run's results into the run cache (scores, previous run's ranks, the
   pivoted breakdown) and its leaderboard board with every sort order
   (:meth:`api.services.cache.RunCache.warm`);
2. the profile index (:class:`api.services.facts.FactsCache`).

``GET /readyz`` reports ``warming`` until both are done, then ``ready``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from api.services.cache import RunCache
from api.services.facts import FactsCache
from graph.store import GraphStore

__all__ = ["Warmup", "WarmupState"]

_log = logging.getLogger(__name__)


@dataclass
class WarmupState:
    """What a :class:`Warmup` has done: ``status`` (``warming``, ``ready``, ``failed``),
    the step under way, seconds taken and the error of a failed step."""

    status: str = "warming"
    step: str | None = None
    seconds: float | None = None
    error: str | None = None
    steps: dict[str, float] = field(default_factory=dict)


class Warmup:
    """Loads a store's latest run and profile index in a background thread.

    Parameters
    ----------
    store : callable
        Returns the open store (the app's provider; opened on the first call).
    facts : FactsCache
        The app's profile index.
    """

    def __init__(self, store: Callable[[], GraphStore], facts: FactsCache) -> None:
        self._store = store
        self._facts = facts
        self.state = WarmupState()
        self._started = time.perf_counter()
        self._thread = threading.Thread(target=self._run, name="koc-warmup", daemon=True)

    def start(self) -> Warmup:
        """Start warming (returns self)."""
        self._started = time.perf_counter()
        self._thread.start()
        return self

    @property
    def done(self) -> bool:
        return self.state.status != "warming"

    def wait(self, timeout: float | None = None) -> WarmupState:
        """Block until the warm-up ends (tests, benchmarks)."""
        self._thread.join(timeout)
        return self.state

    def _step(self, name: str, work: Callable[[], Any]) -> None:
        self.state.step = name
        began = time.perf_counter()
        work()
        self.state.steps[name] = round(time.perf_counter() - began, 3)

    @staticmethod
    def _warm(store: RunCache, run_id: str) -> None:
        for _ in range(3):  # another run's warm-up may be under way first
            if store.is_warm(run_id):
                return
            store.start_warm(run_id)
            store.wait_warm()
        store.warm(run_id)  # still not (evicted meanwhile): here, once more

    def _run(self) -> None:
        try:
            store = self._store()
            run = store.latest_run("succeeded")
            if run is not None and isinstance(store, RunCache):
                # through the cache's own warming thread: a warm-up that a request
                # started meanwhile is waited for, not repeated
                self._step("latest_run", lambda: self._warm(store, run.run_id))
            self._step("profile_index", lambda: (self._facts.get(store), self._facts.wait()))
            self.state.status = "ready"
        except Exception as exc:  # the API still answers from the store; say why
            _log.warning("warm-up failed: %s", exc)
            self.state.status, self.state.error = "failed", f"{type(exc).__name__}: {exc}"
        finally:
            self.state.step = None
            self.state.seconds = round(time.perf_counter() - self._started, 3)
