"""How a ``koc`` command reaches the ``koc serve`` that holds its store.

While ``koc serve`` (one worker) has the embedded store open, no other process
can open that DuckDB file. The server therefore publishes a *link file* next to
the store, ``<store>.serve.json`` (mode 0600: only the user who may open the
store may read it), holding its process id, its URL and a random token. A
``koc`` command whose store has a live link file sends its command line to the
server instead (``POST /_koc/cli`` with the token), which runs it in-process on
the same database (:mod:`api.cli._inprocess`) and streams the output back.
The link file is removed when the server stops; one left by a killed server is
ignored (its process is gone) and replaced by the next ``koc serve``.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from api.services.local_commands import CLI_PATH, TOKEN_HEADER
from graph.errors import StoreError
from graph.settings import Settings, get_settings

__all__ = [
    "ServerLink",
    "LOCAL_COMMANDS",
    "link_path",
    "store_file",
    "publish",
    "find_link",
    "link_for_argv",
    "forward",
]

#: commands that never go through a running server (they do not use the store)
LOCAL_COMMANDS = frozenset({"serve", "synth", "config"})
_VALUE_OPTIONS = {"--db", "--store"}
#: how long a client waits for a server that published its link but does not listen yet
_START_WAIT_S = 15.0


@dataclass(frozen=True)
class ServerLink:
    """A running ``koc serve``: where it listens and the token it accepts."""

    url: str
    token: str
    pid: int
    store: str


def store_file(settings: Settings) -> Path:
    """The local DuckDB file a store locks: the store itself, or a Neo4j store's ledger."""
    if settings.store == "neo4j":
        return Path(settings.ledger_path or "data/ledger.duckdb")
    return Path(settings.db_path)


def link_path(store: Path) -> Path:
    """The link file of ``store`` (``data/koc.duckdb`` -> ``data/koc.duckdb.serve.json``)."""
    return store.with_name(store.name + ".serve.json")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


@contextmanager
def publish(store: Path, host: str, port: int) -> Iterator[ServerLink]:
    """Write the link file of ``store`` for this process; remove it afterwards."""
    if host in {"0.0.0.0", ""}:
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    link = ServerLink(
        url=f"http://{netloc}",
        token=secrets.token_urlsafe(32),
        pid=os.getpid(),
        store=str(store.resolve()),
    )
    path = link_path(store)
    running = find_link(store)
    if running is not None:
        raise StoreError(
            f"koc serve (pid {running.pid}, {running.url}) already serves {store}; stop it "
            "first, or serve another store with --db.",
            path=str(store),
        )
    if threading.current_thread() is threading.main_thread():
        # uvicorn re-raises SIGTERM after its graceful shutdown: exit normally, so that
        # the link file below is removed
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(link.__dict__, fh)
    try:
        yield link
    finally:
        try:
            if json.loads(path.read_text(encoding="utf-8")).get("token") == link.token:
                path.unlink()  # still ours (not replaced by a newer server)
        except (OSError, ValueError):
            pass


def find_link(store: Path) -> ServerLink | None:
    """The live server holding ``store``, or None (no link file, or its process is gone)."""
    path = link_path(store)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        link = ServerLink(
            url=str(data["url"]),
            token=str(data["token"]),
            pid=int(data["pid"]),
            store=str(data["store"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if link.pid == os.getpid() or not _alive(link.pid):
        return None
    return link


def _scan(argv: list[str]) -> tuple[str | None, dict[str, str]]:
    """The subcommand of ``argv`` and the values of ``--db`` / ``--store`` anywhere in it."""
    command: str | None = None
    values: dict[str, str] = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        name, eq, value = arg.partition("=")
        if name in _VALUE_OPTIONS:
            if eq:
                values[name] = value
            elif i + 1 < len(argv):
                values[name] = argv[i + 1]
                i += 1
        elif command is None and not arg.startswith("-"):
            command = arg
        i += 1
    return command, values


def link_for_argv(argv: list[str]) -> ServerLink | None:
    """The server a ``koc`` command line should go through, or None to run it here.

    None for help and version requests, for commands that do not use the store
    (:data:`LOCAL_COMMANDS`), and when no live server holds the store.
    """
    if any(a in {"-h", "--help", "--version"} for a in argv):
        return None
    command, values = _scan(argv)
    if command is None or command in LOCAL_COMMANDS:
        return None
    try:
        settings = get_settings(
            db_path=Path(values["--db"]) if "--db" in values else None,
            store=values.get("--store"),
        )
    except Exception:  # noqa: BLE001 - the command itself reports bad settings
        return None
    return find_link(store_file(settings))


def _open(request: urllib.request.Request) -> Any:
    """Send ``request``; a server still starting (connection refused) gets a few seconds."""
    deadline = time.monotonic() + _START_WAIT_S
    while True:
        try:
            return urllib.request.urlopen(request, timeout=60)  # noqa: S310 - the server's own URL
        except urllib.error.URLError as exc:
            if not isinstance(exc.reason, ConnectionRefusedError) or time.monotonic() > deadline:
                raise
            time.sleep(0.25)


def forward(link: ServerLink, argv: list[str], cwd: Path) -> int:
    """Run ``koc ARGV`` in the server of ``link``, printing its output; return its status.

    Raises
    ------
    StoreError
        The server does not answer or refuses the token.
    """
    body = json.dumps({"argv": argv, "cwd": str(cwd)}).encode("utf-8")
    request = urllib.request.Request(
        link.url + CLI_PATH,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", TOKEN_HEADER: link.token},
    )
    print(f"(running through koc serve at {link.url}, pid {link.pid})", file=sys.stderr)
    try:
        with _open(request) as response:
            status = 1
            for line in response:
                message = json.loads(line)
                if "out" in message:
                    sys.stdout.write(message["out"])
                    sys.stdout.flush()
                elif "err" in message:
                    sys.stderr.write(message["err"])
                    sys.stderr.flush()
                elif "exit" in message:  # (any other line is a keep-alive)
                    status = int(message["exit"])
            return status
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise StoreError(
            f"koc serve (pid {link.pid}) holds the store {link.store} but did not run the "
            f"command at {link.url}: {exc}. Stop the server, or remove "
            f"{link_path(Path(link.store))} if no server runs.",
            path=link.store,
        ) from exc
