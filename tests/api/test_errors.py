"""The one error format, and that no internal detail reaches a client."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from api.http.deps import get_store
from graph.duckdb_store import DuckDBStore
from graph.errors import StoreError
from tests.api.conftest import auth, make_app


def _is_error(body: dict, code: str) -> None:
    assert set(body) == {"code", "message", "details"}
    assert body["code"] == code and body["message"]


def test_unknown_route_is_404_in_error_format(client: TestClient) -> None:
    response = client.get("/v1/nope")
    assert response.status_code == 404
    _is_error(response.json(), "not_found")


def test_method_not_allowed_in_error_format(client: TestClient, tokens: dict[str, str]) -> None:
    response = client.delete("/v1/leaderboard", headers=auth(tokens["read"]))
    assert response.status_code == 405
    _is_error(response.json(), "method_not_allowed")


def test_validation_error_lists_fields(client: TestClient, tokens: dict[str, str]) -> None:
    response = client.get("/v1/leaderboard?limit=100000&community=-1", headers=auth(tokens["read"]))
    assert response.status_code == 422
    body = response.json()
    _is_error(body, "validation_error")
    assert {d["field"] for d in body["details"]} == {"query.limit", "query.community"}
    assert all(d["message"] and d["type"] for d in body["details"])


def test_unexpected_exception_is_generic_500(
    shared_store: DuckDBStore, tmp_path: Path, tokens: dict[str, str], caplog
) -> None:  # noqa: ANN001
    app = make_app(shared_store, tmp_path)

    @app.get("/v1/boom")
    def boom() -> None:
        raise RuntimeError(f"secret internals at {tmp_path}")

    with TestClient(app, raise_server_exceptions=False) as c:
        response = c.get("/v1/boom")
    assert response.status_code == 500
    _is_error(response.json(), "internal_error")
    assert str(tmp_path) not in response.text and "Traceback" not in response.text
    assert "secret internals" in caplog.text  # logged server-side


def test_store_error_hides_server_paths(tmp_path: Path, tokens: dict[str, str]) -> None:
    secret = str(tmp_path / "hidden" / "koc.duckdb")

    def broken() -> DuckDBStore:
        raise StoreError(f"Cannot open the embedded store {secret}", path=secret)

    app = make_app(None, tmp_path)  # type: ignore[arg-type]
    app.dependency_overrides[get_store] = broken
    with TestClient(app, raise_server_exceptions=False) as c:
        response = c.get("/v1/leaderboard", headers=auth(tokens["read"]))
        ready = c.get("/readyz")
    assert response.status_code == 503 and ready.status_code == 503
    _is_error(response.json(), "store_error")
    assert secret not in response.text and secret not in ready.text
    assert response.headers["retry-after"]


def test_not_found_names_the_id(client: TestClient, tokens: dict[str, str]) -> None:
    body = client.get("/v1/runs/nope", headers=auth(tokens["read"])).json()
    _is_error(body, "not_found")
    assert "nope" in body["message"]
