"""Leaderboard pages at any depth, for every filter and sort, over a real ``koc serve``.

The store holds 2,400 users and two runs with ties in every component, absent and null
component values, users the previous run did not rank, null roles and communities. The
expected leaderboard is worked out here with plain Python sorts over the stored rows
(one straightforward pass per query, nothing shared with the service's precomputed
arrays), and every page reached by the cursor must equal its slice of it.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pytest

from api.services.ranking import SORT_KEYS, leaderboard, rank_changes
from graph.duckdb_store import DuckDBStore
from graph.store import COMPONENT_SCHEMA, SCORE_SCHEMA, RunRecord
from influence.config import COMPONENTS
from tests.api.conftest import auth
from tests.api.server import running_server

N = 2_400
T0 = datetime(2026, 1, 1, tzinfo=UTC)
ROLES = ["consumer", "consumer", "consumer", "kol", "employee", "unknown", None]
STAFF = {"employee", "kol"}
#: query strings and the same filters as service keywords
FILTERS: list[tuple[str, dict[str, Any]]] = [
    ("", {}),
    ("role=kol", {"role": "kol"}),
    ("community=3", {"community": 3}),
    ("min_score=0.4", {"min_score": 0.4}),
    ("include_staff=true", {"include_staff": True}),
    (
        "role=consumer&community=2&min_score=0.2",
        {"role": "consumer", "community": 2, "min_score": 0.2},
    ),
]


def _runs(seed: int = 5) -> dict[str, dict[str, Any]]:
    """Two runs as plain rows: ``scores`` (user -> row) and ``raw`` (user -> component -> raw)."""
    rng = random.Random(seed)
    runs: dict[str, dict[str, Any]] = {}
    for run_id, users in (("old", range(200, N)), ("new", range(N))):  # 200 users are new
        ids = [f"u{i:05d}" for i in users]
        score = {u: round(rng.random(), 3) for u in ids}  # rounded: equal scores happen
        ordered = sorted(ids, key=lambda u: (-score[u], u))
        rows = {
            u: {
                "user_id": u,
                "rank": pos + 1,
                "score": score[u],
                "role": rng.choice(ROLES),
                "community": rng.choice([0, 1, 2, 3, 4, None]),
            }
            for pos, u in enumerate(ordered)
        }
        raw: dict[str, dict[str, float | None]] = {}
        for u in ids:
            raw[u] = {}
            for c in COMPONENTS:
                draw = rng.random()
                if draw < 0.1:
                    continue  # no row for this component
                raw[u][c] = None if draw < 0.15 else float(rng.randint(0, 20))  # many ties
        runs[run_id] = {"scores": rows, "raw": raw}
    return runs


RUNS = _runs()


def _fill(store: DuckDBStore) -> None:
    for k, run_id in enumerate(("old", "new")):
        run = RUNS[run_id]
        scores = pa.Table.from_pylist(
            sorted(run["scores"].values(), key=lambda r: r["rank"]), schema=SCORE_SCHEMA
        )
        components = pa.Table.from_pylist(
            [
                {
                    "user_id": u,
                    "component": c,
                    "raw": v,
                    "normalized": None,
                    "contribution": v or 0.0,
                }
                for u, values in run["raw"].items()
                for c, v in values.items()
            ],
            schema=COMPONENT_SCHEMA,
        )
        created = T0 + timedelta(days=k)
        store.save_run(
            RunRecord(run_id=run_id, created_at=created, status="succeeded", window_end=created),
            scores,
            components,
        )


def expected_board(sort: str, filters: dict[str, Any]) -> list[tuple[str, int | None]]:
    """(user_id, rank_change) of the whole leaderboard of run ``new``, by plain sorting."""
    new, old = RUNS["new"]["scores"], RUNS["old"]["scores"]
    rows = []
    for u, r in new.items():
        if "role" in filters:
            if r["role"] != filters["role"]:
                continue
        elif not filters.get("include_staff") and r["role"] in STAFF:
            continue
        if "community" in filters and r["community"] != filters["community"]:
            continue
        if "min_score" in filters and r["score"] < filters["min_score"]:
            continue
        change = old[u]["rank"] - r["rank"] if u in old else None
        rows.append((u, r["rank"], change))
    if sort == "score":
        rows.sort(key=lambda t: t[1])
    elif sort == "rank_change":
        rows.sort(key=lambda t: (t[2] is None, -(t[2] or 0), t[1]))
    elif sort == "falling":
        rows = sorted(
            (t for t in rows if t[2] is not None and t[2] < 0), key=lambda t: (t[2], t[1])
        )
    else:
        raw = RUNS["new"]["raw"]

        def value(u: str) -> float | None:
            return raw[u].get(sort)

        rows.sort(key=lambda t: (value(t[0]) is None, -(value(t[0]) or 0.0), t[1]))
    return [(u, change) for u, _, change in rows]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    with running_server(tmp_path_factory.mktemp("depth"), fill=_fill) as served:
        yield served


def _walk(base: str, token: str, query: str, limit: int) -> list[dict[str, Any]]:
    rows, cursor = [], None
    with httpx.Client(base_url=base, headers=auth(token), timeout=60) as client:
        while True:
            url = f"/v1/leaderboard?limit={limit}&{query}" + (f"&cursor={cursor}" if cursor else "")
            response = client.get(url)
            assert response.status_code == 200, response.text
            page = response.json()
            assert page["run_id"] == "new"
            rows += page["data"]
            cursor = page["next_cursor"]
            if cursor is None:
                return rows


@pytest.mark.parametrize("sort", SORT_KEYS)
def test_leaderboard_every_page_equals_reference_slice(
    server: tuple[str, dict[str, str]], sort: str
) -> None:
    base, tokens = server
    for query, filters in FILTERS:
        expected = expected_board(sort, filters)
        rows = _walk(base, tokens["read"], f"sort={sort}&{query}", limit=173)
        assert [(r["user_id"], r["rank_change"]) for r in rows] == expected, (sort, query)
        assert [r["rank"] for r in rows] == list(range(1, len(expected) + 1))
        for r in rows[:: max(1, len(rows) // 20)]:  # previous rank and breakdown, sampled
            old = RUNS["old"]["scores"].get(r["user_id"])
            assert r["previous_rank"] == (None if old is None else old["rank"])
            assert r["overall_rank"] == RUNS["new"]["scores"][r["user_id"]]["rank"]
            raw = RUNS["new"]["raw"][r["user_id"]]
            assert r["breakdown"] == {c: v or 0.0 for c, v in raw.items()}


def test_leaderboard_service_without_cache_equals_reference(tmp_path: Path) -> None:
    """The CLI's path (a plain store, no run cache) gives the same boards."""
    with DuckDBStore(tmp_path / "plain.duckdb") as store:
        _fill(store)
        for sort in ("score", "falling", "reach"):
            for _, filters in FILTERS[:4]:
                rows = leaderboard(store, sort=sort, limit=10_000, **filters)
                expected = expected_board(sort, filters)
                assert [(r["user_id"], r["rank_change"]) for r in rows] == expected
                deep = leaderboard(
                    store, sort=sort, limit=7, after_rank=len(expected) - 5, **filters
                )
                assert [r["user_id"] for r in deep] == [u for u, _ in expected[-5:]]


def test_rank_changes_equal_recomputation(tmp_path: Path) -> None:
    with DuckDBStore(tmp_path / "changes.duckdb") as store:
        _fill(store)
        out = rank_changes(store, limit=25)
    board = expected_board("rank_change", {})
    known = [(u, c) for u, c in board if c is not None]
    assert out["compared"] == len(known) and out["entered"] == len(board) - len(known)
    assert [(r["user_id"], r["rank_change"]) for r in out["rising"]] == [
        t for t in known if t[1] > 0
    ][:25]
    assert [(r["user_id"], r["rank_change"]) for r in out["falling"]] == expected_board(
        "falling", {}
    )[:25]
    new, old = RUNS["new"]["scores"], RUNS["old"]["scores"]
    for r in out["rising"] + out["falling"]:
        assert (r["rank"], r["previous_rank"]) == (
            new[r["user_id"]]["rank"],
            old[r["user_id"]]["rank"],
        )


@pytest.mark.parametrize(
    "after", [2**31 - 1, 2**31, 10**30, -1, 2400, 5000], ids=lambda a: f"after={a}"
)
def test_leaderboard_forged_cursor_is_clean(server: tuple[str, dict[str, str]], after: int) -> None:
    """A forged cursor past the end is an empty page or a 400, never a 500."""
    import base64
    import json

    from api.services.pagination import query_digest

    base, tokens = server
    digest = query_digest(
        run=None, role=None, community=None, min_score=None, sort="score", staff=False
    )
    raw = json.dumps({"r": "new", "q": digest, "a": after}).encode()
    cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    response = httpx.get(
        f"{base}/v1/leaderboard?cursor={cursor}", headers=auth(tokens["read"]), timeout=30
    )
    if 0 <= after <= 2**31 - 1:
        assert response.status_code == 200 and response.json()["data"] == []
    else:
        assert response.status_code == 400 and response.json()["code"] == "invalid_cursor"
