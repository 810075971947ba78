"""A ranking computed in a child process, reading the store through its parent.

``koc serve`` holds the DuckDB file read-write in one process, whose GIL its
request threads share. A ranking run computed in a thread of that process takes
the GIL for seconds at a time (snapshot building, score tables), and readers wait:
``GET /v1/users/{id}`` p99 reached 9-10 s during runs (issue 14 M8). So the run
of ``POST /v1/runs`` computes in a child process (``spawn``: nothing of the
parent's DuckDB state is inherited) and the parent's run thread only serves it.

DuckDB lets one process open the file read-write and no other process open it
at all, so the child cannot read the store itself. It runs the very same
:func:`api.services.ranking.compute_ranking` over a :class:`_StoreClient`, whose
read methods send ``(name, args, kwargs)`` over a pipe; the parent's run thread
calls that method of the real store and sends the result back. The child thus
reads exactly what an in-thread run reads, in the same order, so the ranking is
identical by construction. Only the reads in :data:`READS` are served; the
parent refuses anything else.

The messages, child to parent: ``("call", name, args, kwargs)`` (answered by the
value), ``("progress", step, done, total)``, ``("done", scores, components,
timings, row_counts)`` or ``("error", module, name, message, context,
traceback)``. The child lowers its priority (:data:`CHILD_NICE`), so on a busy
machine the server's request threads get the CPU first. The parent waits on the
pipe (the GIL released); a child that dies
(killed, out of memory) closes the pipe and the run fails with its exit code.
The run's lifecycle stays with the parent: ``run_ranking(store, ...,
compute=compute_in_child)`` stores it through
:func:`api.services.ranking.record_run` exactly as ``koc rank`` does.
"""

from __future__ import annotations

import builtins
import importlib
import logging
import multiprocessing as mp
import os
import traceback
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing.connection import Connection
from typing import Any, cast

import pyarrow as pa

from api.services.ranking import STEPS, Progress, compute_ranking
from api.services.roles import node_roles
from graph.errors import KocError, ScoringError, StoreError
from graph.store import GraphStore
from influence.config import ScoreConfig

__all__ = ["READS", "CHILD_NICE", "ComputedRanking", "compute_in_child"]

log = logging.getLogger("koc.api")

#: Store reads the child may ask for (``node_roles``: :func:`api.services.roles.node_roles`).
READS = frozenset(
    {
        "watermark",
        "node_ids",
        "read_edges",
        "read_events",
        "read_spend",
        "latest_run",
        "read_scores",
        "node_roles",
    }
)

#: Niceness the child adds to its own (batch work: the server's readers go first on a busy CPU).
CHILD_NICE = 10

#: Seconds to wait for a child to exit after its last message before killing it.
_JOIN_TIMEOUT_S = 10.0


@dataclass
class ComputedRanking:
    """A ranking's tables as the child built them (what :func:`record_run` stores)."""

    scores: pa.Table
    components: pa.Table
    timings: dict[str, float] = field(default_factory=dict)
    row_counts: dict[str, int] = field(default_factory=dict)

    def tables(self) -> tuple[pa.Table, pa.Table]:
        """The run's ``scores`` and ``components`` tables."""
        return self.scores, self.components


class _StoreClient:
    """The parent's store, seen from the child: each read is a round trip over ``conn``."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        self._conn.send(("call", name, args, kwargs))
        return self._conn.recv()

    def __getattr__(self, name: str) -> Any:
        if name not in READS:
            raise AttributeError(f"the ranking process reads no {name!r} from its store")
        return lambda *args, **kwargs: self._call(name, *args, **kwargs)


def _child_main(
    conn: Connection, config: ScoreConfig, start: datetime | None, end: datetime | None
) -> None:
    """Entry point of the child: compute the ranking, send its tables (or the error)."""
    os.nice(CHILD_NICE)
    client = _StoreClient(conn)
    try:
        ranking = compute_ranking(
            cast(GraphStore, client),
            config,
            start=start,
            end=end,
            progress=lambda step, done, total: conn.send(("progress", step, done, total)),
            read_roles=lambda ids: client._call("node_roles", ids),
        )
        scores, components = ranking.tables()
        conn.send(("done", scores, components, ranking.timings, ranking.row_counts))
    except (EOFError, BrokenPipeError):  # the parent is gone: nobody to tell
        return
    except BaseException as exc:  # reported to the parent, which fails the run
        context = exc.context if isinstance(exc, KocError) else {}
        conn.send(
            (
                "error",
                type(exc).__module__,
                type(exc).__qualname__,
                str(exc),
                context,
                traceback.format_exc(),
            )
        )
    finally:
        conn.close()


def _serve(store: GraphStore, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """One read of the child, on the real store."""
    if name not in READS:
        raise StoreError(f"The ranking process asked for {name!r}, which is not a store read.")
    if name == "node_roles":
        return node_roles(store, *args, **kwargs)
    return getattr(store, name)(*args, **kwargs)


def _rebuild_error(module: str, name: str, message: str, context: dict[str, Any]) -> BaseException:
    """The child's exception as the same class where that is safe (KocError, builtins)."""
    try:
        cls = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        cls = None
    if isinstance(cls, type) and issubclass(cls, KocError):
        exc = cls.__new__(cls)
        Exception.__init__(exc, message)
        exc.message, exc.context = message, context
        return exc
    if module == builtins.__name__ and isinstance(cls, type) and issubclass(cls, Exception):
        try:
            return cast(BaseException, cls(message))
        except TypeError:
            pass
    return ScoringError(f"{name}: {message}")


def compute_in_child(
    store: GraphStore,
    config: ScoreConfig,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    progress: Progress | None = None,
) -> ComputedRanking:
    """:func:`api.services.ranking.compute_ranking` in a child process, reading ``store``.

    The calling thread serves the child's store reads and waits on the pipe in
    between (the GIL released), so other threads of this process keep running.

    Parameters
    ----------
    store, config, start, end, progress
        As for :func:`api.services.ranking.compute_ranking` (``progress`` is called
        in this thread as the child reports its steps).

    Returns
    -------
    ComputedRanking

    Raises
    ------
    KocError
        What the child raised (e.g. :class:`graph.errors.ScoringError` for an empty
        window), with its message; other exceptions keep their builtin class, or
        become a ScoringError naming it.
    ScoringError
        The child stopped without an answer (killed, out of memory).

    Notes
    -----
    The child is started with ``spawn``, which imports the program's main module
    again: it must keep its work under ``if __name__ == "__main__"`` (``koc``,
    uvicorn and pytest do).
    """
    ctx = mp.get_context("spawn")
    conn, child_conn = ctx.Pipe()
    proc = ctx.Process(
        target=_child_main,
        args=(child_conn, config, start, end),
        name="koc-ranking",
        daemon=True,
    )
    proc.start()
    child_conn.close()
    last: tuple[Any, ...] = (STEPS[0], 0, len(STEPS))
    if progress is not None:  # the first step at once: the child takes seconds to import
        progress(*last)
    try:
        while True:
            try:
                message = conn.recv()
            except EOFError:
                proc.join(_JOIN_TIMEOUT_S)
                raise ScoringError(
                    f"The ranking process {proc.pid} stopped before it finished (exit code "
                    f"{proc.exitcode}; killed, or out of memory?); start the run again.",
                    pid=proc.pid,
                    exit_code=proc.exitcode,
                ) from None
            kind = message[0]
            if kind == "call":
                conn.send(_serve(store, *message[1:]))
            elif kind == "progress":
                if progress is not None and message[1:] != last:  # not the first step twice
                    progress(*message[1:])
                last = message[1:]
            elif kind == "done":
                scores, components, timings, row_counts = message[1:]
                return ComputedRanking(scores, components, timings, row_counts)
            else:  # "error"
                module, name, text, context, trace = message[1:]
                log.info("ranking process %s failed:\n%s", proc.pid, trace)
                raise _rebuild_error(module, name, text, context)
    finally:
        conn.close()
        proc.join(_JOIN_TIMEOUT_S)
        if proc.is_alive():
            proc.kill()
            proc.join()
