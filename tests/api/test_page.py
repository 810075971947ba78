"""The server-rendered leaderboard page: access rules, filters, sign-in."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from graph.duckdb_store import DuckDBStore
from tests.api.conftest import auth, make_app


def _users(html: str) -> list[str]:
    return re.findall(r'<tr data-user="([^"]+)">', html)


def test_page_private_redirects_to_login(client: TestClient) -> None:
    response = client.get("/", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"


def test_page_with_read_key_header(client: TestClient, tokens: dict[str, str]) -> None:
    response = client.get("/?limit=3", headers=auth(tokens["read"]))
    assert response.status_code == 200
    assert _users(response.text) == ["u02", "u03", "u06"]
    assert 'href="/v1/users/u02"' in response.text and 'href="/docs"' in response.text


def test_page_filters(client: TestClient, tokens: dict[str, str]) -> None:
    kol = client.get("/?role=kol", headers=auth(tokens["read"])).text
    assert _users(kol) == ["u01", "u05", "u09", "u13", "u17"]
    group = client.get("/?community=0", headers=auth(tokens["read"])).text
    assert _users(group) == ["u03", "u06", "u15", "u18"]


def test_page_next_link_pages(client: TestClient, tokens: dict[str, str]) -> None:
    first = client.get("/?limit=4", headers=auth(tokens["read"])).text
    link = re.search(r'<a href="(/\?[^"]+)">Next', first).group(1).replace("&amp;", "&")
    assert _users(client.get(link, headers=auth(tokens["read"])).text) == [
        "u10",
        "u11",
        "u14",
        "u15",
    ]


def test_page_public_when_configured(shared_store: DuckDBStore, tmp_path: Path) -> None:
    with TestClient(make_app(shared_store, tmp_path, api_public_leaderboard=True)) as c:
        response = c.get("/?limit=2")
    assert response.status_code == 200 and _users(response.text) == ["u02", "u03"]


def test_page_login_sets_cookie(client: TestClient, tokens: dict[str, str]) -> None:
    bad = client.post("/login", data={"key": "nope"}, follow_redirects=False)
    assert bad.status_code == 401 and "unknown or revoked" in bad.text
    ok = client.post("/login", data={"key": tokens["read"]}, follow_redirects=False)
    assert ok.status_code == 303
    cookie = ok.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert _users(client.get("/?limit=1").text) == ["u02"]
    out = client.get("/logout", follow_redirects=False)
    assert out.status_code == 303


def test_page_escapes_input(client: TestClient, tokens: dict[str, str]) -> None:
    response = client.get("/?role=<script>alert(1)</script>", headers=auth(tokens["read"]))
    assert "<script>alert" not in response.text
