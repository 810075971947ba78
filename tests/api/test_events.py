"""``POST /v1/events``: JSON and NDJSON batches, per-row errors, idempotency, limits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from graph.duckdb_store import DuckDBStore
from tests.api.conftest import auth, make_app

BATCH = [
    {"type": "user", "user_id": "n1", "role": "consumer"},
    {
        "type": "order",
        "order_id": "bad",
        "buyer": "n1",
        "amount": "-5",
        "currency": "CNY",
        "ts": "2026-01-05T00:00:00Z",
    },
    {
        "type": "view",
        "viewer": "n1",
        "sharer": "u00",
        "content_id": "c0",
        "ts": "2026-01-05T00:00:00Z",
    },
    {
        "type": "order",
        "order_id": "n1-o1",
        "buyer": "n1",
        "amount": "12.50",
        "currency": "CNY",
        "ts": "2026-01-05T01:00:00Z",
    },
    7,
]


def _post(client: TestClient, token: str, body: object, ctype: str = "application/json"):  # noqa: ANN202
    content = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(
        "/v1/events", content=content, headers={**auth(token), "content-type": ctype}
    )


def test_post_events_counts_and_row_errors(
    own_client: TestClient, own_tokens: dict[str, str], api_store: DuckDBStore
) -> None:
    before = api_store.counts()
    response = _post(own_client, own_tokens["ingest"], BATCH)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["read"], body["inserted"], body["duplicates"], body["rejected"]) == (5, 3, 0, 2)
    assert body["read"] == body["inserted"] + body["duplicates"] + body["rejected"]
    assert sorted(e["row"] for e in body["errors"]) == [1, 4]  # 0-based positions in the batch
    assert any("amount" in e["message"] for e in body["errors"])
    after = api_store.counts()
    assert after["order"] == before["order"] + 1 and after["view"] == before["view"] + 1
    assert after["rejects"] == before["rejects"] + 2


def test_post_events_is_idempotent(
    own_client: TestClient, own_tokens: dict[str, str], api_store: DuckDBStore
) -> None:
    _post(own_client, own_tokens["ingest"], BATCH)
    counts = api_store.counts()
    again = _post(own_client, own_tokens["ingest"], BATCH).json()
    assert again["inserted"] == 0 and again["duplicates"] == 3
    assert api_store.counts() == counts


def test_post_events_ndjson_same_as_json(
    own_client: TestClient, own_tokens: dict[str, str]
) -> None:
    lines = "\n".join(json.dumps(r) for r in BATCH[:4]) + "\n\n"
    body = _post(own_client, own_tokens["ingest"], lines, "application/x-ndjson").json()
    assert (body["read"], body["inserted"], body["rejected"]) == (4, 3, 1)


def test_post_events_event_type_query(own_client: TestClient, own_tokens: dict[str, str]) -> None:
    users = [{"user_id": f"q{i}"} for i in range(3)]
    response = own_client.post(
        "/v1/events?type=user", json=users, headers=auth(own_tokens["ingest"])
    )
    assert response.json()["inserted"] == 3


@pytest.mark.parametrize(
    ("body", "ctype", "status", "code"),
    [
        ("[{oops", "application/json", 422, "invalid_json"),
        ('{"type": "user"}', "application/json", 422, "invalid_json"),
        ('{"type": "user", "user_id": "a"}\n{nope', "application/x-ndjson", 422, "invalid_json"),
        ("user_id\nx", "text/csv", 415, "unsupported_media_type"),
    ],
)
def test_post_events_bad_bodies(
    own_client: TestClient,
    own_tokens: dict[str, str],
    body: str,
    ctype: str,
    status: int,
    code: str,
) -> None:
    response = _post(own_client, own_tokens["ingest"], body, ctype)
    assert response.status_code == status
    assert response.json()["code"] == code


def test_post_events_body_limit_is_413(
    api_store: DuckDBStore, own_tokens: dict[str, str], tmp_path: Path
) -> None:
    app = make_app(api_store, tmp_path, api_max_body_bytes=1024)
    with TestClient(app, raise_server_exceptions=False) as c:
        big = [{"type": "user", "user_id": f"big{i}"} for i in range(100)]
        response = _post(c, own_tokens["ingest"], big)
        assert response.status_code == 413
        assert response.json()["code"] == "payload_too_large"
        assert _post(c, own_tokens["ingest"], big[:3]).status_code == 200
    assert api_store.counts()["user"] == 23  # the oversized batch wrote nothing


def test_post_events_refused_on_read_only_workers(
    api_store: DuckDBStore, own_tokens: dict[str, str], tmp_path: Path
) -> None:
    app = make_app(api_store, tmp_path, api_workers=2)
    with TestClient(app, raise_server_exceptions=False) as c:
        response = _post(c, own_tokens["ingest"], BATCH)
        assert response.status_code == 503 and response.json()["code"] == "read_only"
        assert c.get("/v1/leaderboard", headers=auth(own_tokens["read"])).status_code == 200
