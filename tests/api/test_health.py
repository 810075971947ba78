"""``/healthz`` and ``/readyz``."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from graph.duckdb_store import MIGRATIONS, DuckDBStore
from tests.api.conftest import make_app


def test_healthz_needs_no_store(tmp_path: Path) -> None:
    app = make_app(None, tmp_path)  # type: ignore[arg-type]
    with TestClient(app) as c:
        body = c.get("/healthz").json()
    assert body["status"] == "ok" and body["version"]


def test_readyz_ready_on_current_store(client: TestClient) -> None:
    body = client.get("/readyz").json()
    body.pop("profile_index")
    assert body == {
        "status": "ready",
        "graph_schema": len(MIGRATIONS),
        "api_schema_current": True,
        "read_only": False,
        "warmup": None,  # started cold: only `koc serve` warms up
    }


def test_readyz_starts_and_reports_the_profile_index(
    api_store: DuckDBStore, own_tokens: dict[str, str], tmp_path: Path
) -> None:
    app = make_app(api_store, tmp_path)
    with TestClient(app) as c:
        first = c.get("/readyz").json()["profile_index"]
        assert first["current"] is False and first["users"] is None  # build started
        app.state.facts.wait(30)
        index = c.get("/readyz").json()["profile_index"]
    assert index["current"] is True and index["users"] == 20
    assert index["build_seconds"] >= 0 and index["last_error"] is None


def test_readyz_503_when_api_schema_missing(tmp_path: Path) -> None:
    with DuckDBStore(tmp_path / "bare.duckdb") as bare:  # graph schema only, no key table
        app = make_app(bare, tmp_path)
        with TestClient(app, raise_server_exceptions=False) as c:
            response = c.get("/readyz")
    assert response.status_code == 503
    assert response.json()["code"] == "not_ready"
    assert response.headers["retry-after"]


def test_app_migrates_api_schema_on_first_open(tmp_path: Path) -> None:
    from api.http.app import create_app
    from graph.settings import Settings

    app = create_app(Settings(db_path=tmp_path / "new.duckdb"))
    with TestClient(app) as c:
        assert c.get("/readyz").json()["api_schema_current"] is True
