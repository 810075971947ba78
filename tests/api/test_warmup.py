"""Start-up warm-up: ``/readyz`` says ``warming`` until the latest run and the profile
index are loaded, then ``ready``; requests are answered meanwhile."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
from fastapi.testclient import TestClient

from api.services.cache import RunCache
from api.services.leaderboard import prepare_board
from api.services.warmup import Warmup
from graph.duckdb_store import DuckDBStore
from tests.api.conftest import auth, make_app
from tests.api.server import running_server


def test_readyz_warming_until_warmup_done(
    api_store: DuckDBStore, own_tokens: dict[str, str], tmp_path: Path
) -> None:
    app = make_app(api_store, tmp_path)
    release = threading.Event()
    cached = RunCache(api_store, on_warm=prepare_board)

    def slow_store() -> RunCache:
        release.wait(30)
        return cached

    with TestClient(app) as c:
        app.state.warmup = Warmup(slow_store, app.state.facts).start()  # type: ignore[arg-type]
        body = c.get("/readyz").json()
        assert body["status"] == "warming" and body["warmup"]["status"] == "warming"
        page = c.get("/v1/leaderboard?limit=3", headers=auth(own_tokens["read"]))
        assert page.status_code == 200  # answered while warming
        release.set()
        state = app.state.warmup.wait(60)
        body = c.get("/readyz").json()
        cached.close()
    assert state.status == "ready" and state.error is None
    assert body["status"] == "ready" and body["warmup"]["status"] == "ready"
    assert set(body["warmup"]["steps"]) == {"latest_run", "profile_index"}
    assert body["profile_index"]["current"] is True and body["profile_index"]["users"] == 20
    assert cached.is_warm("r2")


def test_readyz_failed_warmup_is_ready_with_the_error(
    api_store: DuckDBStore, own_tokens: dict[str, str], tmp_path: Path
) -> None:
    app = make_app(api_store, tmp_path)

    def broken() -> RunCache:
        raise OSError("disk gone")

    with TestClient(app) as c:
        app.state.warmup = Warmup(broken, app.state.facts).start()  # type: ignore[arg-type]
        app.state.warmup.wait(30)
        body = c.get("/readyz").json()
    assert body["status"] == "ready"  # it serves from the store: not a reason to refuse
    assert body["warmup"]["status"] == "failed" and "disk gone" in body["warmup"]["error"]


def test_serve_warms_latest_run_at_start(tmp_path: Path) -> None:
    with running_server(tmp_path) as (base, tokens):
        first = httpx.get(f"{base}/v1/leaderboard?limit=3", headers=auth(tokens["read"]))
        assert first.status_code == 200 and first.json()["run_id"] == "r2"
        seen, deadline = [], time.monotonic() + 120
        while time.monotonic() < deadline:
            body = httpx.get(f"{base}/readyz", timeout=30).json()
            seen.append(body["status"])
            if body["status"] == "ready":
                break
            time.sleep(0.05)
    assert set(seen) <= {"warming", "ready"} and seen[-1] == "ready"
    assert body["warmup"]["status"] == "ready"
    assert set(body["warmup"]["steps"]) == {"latest_run", "profile_index"}
    assert body["profile_index"]["current"] is True
