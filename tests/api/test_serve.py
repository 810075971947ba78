"""``koc serve`` as a real process, over HTTP on loopback (httpx)."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from api.http.app import create_app
from graph.duckdb_store import DuckDBStore
from graph.settings import Settings
from tests.api.conftest import make_tokens, populate


@pytest.mark.slow
def test_koc_serve_answers_over_http(live_server: tuple[str, dict[str, str]]) -> None:
    base, tokens = live_server
    assert httpx.get(f"{base}/healthz").json()["status"] == "ok"
    # /readyz answers "warming" while the run cache loads in the background, then "ready"
    deadline = time.monotonic() + 120
    status = httpx.get(f"{base}/readyz").json()["status"]
    while status == "warming" and time.monotonic() < deadline:
        time.sleep(0.2)
        status = httpx.get(f"{base}/readyz").json()["status"]
    assert status == "ready"
    assert httpx.get(f"{base}/v1/leaderboard").status_code == 401  # the page is public, the API not
    headers = {"X-API-Key": tokens["read"]}
    board = httpx.get(f"{base}/v1/leaderboard?limit=2", headers=headers).json()
    assert [r["user_id"] for r in board["data"]] == ["u02", "u03"]
    assert httpx.get(f"{base}/v1/users/u01", headers=headers).json()["rank"] == 1
    assert "/v1/leaderboard" in httpx.get(f"{base}/openapi.json").json()["paths"]
    assert httpx.get(f"{base}/docs").status_code == 200
    ingest = httpx.post(
        f"{base}/v1/events",
        json=[{"type": "user", "user_id": "live1"}],
        headers={"X-API-Key": tokens["ingest"]},
    )
    assert ingest.json()["inserted"] == 1


def test_read_only_worker_app_serves_reads_refuses_writes(tmp_path: Path) -> None:
    """What each of several workers runs: the store opened read-only, writes refused."""
    db = tmp_path / "ro.duckdb"
    with DuckDBStore(db) as store:
        populate(store)
        tokens = make_tokens(store)
    app = create_app(Settings(db_path=db, api_workers=2))
    with TestClient(app, raise_server_exceptions=False) as c:
        headers = {"X-API-Key": tokens["admin"]}
        board = c.get("/v1/leaderboard?limit=2", headers=headers)
        assert [r["user_id"] for r in board.json()["data"]] == ["u02", "u03"]
        assert c.get("/readyz").json()["read_only"] is True
        post = c.post("/v1/events", json=[], headers=headers)
        assert post.status_code == 503 and post.json()["code"] == "read_only"
        assert c.post("/v1/runs", headers=headers).json()["code"] == "read_only"
    assert app.state.store_provider.read_only
