"""``GET /v1/leaderboard``: filters, sorting, cursor pagination (expected rows worked out by
hand from the fixture: see tests/api/conftest.py)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import auth

#: consumers (role index 2, 3) in run r2 order; staff (employees, KOLs) are left out
CONSUMERS_R2 = ["u02", "u03", "u06", "u07", "u10", "u11", "u14", "u15", "u18", "u19"]


def _get(client: TestClient, tokens: dict[str, str], query: str = "") -> dict:
    response = client.get(f"/v1/leaderboard?{query}", headers=auth(tokens["read"]))
    assert response.status_code == 200, response.text
    return response.json()


def test_leaderboard_defaults_to_latest_run_without_staff(
    client: TestClient, tokens: dict[str, str]
) -> None:
    page = _get(client, tokens)
    assert page["run_id"] == "r2"
    assert [r["user_id"] for r in page["data"]] == CONSUMERS_R2
    assert [r["rank"] for r in page["data"]] == list(range(1, 11))
    first = page["data"][0]
    # u02: overall rank 3 in r1, 4 in r2 -> moved down one place
    assert (first["overall_rank"], first["previous_rank"], first["rank_change"]) == (4, 3, -1)
    assert page["next_cursor"] is None


def test_leaderboard_breakdown_adds_up_to_score(client: TestClient, tokens: dict[str, str]) -> None:
    for row in _get(client, tokens)["data"]:
        assert set(row["breakdown"]) == {"conversion", "engagement", "pagerank", "reach", "spend"}
        assert sum(row["breakdown"].values()) == pytest.approx(row["score"])


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("role=kol", ["u01", "u05", "u09", "u13", "u17"]),
        ("community=0", ["u03", "u06", "u15", "u18"]),
        ("min_score=0.93", ["u02", "u03", "u06"]),
        ("role=consumer&community=2&min_score=0.85", ["u02", "u11", "u14"]),
        ("include_staff=true&limit=4", ["u01", "u00", "u05", "u02"]),
        ("run=r1&limit=3", ["u02", "u03", "u06"]),
        ("sort=rank_change&limit=3", ["u06", "u07", "u10"]),
    ],
)
def test_leaderboard_filters(
    client: TestClient, tokens: dict[str, str], query: str, expected: list[str]
) -> None:
    assert [r["user_id"] for r in _get(client, tokens, query)["data"]] == expected


def test_leaderboard_first_run_has_no_rank_change(
    client: TestClient, tokens: dict[str, str]
) -> None:
    rows = _get(client, tokens, "run=r1")["data"]
    assert all(r["rank_change"] is None and r["previous_rank"] is None for r in rows)


def test_leaderboard_cursor_walks_every_row_once(
    client: TestClient, tokens: dict[str, str]
) -> None:
    seen, cursor, pages = [], None, 0
    while True:
        query = "limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = _get(client, tokens, query)
        seen += [r["user_id"] for r in page["data"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == CONSUMERS_R2 and pages == 4


def test_leaderboard_cursor_bound_to_query(client: TestClient, tokens: dict[str, str]) -> None:
    cursor = _get(client, tokens, "limit=3")["next_cursor"]
    response = client.get(
        f"/v1/leaderboard?limit=3&role=kol&cursor={cursor}", headers=auth(tokens["read"])
    )
    assert response.status_code == 400 and response.json()["code"] == "invalid_cursor"


@pytest.mark.parametrize("cursor", ["garbage", "e30", "x" * 600])
def test_leaderboard_bad_cursor(client: TestClient, tokens: dict[str, str], cursor: str) -> None:
    response = client.get(f"/v1/leaderboard?cursor={cursor}", headers=auth(tokens["read"]))
    assert response.status_code in (400, 422)
    assert response.json()["code"] in ("invalid_cursor", "validation_error")


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=501", "min_score=2", "community=-3", "role=Kol!", "run=a%20b"]
)
def test_leaderboard_bounds(client: TestClient, tokens: dict[str, str], query: str) -> None:
    response = client.get(f"/v1/leaderboard?{query}", headers=auth(tokens["read"]))
    assert response.status_code == 422
    assert response.json()["details"]


def test_leaderboard_unknown_sort_is_422(client: TestClient, tokens: dict[str, str]) -> None:
    response = client.get("/v1/leaderboard?sort=height", headers=auth(tokens["read"]))
    assert response.status_code == 422 and response.json()["details"][0]["field"] == "query.sort"


def test_leaderboard_unknown_run_is_404(client: TestClient, tokens: dict[str, str]) -> None:
    response = client.get("/v1/leaderboard?run=r9", headers=auth(tokens["read"]))
    assert response.status_code == 404 and "r9" in response.json()["message"]


def test_leaderboard_without_runs_is_404(tmp_path, tokens: dict[str, str]) -> None:  # noqa: ANN001
    from api.services.keys import create_key
    from graph.duckdb_store import DuckDBStore
    from tests.api.conftest import make_app

    with DuckDBStore(tmp_path / "empty.duckdb") as empty:
        _, token = create_key(empty, "t", "read")
        with TestClient(make_app(empty, tmp_path), raise_server_exceptions=False) as c:
            response = c.get("/v1/leaderboard", headers=auth(token))
    assert response.status_code == 404
    assert "koc rank" in response.json()["message"]


@pytest.mark.parametrize("component", ["pagerank", "conversion"])
def test_leaderboard_sort_by_component(
    client: TestClient,
    tokens: dict[str, str],
    shared_store,
    component: str,  # noqa: ANN001
) -> None:
    stored = {
        r["user_id"]: r["raw"]
        for r in shared_store.read_components("r2").to_pylist()
        if r["component"] == component
    }
    overall = {r["user_id"]: r["rank"] for r in shared_store.read_scores("r2").to_pylist()}
    expected = sorted(
        CONSUMERS_R2,
        key=lambda u: (stored.get(u) is None, -(stored.get(u) or 0.0), overall[u]),
    )
    page = _get(client, tokens, f"sort={component}")
    assert [r["user_id"] for r in page["data"]] == expected
    assert [r["rank"] for r in page["data"]] == list(range(1, len(expected) + 1))


def test_leaderboard_falling_lists_only_fallers_biggest_fall_first(shared_store) -> None:
    from api.services.ranking import leaderboard

    rows = leaderboard(shared_store, sort="falling", include_staff=True, limit=100)
    changes = [r["rank_change"] for r in rows]
    assert changes and all(c is not None and c < 0 for c in changes)
    assert changes == sorted(changes)
    every = leaderboard(shared_store, include_staff=True, limit=100)
    assert {r["user_id"] for r in rows} == {
        r["user_id"] for r in every if r["rank_change"] is not None and r["rank_change"] < 0
    }


def test_koc_top_sorted_by_rank_change_shows_the_true_rank(shared_store, tmp_path) -> None:
    import json

    from click.testing import CliRunner

    from api.cli import cli
    from api.services.ranking import leaderboard

    db = str(shared_store.path)
    shared_store.conn.execute("CHECKPOINT")
    expected = leaderboard(shared_store, sort="rank_change", limit=3)
    result = CliRunner().invoke(
        cli, ["top", "--sort", "rank_change", "-n", "3", "--json", "--db", db]
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(r["user_id"], r["overall_rank"]) for r in rows] == [
        (r["user_id"], r["overall_rank"]) for r in expected
    ]
    table = CliRunner().invoke(cli, ["top", "--sort", "rank_change", "-n", "3", "--db", db])
    first = next(line for line in table.stdout.splitlines() if expected[0]["user_id"] in line)
    cells = [c.strip() for c in first.split("│")]
    # the columns: position in this list, then the run's rank (not the position again)
    assert cells[1:4] == ["1", str(expected[0]["overall_rank"]), expected[0]["user_id"]]
