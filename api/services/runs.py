"""Ranking runs started over HTTP: one at a time per store, in a background thread.

``POST /v1/runs`` calls :func:`start_run`, which takes the app's
:class:`RunSlot` (409 when a run is already going), starts
:func:`api.services.ranking.run_ranking` in a thread and returns
as soon as the run is saved as ``running``, so the client gets its id and polls
``GET /v1/runs/{id}``. The thread stores the run; the ranking itself is computed
in a child process (:func:`api.services.ranking_process.compute_in_child`), so
the server's readers keep its GIL (issue 14 M8).
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import Any

from api.services import ranking
from api.services.ranking_process import compute_in_child
from graph.errors import ConflictError, KocError
from graph.store import GraphStore, RunRecord

__all__ = ["START_TIMEOUT_S", "RunSlot", "start_run", "run_status"]

log = logging.getLogger("koc.api")

#: Seconds to wait for a started run to be saved as ``running``.
START_TIMEOUT_S = 30.0


class RunSlot:
    """At most one ranking run per store and process: a lock plus the id being run."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.run_id: str | None = None
        self.progress: dict[str, Any] | None = None

    def acquire(self) -> bool:
        return self._lock.acquire(blocking=False)

    def release(self) -> None:
        self.run_id, self.progress = None, None
        self._lock.release()

    @property
    def busy(self) -> bool:
        return self._lock.locked()


def start_run(
    store: GraphStore,
    slot: RunSlot,
    *,
    config: Any = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> RunRecord:
    """Start a ranking run in the background and return its ``running`` record.

    Raises
    ------
    ConflictError
        Another run of this server is in progress.
    KocError
        The run failed before it started (e.g. an invalid scoring config).
    """
    if not slot.acquire():
        raise ConflictError(
            f"A ranking run is already in progress ({slot.run_id or 'starting'}); "
            "poll GET /v1/runs/{id} and start another when it has finished.",
            run_id=slot.run_id,
        )
    started = threading.Event()
    outcome: dict[str, Any] = {}

    def progress(step: str, done: int, total: int) -> None:
        if not started.is_set():
            run = store.latest_run("running")
            outcome["run"] = run
            slot.run_id = run.run_id if run else None
            started.set()
        slot.progress = {"step": step, "done": done, "total": total}

    def target() -> None:
        try:
            outcome["run"] = ranking.run_ranking(
                store, config, start=start, end=end, progress=progress, compute=compute_in_child
            )
        except KocError as exc:
            outcome["error"] = exc
            log.warning("ranking run failed: %s", exc.message)
        except Exception as exc:  # logged server-side; the run is stored as failed
            outcome["error"] = exc
            log.exception("ranking run failed")
        finally:
            slot.release()
            started.set()

    threading.Thread(target=target, name="koc-ranking-run", daemon=True).start()
    started.wait(START_TIMEOUT_S)
    run = outcome.get("run")
    if run is None:
        error = outcome.get("error")
        if isinstance(error, KocError):
            raise error
        raise ConflictError("The ranking run did not start; see the server log.")
    return run


def run_status(store: GraphStore, slot: RunSlot, run_id: str) -> dict[str, Any]:
    """A stored run, with live progress while this server is running it."""
    run = store.get_run(run_id)
    live = slot.progress if slot.run_id == run_id and run.status == "running" else None
    return {**run.__dict__, "progress": live}
