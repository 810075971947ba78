"""``sync_stores`` / ``koc sync``: copy a store into another, idempotently.

The copy logic is store-agnostic, so it is checked embedded -> embedded here;
the same function feeds Neo4j in ``koc sync --to neo4j`` (live test below).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pyarrow as pa
import pytest

from graph.duckdb_store import DuckDBStore
from graph.neo4j_sync import sync_stores
from graph.store import COMPONENT_SCHEMA, SCORE_SCHEMA, RunRecord
from tests.graph.test_neo4j_store import _demo_batch


@pytest.fixture
def source(store: DuckDBStore) -> DuckDBStore:
    store.append_batch(_demo_batch())
    reject = {
        "reject_id": "x1",
        "source": "f.csv",
        "row_number": 3,
        "event_type": "view",
        "field": "ts",
        "value": "yesterday",
        "reason": "not a timestamp",
        "raw": "{}",
    }
    store.append_batch({}, rejects=pa.Table.from_pylist([reject]))
    run = RunRecord("run-1", datetime(2024, 3, 2, tzinfo=UTC), status="succeeded")
    scores = pa.Table.from_pylist(
        [{"user_id": "a", "rank": 1, "score": 0.9, "role": "kol", "community": 0}], SCORE_SCHEMA
    )
    comps = pa.Table.from_pylist(
        [
            {
                "user_id": "a",
                "component": "pagerank",
                "raw": 0.4,
                "normalized": 1.0,
                "contribution": 0.3,
            }
        ],
        COMPONENT_SCHEMA,
    )
    store.save_run(run, scores, comps)
    return store


def test_sync_stores_copies_everything(source: DuckDBStore, tmp_path) -> None:  # noqa: ANN001
    seen: dict[str, int] = {}
    with DuckDBStore(tmp_path / "target.duckdb") as target:
        result = sync_stores(
            source, target, chunk_rows=2, progress=lambda t, n: seen.update({t: seen.get(t, 0) + n})
        )
        assert target.counts() == source.counts()
        for t in ("view", "referral", "order", "refund"):
            assert target.read_events(t).equals(source.read_events(t))
        assert target.read_spend().equals(source.read_spend())
        assert target.read_scores("run-1").equals(source.read_scores("run-1"))
        assert target.read_components("run-1").equals(source.read_components("run-1"))
    # rows of the demo batch, by hand: 2 declared users, 4 views, 2 referrals, 1 order, 1 refund
    assert seen == {"user": 2, "view": 4, "referral": 2, "order": 1, "refund": 1, "rejects": 1}
    assert result.inserted["view"] == 4 and result.rejects == 1 and result.run_id == "run-1"


def test_sync_stores_twice_inserts_nothing(source: DuckDBStore, tmp_path) -> None:  # noqa: ANN001
    with DuckDBStore(tmp_path / "target.duckdb") as target:
        sync_stores(source, target, chunk_rows=3)
        again = sync_stores(source, target, chunk_rows=3)
        assert target.counts() == source.counts()
    assert sum(again.inserted.values()) == 0
    assert again.duplicates["view"] == 4 and again.rejects == 0


def test_sync_stores_rejects_bad_chunk_size(source: DuckDBStore) -> None:
    with pytest.raises(ValueError, match="chunk_rows"):
        sync_stores(source, source, chunk_rows=0)


def test_cli_sync_without_uri_fails_cleanly(monkeypatch, capsys) -> None:  # noqa: ANN001
    from api.cli import main

    monkeypatch.delenv("KOC_NEO4J_URI", raising=False)
    with pytest.raises(SystemExit) as info:
        main(["sync", "--to", "neo4j"])
    assert info.value.code == 2
    assert "KOC_NEO4J_URI" in capsys.readouterr().err


@pytest.mark.neo4j
@pytest.mark.skipif(
    not os.environ.get("KOC_NEO4J_URI"),
    reason="needs a live Neo4j 5 server: set KOC_NEO4J_URI (docs/neo4j.md)",
)
def test_live_sync_into_neo4j(source: DuckDBStore) -> None:
    from graph.neo4j_store import Neo4jStore
    from graph.settings import Settings

    settings = Settings(store="neo4j", neo4j_uri=os.environ["KOC_NEO4J_URI"])
    with Neo4jStore.from_settings(settings) as neo:
        neo.wipe()
        sync_stores(source, neo)
        assert neo.counts() == source.counts()
        assert neo.read_scores("run-1").equals(source.read_scores("run-1"))
        again = sync_stores(source, neo)
        assert again.inserted["view"] == 0
        neo.wipe()
