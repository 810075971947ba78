"""Run a ``koc`` command inside the process that serves the store (``koc serve``).

DuckDB lets one process open a file for writing, and no other process may open
it at all meanwhile, not even to read (https://duckdb.org/docs/current/connect/concurrency).
Inside that process, though, every connection shares one database instance with
multi-version concurrency control, so a command run there on its own connection
works beside the server's requests. :func:`run_captured` does that for a command
line sent by a ``koc`` client (:mod:`api.cli._server_link`):

* its output goes to the client: ``sys.stdout`` and ``sys.stderr`` are replaced
  once by :class:`ThreadRouter`, which writes to the real stream except in a
  thread that has a target set;
* standard input reads as empty, so a confirmation prompt aborts (use ``--yes``)
  instead of reading the server's terminal;
* relative paths on the command line are read from the client's working
  directory (:class:`CwdPath`, set on every path parameter by the ``koc`` group).
"""

from __future__ import annotations

import io
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from api.cli._cwd import CwdPath, client_cwd

__all__ = ["ThreadRouter", "CwdPath", "CommandRunner", "run_captured", "client_cwd"]


class ThreadRouter(io.TextIOBase):
    """A text stream that writes to a per-thread target, else to ``default``."""

    def __init__(self, default: Any) -> None:
        self._default = default
        self._local = threading.local()

    def _target(self) -> Any:
        return getattr(self._local, "target", None) or self._default

    @contextmanager
    def redirect(self, target: Any) -> Iterator[None]:
        """Send this thread's writes (and reads) to ``target`` inside the block."""
        self._local.target = target
        try:
            yield
        finally:
            self._local.target = None

    def write(self, text: str) -> int:
        return self._target().write(text)

    def read(self, size: int | None = -1) -> str:
        return self._target().read(size)

    def readline(self, size: int | None = -1) -> str:  # type: ignore[override]
        return self._target().readline(size)

    def flush(self) -> None:
        self._target().flush()

    def isatty(self) -> bool:
        return bool(self._target().isatty())

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True

    def fileno(self) -> int:
        return int(self._target().fileno())

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._target(), "encoding", None) or "utf-8"

    @property
    def buffer(self) -> Any:
        """The target's binary side (``sys.stdout.buffer.write(bytes)``)."""
        return self._target().buffer

    @property
    def errors(self) -> str:  # type: ignore[override]
        return "strict"


class _Sink(io.TextIOBase):
    """A write-only text stream handing every write to ``emit`` (never a terminal)."""

    def __init__(self, emit: Callable[[str], None]) -> None:
        self._emit = emit

    def write(self, text: str | bytes) -> int:  # type: ignore[override]
        if isinstance(text, bytes):  # click writes bytes to a stream's binary side
            text = text.decode("utf-8", "replace")
        if text:
            self._emit(text)
        return len(text)

    def isatty(self) -> bool:
        return False

    def writable(self) -> bool:
        return True

    @property
    def buffer(self) -> _Sink:
        return self  # write() takes bytes too

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"


_install_lock = threading.Lock()


def _routers() -> tuple[ThreadRouter, ThreadRouter, ThreadRouter]:
    """Install the stdout / stderr / stdin routers once per process and return them."""
    with _install_lock:
        if not isinstance(sys.stdout, ThreadRouter):
            sys.stdout = ThreadRouter(sys.stdout)
        if not isinstance(sys.stderr, ThreadRouter):
            sys.stderr = ThreadRouter(sys.stderr)
        if not isinstance(sys.stdin, ThreadRouter):
            sys.stdin = ThreadRouter(sys.stdin)
    return sys.stdout, sys.stderr, sys.stdin  # type: ignore[return-value]


def run_captured(
    argv: list[str],
    *,
    cwd: Path,
    obj: Any,
    out: Callable[[str], None],
    err: Callable[[str], None],
) -> int:
    """Run ``koc ARGV`` in this thread, its output to ``out`` / ``err``; return the exit status.

    Parameters
    ----------
    argv : list of str
        The command line after ``koc``.
    cwd : Path
        The client's working directory; relative path arguments are read from it.
    obj : CliContext
        The context the command runs with (the server's settings and store).
    out, err : callable
        Receive the command's standard output and error text as it is written.
    """
    from api.cli import run

    stdout, stderr, stdin = _routers()
    token = client_cwd.set(cwd)
    try:
        with (
            stdout.redirect(_Sink(out)),
            stderr.redirect(_Sink(err)),
            stdin.redirect(io.StringIO("")),
        ):
            return run(argv, obj=obj)
    finally:
        client_cwd.reset(token)


class CommandRunner:
    """Runs forwarded ``koc`` commands with the server's settings (a ``LocalCommands``).

    Parameters
    ----------
    settings : Settings
        The server's settings: the command uses the same store.
    token : str
        The token of the server's link file.
    write_lock : context manager, optional
        Held while a command runs: the server's store write lock (set by the server),
        so a command's writes and the server's never race in one DuckDB database
        (they would abort each other's transactions). Commands run one at a time.
    """

    def __init__(self, settings: Any, *, token: str, write_lock: Any = None) -> None:
        self.settings, self.token = settings, token
        self.write_lock = write_lock if write_lock is not None else threading.RLock()

    def run(
        self, argv: list[str], cwd: Path, out: Callable[[str], None], err: Callable[[str], None]
    ) -> int:
        """Run ``koc ARGV`` for a client in ``cwd``; see :func:`run_captured`."""
        from api.cli.context import CliContext

        with self.write_lock:
            return run_captured(
                argv, cwd=cwd, obj=CliContext.for_server(self.settings), out=out, err=err
            )
