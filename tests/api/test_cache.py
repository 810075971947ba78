"""The in-memory caches of the app answer exactly what the store answers."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
from fastapi.testclient import TestClient

from api.app import create_app
from api.cache import PageCache, RunCache
from graph.duckdb_store import DuckDBStore
from graph.settings import Settings
from graph.store import SCORE_SCHEMA, RunRecord
from tests.api.conftest import auth, make_tokens, populate


def test_run_cache_reads_equal_store_reads(shared_store: DuckDBStore) -> None:
    cache = RunCache(shared_store)
    for run in ("r1", "r2"):
        assert cache.read_scores(run).equals(shared_store.read_scores(run))
        assert cache.read_scores(run, limit=3).equals(shared_store.read_scores(run, limit=3))
        for users in (["u05"], ["u07", "u01", "nobody"], []):
            assert cache.read_scores(run, user_ids=users).equals(
                shared_store.read_scores(run, user_ids=users)
            )
            assert cache.read_components(run, users).equals(
                shared_store.read_components(run, users)
            )
        for component in ("pagerank", "spend"):
            assert cache.read_components(run, component=component).equals(
                shared_store.read_components(run, component=component)
            )
    assert cache.get_run("r1") == shared_store.get_run("r1")
    assert [r.run_id for r in cache.list_runs()] == [r.run_id for r in shared_store.list_runs()]


def test_run_cache_skips_running_runs_and_sees_saves(api_store: DuckDBStore) -> None:
    cache = RunCache(api_store)
    run = RunRecord(run_id="r3", created_at=datetime(2026, 2, 1, tzinfo=UTC))  # running
    cache.save_run(run)
    assert cache.read_scores("r3").num_rows == 0
    assert cache.latest_run("running").run_id == "r3"
    run.status = "succeeded"
    scores = pa.Table.from_pylist(
        [{"user_id": "u00", "rank": 1, "score": 1.0, "role": "employee", "community": 0}],
        schema=SCORE_SCHEMA,
    )
    cache.save_run(run, scores)
    assert cache.read_scores("r3").num_rows == 1
    assert cache.latest_run().run_id == "r3"  # lists dropped on save


def test_page_cache_is_lru() -> None:
    cache = PageCache(max_entries=2)
    calls: list[str] = []
    for key in ("a", "b", "a", "c", "b"):
        cache.get_or_compute(key, lambda k=key: calls.append(k) or k)
    assert calls == ["a", "b", "c", "b"]  # "b" was evicted by "c"


def test_app_over_cached_store_matches_direct_answers(tmp_path: Path) -> None:
    db = tmp_path / "cached.duckdb"
    with DuckDBStore(db) as store:
        populate(store)
        token = make_tokens(store)["read"]
    with TestClient(create_app(Settings(db_path=db))) as c:
        assert isinstance(c.app.state.store_provider.get(), RunCache)
        for _ in range(2):  # second round from the caches
            board = c.get("/v1/leaderboard?limit=3", headers=auth(token)).json()
            assert [r["user_id"] for r in board["data"]] == ["u02", "u03", "u06"]
            profile = c.get("/v1/users/u01", headers=auth(token)).json()
            assert (profile["rank"], profile["rank_change"]) == (1, 1)
            # every sort key through the cached store (a component sort once raised here)
            for sort in ("score", "rank_change", "pagerank", "conversion"):
                response = c.get(f"/v1/leaderboard?limit=3&sort={sort}", headers=auth(token))
                assert response.status_code == 200, (sort, response.text)
