"""Start ``koc serve`` as a real process on a free loopback port (for end-to-end tests)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from graph.duckdb_store import DuckDBStore
from tests.api.conftest import make_tokens, populate

__all__ = ["free_port", "koc_serve", "running_server"]

ROOT = Path(__file__).resolve().parents[2]
#: generous: the CLI imports the whole package, and CI machines may be busy
STARTUP_TIMEOUT_S = 240


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def koc_serve(
    args: list[str], env: dict[str, str] | None = None, *, port: int | None = None
) -> Iterator[str]:
    """Run ``koc [args...] serve --port P --log-level warning`` (``args`` are the global
    options before ``serve`` and the serve options after it, e.g. ``["serve",
    "--private"]``); wait until ``/healthz`` answers; yield the base URL; stop it afterwards.

    ``env`` defaults to this process's environment without ``KOC_*`` settings.
    """
    port = port or free_port()
    koc = Path(sys.executable).with_name("koc")
    cmd = [str(koc), *args, "--port", str(port), "--log-level", "warning"]
    if env is None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KOC_")}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"koc serve exited: {proc.stderr.read().decode()[-3000:]}")  # type: ignore[union-attr]
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"koc serve did not answer within {STARTUP_TIMEOUT_S} s")
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def running_server(
    tmp_path: Path,
    *,
    public: bool = False,
    workers: int = 1,
    fill: Callable[[DuckDBStore], None] = populate,
    env: dict[str, str] | None = None,
) -> Iterator[tuple[str, dict[str, str]]]:
    """A store written by ``fill`` (default: the API tests' fixture) served by ``koc
    serve`` with the settings in ``env`` (``KOC_*`` variables; the test's own are
    dropped); yields the base URL and tokens per scope, and stops the process afterwards."""
    db = tmp_path / "served.duckdb"
    with DuckDBStore(db) as store:
        fill(store)
        tokens = make_tokens(store)
    args = ["--db", str(db), "serve", "--workers", str(workers)]
    environ = {k: v for k, v in os.environ.items() if not k.startswith("KOC_")}
    with koc_serve(
        [*args, "--public" if public else "--private"], {**environ, **(env or {})}
    ) as base:
        yield base, tokens
