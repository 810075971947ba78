"""Audiences on every store (the contract suite's ``contract_store``: DuckDB, and a live
Neo4j server with its tables in a DuckDB file beside it when ``KOC_NEO4J_URI`` is set).

The hand-made histories of ``tests/api/test_segments_service.py`` go into the store;
each run's fact fields are stored on the store's relational side, user tags are
imported there, and segments, transitions and one user's tags read them back. The
expected values are the hand-worked ones of that module (r1: a loyal, b trusting, c
aware, d lapsing, e and f lost, g lapsing, h aware; r2: a, b, c, g, h lapsing, d, e, f
lost; b rises to rank 1)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from api.services import segments, tags
from api.services.audience import store_run_audience
from graph.segments import _store as seg_store
from graph.store import GraphStore
from tests.api.test_segments_service import _populate


@pytest.fixture
def audience_store(contract_store: GraphStore) -> Iterator[GraphStore]:
    segments.FRAMES.clear()
    _populate(contract_store)  # type: ignore[arg-type]
    for run_id in ("r1", "r2"):
        store_run_audience(contract_store, contract_store.get_run(run_id))
    yield contract_store
    segments.FRAMES.clear()


def test_contract_audience_stages_stored_per_run(audience_store: GraphStore) -> None:
    cur = audience_store.tables.cursor()
    try:
        rows = seg_store.read_run_audience(cur.conn, "r1")
    finally:
        cur.close()
    stages = dict(
        zip(rows.column("user_id").to_pylist(), rows.column("stage").to_pylist(), strict=True)
    )
    assert stages == {
        "a": "loyal",
        "b": "trusting",
        "c": "aware",
        "d": "lapsing",
        "e": "lost",
        "f": "lost",
        "g": "lapsing",
        "h": "aware",
    }
    moves = segments.lifecycle_transitions(audience_store, "r2")
    assert moves["source"] == "stored"
    assert moves["transitions"] == {
        "aware": {"lapsing": 2},
        "trusting": {"lapsing": 1},
        "loyal": {"lapsing": 1},
        "lapsing": {"lapsing": 1, "lost": 1},
        "lost": {"lost": 2},
    }


def test_contract_tags_and_segments(audience_store: GraphStore, tmp_path: Path) -> None:
    path = tmp_path / "vip.csv"
    path.write_text("user_id,tag\nb,vip\nh,vip\n", encoding="utf-8")
    done = tags.import_tags(audience_store, path)
    assert (done["read"], done["set"], done["rejected"]) == (2, 2, 0)
    saved = segments.create_segment(
        audience_store, "vip-lapsing", "tag:vip and stage = 'lapsing' and not tag:fraud_held"
    )
    assert saved["run_id"] == "r2" and saved["members"] == 2
    page = segments.members(audience_store, "vip-lapsing")
    assert [r["user_id"] for r in page["data"]] == ["b", "h"]  # rank order in r2
    assert [r["channel_pref"] for r in page["data"]] == [None, "weibo"]
    assert segments.members(audience_store, "at_risk_kocs")["total"] == 1  # b
    shown = segments.show_segment(audience_store, "vip-lapsing")
    assert shown["members"] == 2 and shown["previous_members"] == 0  # r1: b trusting, h aware
    mine = {r["tag"]: r for r in tags.user_tags(audience_store, "h")}
    assert mine["vip"]["kind"] == "user" and mine["vip"]["source"] == str(path.resolve())
    assert mine["channel.weibo"]["source"] == "run:r2"
    assert mine["stage.lapsing"]["kind"] == "fact" and mine["stage.lapsing"]["tagged_at"]
