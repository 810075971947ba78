"""``/v1/segments`` and ``/v1/tags`` over a real ``koc serve`` process, on the hand-made
histories of ``tests/api/test_segments_service.py`` (latest run ``r2``: a, b, c, g, h
lapsing; d, e, f lost)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import auth
from tests.api.server import running_server
from tests.api.test_segments_service import _populate


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    with running_server(tmp_path_factory.mktemp("segments-api"), fill=_populate) as s:
        yield s


def test_api_segments_list_has_builtins(server: tuple[str, dict[str, str]]) -> None:
    base, tokens = server
    r = httpx.get(f"{base}/v1/segments", headers=auth(tokens["read"]), timeout=30)
    assert r.status_code == 200
    rows = {s["name"]: s for s in r.json()["data"]}
    assert rows["lost_customers"]["members"] == 3 and rows["at_risk_kocs"]["builtin"]


def test_api_segment_create_errors_point_at_token(server: tuple[str, dict[str, str]]) -> None:
    base, tokens = server
    r = httpx.post(
        f"{base}/v1/segments",
        json={"name": "bad", "expression": "stage = 'lapsing' and forwards(30d) >> 2"},
        headers=auth(tokens["ingest"]),
        timeout=30,
    )
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "invalid_segment"
    assert body["details"]["position"] == 37
    assert body["details"]["caret"].endswith(" " * 37 + "^")
    denied = httpx.post(
        f"{base}/v1/segments",
        json={"name": "x", "expression": "rank < 3"},
        headers=auth(tokens["read"]),
        timeout=30,
    )
    assert denied.status_code == 403


def test_api_segment_create_show_members_csv(server: tuple[str, dict[str, str]]) -> None:
    base, tokens = server
    r = httpx.post(
        f"{base}/v1/segments",
        json={"name": "quiet", "expression": "stage = 'lapsing'", "description": "d"},
        headers=auth(tokens["ingest"]),
        timeout=30,
    )
    assert r.status_code == 201 and r.json()["members"] == 5
    shown = httpx.get(f"{base}/v1/segments/quiet", headers=auth(tokens["read"]), timeout=30)
    assert shown.json()["change"] == 3  # r1: d and g were lapsing
    page = httpx.get(
        f"{base}/v1/segments/quiet/members",
        params={"limit": 2},
        headers=auth(tokens["read"]),
        timeout=30,
    ).json()
    assert [m["user_id"] for m in page["data"]] == ["b", "a"] and page["total"] == 5
    nxt = httpx.get(
        f"{base}/v1/segments/quiet/members",
        params={"limit": 10, "offset": page["next_offset"]},
        headers=auth(tokens["read"]),
        timeout=30,
    ).json()
    assert [m["user_id"] for m in nxt["data"]] == ["c", "g", "h"] and nxt["next_offset"] is None
    got = httpx.get(
        f"{base}/v1/segments/quiet/members",
        params={"format": "csv"},
        headers=auth(tokens["read"]),
        timeout=30,
    )
    assert got.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(got.text)))
    assert [r["user_id"] for r in rows] == ["b", "a", "c", "g", "h"]
    missing = httpx.get(f"{base}/v1/segments/nosuch", headers=auth(tokens["read"]), timeout=30)
    assert missing.status_code == 404


def test_api_tags_then_segment_and_injection_is_inert(
    server: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    base, tokens = server
    r = httpx.post(
        f"{base}/v1/tags",
        json={"changes": [{"user_id": "h", "tag": "vip"}, {"user_id": "zz", "tag": "vip"}]},
        headers=auth(tokens["ingest"]),
        timeout=30,
    )
    assert r.status_code == 200 and r.json()["set"] == 2 and r.json()["unknown_users"] == 1
    bad = httpx.post(
        f"{base}/v1/tags",
        json={"changes": [{"user_id": "h", "tag": "stage.loyal"}]},
        headers=auth(tokens["ingest"]),
        timeout=30,
    )
    assert bad.status_code == 422
    mine = httpx.get(f"{base}/v1/tags/h", headers=auth(tokens["read"]), timeout=30).json()
    assert mine[0]["tag"] == "vip" and mine[0]["source"].startswith("api:")
    attack = "tag:vip or role = 'x''; DROP TABLE users; --'"
    r = httpx.post(
        f"{base}/v1/segments",
        json={"name": "attack", "expression": attack},
        headers=auth(tokens["ingest"]),
        timeout=30,
    )
    assert r.status_code == 201 and r.json()["members"] == 1  # only h, by the tag
    lb = httpx.get(f"{base}/v1/leaderboard", headers=auth(tokens["read"]), timeout=30)
    assert lb.status_code == 200 and lb.json()["count"] == 8  # users are all still there


@pytest.mark.parametrize(
    ("segment", "expected"), [("lost_customers", ["d", "e", "f"]), ("at_risk_kocs", ["b"])]
)
def test_api_leaderboard_segment_filter(
    server: tuple[str, dict[str, str]], segment: str, expected: list[str]
) -> None:
    base, tokens = server
    page = httpx.get(
        f"{base}/v1/leaderboard",
        params={"segment": segment, "limit": 2},
        headers=auth(tokens["read"]),
        timeout=30,
    ).json()
    rows = [r["user_id"] for r in page["data"]]
    while page["next_cursor"]:
        page = httpx.get(
            f"{base}/v1/leaderboard",
            params={"segment": segment, "limit": 2, "cursor": page["next_cursor"]},
            headers=auth(tokens["read"]),
            timeout=30,
        ).json()
        rows += [r["user_id"] for r in page["data"]]
    assert rows == expected
    missing = httpx.get(
        f"{base}/v1/leaderboard",
        params={"segment": "nosuch"},
        headers=auth(tokens["read"]),
        timeout=30,
    )
    assert missing.status_code == 404
