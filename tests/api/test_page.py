"""The server-rendered leaderboard page: access rules, filters, sign-in."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from graph.duckdb_store import DuckDBStore
from tests.api.conftest import auth, hidden_fields, make_app, sign_in


def _users(html: str) -> list[str]:
    return re.findall(r'<tr data-user="([^"]+)">', html)


def test_page_private_redirects_to_login(client: TestClient) -> None:
    response = client.get("/", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"


def test_page_with_read_key_header(client: TestClient, tokens: dict[str, str]) -> None:
    response = client.get("/?limit=3", headers=auth(tokens["read"]))
    assert response.status_code == 200
    assert _users(response.text) == ["u02", "u03", "u06"]
    assert 'href="/users/u02"' in response.text and 'href="/docs"' in response.text
    assert 'id="legend"' in response.text


def test_page_filters(client: TestClient, tokens: dict[str, str]) -> None:
    kol = client.get("/?role=kol", headers=auth(tokens["read"])).text
    assert _users(kol) == ["u01", "u05", "u09", "u13", "u17"]
    group = client.get("/?community=0", headers=auth(tokens["read"])).text
    assert _users(group) == ["u03", "u06", "u15", "u18"]


def _link(html: str, rel: str) -> str:
    found = re.search(rf'rel="{rel}" href="(/\?[^"]+)"', html)
    assert found is not None, f"no {rel} link"
    return found.group(1).replace("&amp;", "&")


def test_page_links_page_forward_and_back(client: TestClient, tokens: dict[str, str]) -> None:
    first = client.get("/?limit=4", headers=auth(tokens["read"])).text
    assert _users(first) == ["u02", "u03", "u06", "u07"] and 'rel="prev"' not in first
    second = client.get(_link(first, "next"), headers=auth(tokens["read"])).text
    assert _users(second) == ["u10", "u11", "u14", "u15"]
    back = client.get(_link(second, "prev"), headers=auth(tokens["read"])).text
    assert _users(back) == _users(first)


def test_page_csv_exports_the_current_view(client: TestClient, tokens: dict[str, str]) -> None:
    import csv
    import io

    response = client.get("/leaderboard.csv?role=kol", headers=auth(tokens["read"]))
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["user_id"] for r in rows] == ["u01", "u05", "u09", "u13", "u17"]
    assert {r["role_at_run"] for r in rows} == {"kol"}


def test_page_csv_streams_every_row_across_chunks(
    client: TestClient, tokens: dict[str, str], monkeypatch
) -> None:
    import csv
    import io

    from api.http.routes import web
    from influence.config import COMPONENTS

    whole = client.get("/leaderboard.csv", headers=auth(tokens["read"])).text
    monkeypatch.setattr(web, "CSV_CHUNK_ROWS", 4)  # 10 rows (staff left out): chunks of 4, 4, 2
    chunked = client.get("/leaderboard.csv", headers=auth(tokens["read"]))
    assert chunked.text == whole
    rows = list(csv.DictReader(io.StringIO(chunked.text)))
    page = client.get("/?limit=200", headers=auth(tokens["read"])).text
    assert [r["user_id"] for r in rows] == _users(page)  # every row of the view, in order
    assert len(rows) == 10 and [r["position"] for r in rows] == [str(i) for i in range(1, 11)]
    assert list(rows[0])[-len(COMPONENTS) :] == [f"contribution_{c}" for c in COMPONENTS]
    assert chunked.text.count("\r\n") == 11  # header + 10 rows, RFC 4180 line ends


def test_page_csv_neutralizes_formula_cells(tmp_path: Path) -> None:
    import csv
    import io
    from datetime import UTC, datetime

    import pyarrow as pa

    from api.services import ranking, segments
    from graph.events import EventType
    from graph.store import ARROW_SCHEMAS
    from tests.api.conftest import make_tokens

    evil = ['=HYPERLINK("http://evil.example/?","Click for payout")', "+1", "-2", "@SUM(A1)"]
    schema = ARROW_SCHEMAS[EventType.VIEW]
    views = [
        {
            "event_id": f"v{i}",
            "viewer": "alice",
            "sharer": u,
            "content_id": "c",
            "ts": datetime(2026, 1, 1, tzinfo=UTC),
        }
        for i, u in enumerate(evil)
    ]
    rows = [{n: v.get(n) for n in schema.names} for v in views]
    with DuckDBStore(tmp_path / "evil.duckdb") as store:
        store.append_batch({EventType.VIEW: pa.Table.from_pylist(rows, schema=schema)})
        ranking.run_ranking(store)
        token = make_tokens(store)["read"]
        from fastapi.testclient import TestClient as Client

        segments.create_segment(store, "everyone", "rank >= 1")
        with Client(make_app(store, tmp_path)) as c:
            body = c.get("/leaderboard.csv", headers=auth(token)).text
            members = c.get("/v1/segments/everyone/members?format=csv", headers=auth(token))
    expected = sorted(["alice", *("'" + u for u in evil)])  # text, never a formula
    assert sorted(r["user_id"] for r in csv.DictReader(io.StringIO(body))) == expected
    assert sorted(r["user_id"] for r in csv.DictReader(io.StringIO(members.text))) == expected


def test_page_errors_are_pages_api_errors_json(client: TestClient, tokens: dict[str, str]) -> None:
    page = client.get("/?limit=100000", headers=auth(tokens["read"]))
    assert page.status_code == 422 and page.headers["content-type"].startswith("text/html")
    assert "query.limit" in page.text and 'id="error"' in page.text
    missing = client.get("/users/nobody", headers=auth(tokens["read"]))
    assert missing.status_code == 404 and "text/html" in missing.headers["content-type"]
    api = client.get("/v1/leaderboard?limit=100000", headers=auth(tokens["read"]))
    assert api.status_code == 422 and api.json()["code"] == "validation_error"


def test_pages_render_for_every_view(client: TestClient, tokens: dict[str, str]) -> None:
    for path, marker in [
        ("/users/u02", 'id="breakdown"'),
        ("/roles/employee", "Roles: employees"),
        ("/roles/kol", "GMV per fee"),
        ("/roles/consumer", "Roles: consumers"),
        ("/communities", 'id="communities"'),
        ("/runs", 'id="runs"'),
    ]:
        response = client.get(path, headers=auth(tokens["read"]))
        assert response.status_code == 200, (path, response.text[-500:])
        assert marker in response.text, path


def test_user_page_commissions_need_finance(client: TestClient, tokens: dict[str, str]) -> None:
    read = client.get("/users/u02", headers=auth(tokens["read"])).text
    assert 'id="commissions"' not in read
    finance = client.get("/users/u02", headers=auth(tokens["admin"])).text  # admin: read + finance
    assert 'id="commissions"' in finance


def test_docs_served_from_bundled_assets(client: TestClient) -> None:
    docs = client.get("/docs").text
    assert "/static/docs/swagger-ui-bundle.js" in docs and "cdn" not in docs.lower()
    assert "/static/docs/redoc.standalone.js" in client.get("/redoc").text
    assert client.get("/static/docs/swagger-ui-bundle.js").status_code == 200


def test_page_public_when_configured(shared_store: DuckDBStore, tmp_path: Path) -> None:
    with TestClient(make_app(shared_store, tmp_path, api_public_leaderboard=True)) as c:
        response = c.get("/?limit=2")
    assert response.status_code == 200 and _users(response.text) == ["u02", "u03"]


def test_page_login_sets_cookie(client: TestClient, tokens: dict[str, str]) -> None:
    bad = sign_in(client, "nope")
    assert bad.status_code == 401 and "unknown or revoked" in bad.text
    form = client.get("/login")
    ok = client.post(
        "/login", data={**hidden_fields(form.text), "key": tokens["read"]}, follow_redirects=False
    )
    assert ok.status_code == 303
    cookie = ok.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert tokens["read"].lower() not in cookie
    page = client.get("/?limit=1")
    assert _users(page.text) == ["u02"]
    out = client.post("/logout", data=hidden_fields(page.text), follow_redirects=False)
    assert out.status_code == 303
    assert client.get("/", follow_redirects=False).status_code == 303


def test_page_escapes_input(client: TestClient, tokens: dict[str, str]) -> None:
    response = client.get("/?role=<script>alert(1)</script>", headers=auth(tokens["read"]))
    assert "<script>alert" not in response.text
