"""Authentication and scopes on every endpoint: 401 without a key, 403 outside scope."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from graph.duckdb_store import DuckDBStore
from tests.api.conftest import auth, make_app

#: (method, path, scope needed)
ENDPOINTS = [
    ("GET", "/v1/leaderboard", "read"),
    ("GET", "/v1/users/u01", "read"),
    ("GET", "/v1/users/u01/referrals", "read"),
    ("GET", "/v1/users/u01/reach?hops=1", "read"),
    ("GET", "/v1/roles/consumer", "read"),
    ("GET", "/v1/runs", "read"),
    ("GET", "/v1/runs/r1", "read"),
    ("GET", "/v1/commissions", "finance"),
    ("GET", "/v1/commissions/statements/u01?period=2026-01", "finance"),
    ("POST", "/v1/events", "ingest"),
    ("POST", "/v1/runs", "admin"),
]
SCOPES = ["read", "ingest", "finance", "admin"]


def _call(client: TestClient, method: str, path: str, headers: dict[str, str]) -> int:
    if method == "POST" and path.endswith("/events"):
        return client.post(path, json=[], headers=headers).status_code
    if method == "POST":
        # the slot is taken by the test, so an allowed call stops at 409 without running
        return client.post(path, headers=headers).status_code
    return client.get(path, headers=headers).status_code


@pytest.mark.parametrize(("method", "path", "scope"), ENDPOINTS)
def test_endpoint_without_key_is_401(
    client: TestClient, method: str, path: str, scope: str
) -> None:
    assert _call(client, method, path, {}) == 401


@pytest.mark.parametrize(("method", "path", "scope"), ENDPOINTS)
@pytest.mark.parametrize("held", SCOPES)
def test_endpoint_scope_matrix(
    client: TestClient, tokens: dict[str, str], method: str, path: str, scope: str, held: str
) -> None:
    client.app.state.run_slot.acquire()  # POST /runs must not start real work here
    try:
        status = _call(client, method, path, auth(tokens[held]))
    finally:
        client.app.state.run_slot.release()
    if held == scope or held == "admin":
        assert status not in (401, 403), (held, path, status)
    else:
        assert status == 403, (held, path, status)


def test_forbidden_body_names_missing_scope(client: TestClient, tokens: dict[str, str]) -> None:
    body = client.get("/v1/commissions", headers=auth(tokens["read"])).json()
    assert body["code"] == "forbidden"
    assert body["details"]["required_scope"] == "finance"


@pytest.mark.parametrize(
    "token", ["revoked", "koc_00000000_" + "x" * 43, "garbage", "y" * 500], ids=str.__len__
)
def test_invalid_or_revoked_key_is_401(
    client: TestClient, tokens: dict[str, str], token: str
) -> None:
    value = tokens.get(token, token)
    response = client.get("/v1/leaderboard", headers=auth(value))
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"
    assert response.headers["www-authenticate"] == "Bearer"


def test_bearer_header_is_accepted(client: TestClient, tokens: dict[str, str]) -> None:
    headers = {"Authorization": f"Bearer {tokens['read']}"}
    assert client.get("/v1/leaderboard", headers=headers).status_code == 200


def test_cookie_is_accepted_for_reads_only(client: TestClient, tokens: dict[str, str]) -> None:
    import time

    from api.http.sessions import SESSION_COOKIE

    session = client.app.state.sessions.issue(tokens["admin"].split("_")[1], now=time.time())  # type: ignore[attr-defined]
    client.cookies.set(SESSION_COOKIE, session)
    try:
        assert client.get("/v1/leaderboard").status_code == 200
        assert client.post("/v1/events", json=[]).status_code == 401
        assert client.get("/v1/commissions").status_code == 401
    finally:
        client.cookies.clear()


def test_revocation_seen_after_cache_clear(own_client: TestClient, api_store: DuckDBStore) -> None:
    from api.services.keys import create_key, revoke_key

    key, token = create_key(api_store, "temp", "read")
    assert own_client.get("/v1/leaderboard", headers=auth(token)).status_code == 200
    revoke_key(api_store, key.key_id)
    own_client.app.state.key_cache.clear()
    assert own_client.get("/v1/leaderboard", headers=auth(token)).status_code == 401


def test_cors_off_by_default(client: TestClient, tokens: dict[str, str]) -> None:
    response = client.get(
        "/v1/leaderboard", headers={**auth(tokens["read"]), "Origin": "https://evil.example"}
    )
    assert "access-control-allow-origin" not in response.headers


def test_cors_on_when_configured(
    shared_store: DuckDBStore, tmp_path: Path, tokens: dict[str, str]
) -> None:
    app = make_app(shared_store, tmp_path, api_cors_origins=["https://crm.example"])
    with TestClient(app) as c:
        ok = c.get(
            "/v1/leaderboard", headers={**auth(tokens["read"]), "Origin": "https://crm.example"}
        )
        assert ok.headers["access-control-allow-origin"] == "https://crm.example"
        other = c.get(
            "/v1/leaderboard", headers={**auth(tokens["read"]), "Origin": "https://evil.example"}
        )
        assert "access-control-allow-origin" not in other.headers
