"""The in-memory caches of the app answer exactly what the store answers."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
from fastapi.testclient import TestClient

from api.http.app import create_app
from api.services.cache import PageCache, RunCache
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


def test_run_cache_components_keep_nulls_order_and_missing_components(
    api_store: DuckDBStore,
) -> None:
    from graph.store import COMPONENT_SCHEMA

    run = RunRecord(run_id="r9", created_at=datetime(2026, 3, 1, tzinfo=UTC), status="succeeded")
    scores = pa.Table.from_pylist(
        [
            {"user_id": u, "rank": i + 1, "score": 1.0 - i / 10, "role": "consumer", "community": 0}
            for i, u in enumerate(["b", "a", "c"])
        ],
        schema=SCORE_SCHEMA,
    )
    rows = [  # "c" has no "spend"; detail rows carry only a raw value; one raw is null
        ("b", "spend", 2.0, 0.5, 0.25),
        ("a", "reach", 1.0, 0.1, 0.05),
        ("a", "engagement.comments_received", 7.0, None, None),
        ("a", "spend", None, 0.0, 0.0),
        ("b", "reach", 3.0, 0.9, 0.45),
        ("c", "reach", 0.0, 0.0, 0.0),
    ]
    components = pa.Table.from_pylist(
        [dict(zip(COMPONENT_SCHEMA.names, r, strict=True)) for r in rows], schema=COMPONENT_SCHEMA
    )
    api_store.save_run(run, scores, components)
    cache = RunCache(api_store)
    for users in (["a"], ["c", "b", "a"], ["b", "zz"], []):
        got, want = cache.read_components("r9", users), api_store.read_components("r9", users)
        assert got.to_pylist() == want.to_pylist() and got.schema == want.schema


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


def test_run_cache_serves_previous_run_while_a_new_one_loads(api_store: DuckDBStore) -> None:
    cache = RunCache(api_store, list_ttl=0.0)
    assert cache.latest_run().run_id == "r2"  # nothing in memory yet: the latest as stored
    cache.warm("r2")
    assert cache.is_warm("r2") and "r1" in cache._scores  # r1 ranks give r2's rank changes
    assert cache.latest_run().run_id == "r2"
    run = RunRecord(run_id="r3", created_at=datetime(2026, 3, 1, tzinfo=UTC), status="succeeded")
    api_store.save_run(run, api_store.read_scores("r2"), api_store.read_components("r2"))
    assert cache.latest_run().run_id == "r2"  # r3 loads in the background meanwhile
    cache.wait_warm(30)
    assert cache.is_warm("r3") and cache.latest_run().run_id == "r3"
    assert cache.read_components("r3", ["u01"]).equals(api_store.read_components("r3", ["u01"]))
    cache.close()
