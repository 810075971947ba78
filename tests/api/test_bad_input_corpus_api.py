"""The bad-input corpus through ``POST /v1/events`` on a real ``koc serve`` (issue 14).

The value classes of ``tests/graph/test_bad_input_corpus.py`` are posted as JSON
(ids prefixed with the class name, so the classes share one server): every bad
record is refused with its index, field and reason in ``errors``, every valid one
is inserted, the counts balance, the status is 200. API-level faults (invalid
JSON, NaN, nesting, a flood of invalid records, forged cursors) get a 4xx with a
reason, never a 500, and the connection stays usable.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.api.server import running_server
from tests.graph.test_bad_input_corpus import CASES

ID_FIELDS = {
    "sharer", "viewer", "buyer", "order_id", "user_id", "referrer", "referee", "event_id",
    "content_id", "forwarder", "from_user", "commenter", "on_user", "refund_id",
}  # fmt: skip


def _prefixed(name: str, record: dict[str, Any]) -> dict[str, Any]:
    return {
        k: (f"{name}-{v}" if k in ID_FIELDS and isinstance(v, str) else v)
        for k, v in record.items()
    }


def _json(records: list[dict[str, Any]]) -> bytes:
    def enc(v: Any) -> Any:
        return str(v) if isinstance(v, Decimal) else v

    return json.dumps([{k: enc(v) for k, v in r.items()} for r in records]).encode()


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[httpx.Client, dict[str, str]]]:
    with (
        running_server(tmp_path_factory.mktemp("corpus-api")) as (base, tokens),
        httpx.Client(base_url=base, timeout=120) as client,
    ):
        yield client, tokens


def _post(server: tuple[httpx.Client, dict[str, str]], body: bytes, **kw: Any) -> httpx.Response:
    client, tokens = server
    headers = {"X-API-Key": tokens["ingest"], "Content-Type": "application/json"}
    return client.post(
        "/v1/events", content=body, headers={**headers, **kw.pop("headers", {})}, **kw
    )


@pytest.mark.parametrize("name", sorted(CASES))
def test_corpus_value_class_api(server, name: str) -> None:
    case = CASES[name]
    records = [_prefixed(name, r) for r in case.records]
    r = _post(server, _json(records))
    assert r.status_code == 200, r.text
    body = r.json()
    n = len(records)
    assert body["read"] == n == body["inserted"] + body["duplicates"] + body["rejected"]
    assert (body["rejected"], body["duplicates"]) == (len(case.bad), case.duplicates)
    assert body["inserted"] == n - len(case.bad) - case.duplicates
    errors = {e["row"]: e["message"] for e in body["errors"]}
    assert sorted(errors) == sorted(case.bad)  # rows are 0-based indexes into the list
    for i, (field, reason) in case.bad.items():
        assert f"field {field!r}" in errors[i] and reason in errors[i], errors[i]


def test_api_json_numbers_as_in_jsonl(server) -> None:
    # amounts and ids sent as JSON numbers read exactly as JSON Lines reads them
    body = (
        b'[{"type": "order", "order_id": "num-o1", "buyer": 100000.0, "amount": 1e2,'
        b' "currency": "CNY", "ts": "2024-01-01T00:00:00Z"},'
        b' {"type": "order", "order_id": "num-o2", "buyer": 1E+5, "amount": "1e2",'
        b' "currency": "CNY", "ts": "2024-01-01T00:00:00Z"},'
        b' {"type": "user", "user_id": "num-u", "attrs": {"big": 1e400}}]'
    )
    got = _post(server, body).json()
    assert (got["inserted"], got["rejected"]) == (2, 1)
    [err] = got["errors"]
    assert err["row"] == 1 and "not a decimal amount" in err["message"]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b'[{"type": "user", "user_id": "nan", "attrs": {"x": NaN}}]', "NaN is not valid JSON"),
        (b"[" * 5000 + b"]" * 5000, "nested deeper"),
        (b'[{"type": "user", "user_id": "x"', "not valid JSON"),
    ],
)
def test_api_bad_json_is_422_not_500(server, body: bytes, fragment: str) -> None:
    r = _post(server, body)
    assert r.status_code == 422, r.text
    assert fragment in json.dumps(r.json())
    assert _post(server, b"[]").status_code == 200  # the same connection still works


def test_api_deep_record_rejected_alone(server) -> None:
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(80):
        node["x"] = {}
        node = node["x"]
    records = [
        {"type": "user", "user_id": "deep-1", "attrs": deep},
        {"type": "user", "user_id": "deep-2"},
    ]
    got = _post(server, json.dumps(records).encode()).json()
    assert (got["inserted"], got["rejected"]) == (1, 1)
    assert "nested deeper than 64" in got["errors"][0]["message"]


def test_api_flood_of_invalid_records_refused(server) -> None:
    # one small request of 5,000 zeros must not write 5,000 quarantine rows
    r = _post(server, b"[" + b",".join([b"0"] * 5000) + b"]")
    assert r.status_code == 422, r.text
    err = r.json()
    assert err["code"] == "too_many_rejects" and "nothing of it was stored" in err["message"]
    ok = _post(server, _json([{"type": "user", "user_id": "after-flood"}]))
    assert ok.status_code == 200 and ok.json()["inserted"] == 1


def _forge(real: str, after: Any) -> str:
    """A cursor like the server's ``real`` one, with its position replaced."""
    data = json.loads(base64.urlsafe_b64decode(real + "=" * (-len(real) % 4)))
    raw = json.dumps({**data, "a": "@"}).replace('"@"', str(after)).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize("after", ["1" + "0" * 30, "1e400", "-1", "[1, 2]", "null"])
def test_api_forged_cursor_is_400(server, after: str) -> None:
    client, tokens = server
    headers = {"X-API-Key": tokens["read"]}
    real = client.get("/v1/leaderboard?limit=3", headers=headers).json()["next_cursor"]
    assert (
        client.get(f"/v1/leaderboard?limit=3&cursor={_forge(real, 3)}", headers=headers).status_code
        == 200
    )
    r = client.get(f"/v1/leaderboard?limit=3&cursor={_forge(real, after)}", headers=headers)
    assert r.status_code == 400, r.text
    assert r.json()["code"] == "invalid_cursor"
    assert client.get("/healthz").status_code == 200
