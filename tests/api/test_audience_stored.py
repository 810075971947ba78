"""Fact fields stored per user per run (``run_audience``), transitions from the stored
stages, and fact tags with source and time, on the hand-made histories of
``tests/api/test_segments_service.py`` (run ``r1``: a loyal, b trusting, c aware, d
lapsing, e and f lost, g lapsing, h aware; run ``r2``, 60 days later: a, b, c, g, h
lapsing, d, e, f lost; b rises to rank 1)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from api.cli import main
from api.services import ranking, segments, tags
from api.services.audience import store_run_audience
from graph.duckdb_store import DuckDBStore
from graph.events import EventType
from graph.segments import _store as seg_store
from tests.api.test_segments_service import END, _before, _populate, _table

R1 = {
    "a": "loyal",
    "b": "trusting",
    "c": "aware",
    "d": "lapsing",
    "e": "lost",
    "f": "lost",
    "g": "lapsing",
    "h": "aware",
}
R2 = dict.fromkeys("abcgh", "lapsing") | dict.fromkeys("def", "lost")


@pytest.fixture
def stored(tmp_path: Path):
    segments.FRAMES.clear()
    store = DuckDBStore(tmp_path / "seg.duckdb")
    _populate(store)
    for run_id in ("r1", "r2"):
        store_run_audience(store, store.get_run(run_id))
    yield store
    segments.FRAMES.clear()
    store.close()


def _stored_stages(store: DuckDBStore, run_id: str) -> dict[str, str]:
    rows = seg_store.read_run_audience(store.tables.cursor().conn, run_id)
    return dict(
        zip(rows.column("user_id").to_pylist(), rows.column("stage").to_pylist(), strict=True)
    )


def test_store_run_audience_keeps_stage_per_user_per_run(stored: DuckDBStore) -> None:
    assert _stored_stages(stored, "r1") == R1
    assert _stored_stages(stored, "r2") == R2
    conn = stored.tables.cursor().conn
    assert seg_store.audience_run(conn, "r1")["users"] == 8
    h = seg_store.user_audience(conn, "r1", "h")
    assert h == {"stage": "aware", "tier": "D", "rfm": "none", "channel_pref": "weibo"}
    assert seg_store.user_audience(conn, "r1", "a")["channel_pref"] is None


def test_stored_stages_do_not_move_with_late_events(stored: DuckDBStore) -> None:
    # f bought 2 days before r1's end, reported late: recomputing would make f trusting
    stored.append_batch(
        {
            EventType.ORDER: _table(
                EventType.ORDER,
                [
                    {
                        "event_id": "late",
                        "order_id": "late",
                        "buyer": "f",
                        "amount": Decimal("5.00"),
                        "currency": "CNY",
                        "ts": _before(2),
                    }
                ],
            )
        }
    )
    segments.FRAMES.clear()
    frame = segments.run_frame(stored, "r1")
    row = frame.user_ids.to_pylist().index("f")
    codes, cats = frame.text("stage")
    assert cats[codes[row]] == "lost" and frame.stored_at is not None
    assert cats[frame.computed_stage_codes()[row]] == "trusting"
    assert segments.members(stored, "lost_customers", run_id="r1")["total"] == 2  # e and f


def test_lifecycle_transitions_from_stored_stages(stored: DuckDBStore) -> None:
    moves = segments.lifecycle_transitions(stored, "r2")
    assert moves["source"] == "stored" and moves["previous_run_id"] == "r1"
    assert moves["stages"] == {"aware": 0, "trusting": 0, "loyal": 0, "lapsing": 5, "lost": 3}
    assert moves["transitions"] == {
        "aware": {"lapsing": 2},
        "trusting": {"lapsing": 1},
        "loyal": {"lapsing": 1},
        "lapsing": {"lapsing": 1, "lost": 1},
        "lost": {"lost": 2},
    }
    first = segments.lifecycle_transitions(stored, "r1")
    assert first["previous_run_id"] is None and first["transitions"] == {}
    assert first["stages"] == {"aware": 2, "trusting": 1, "loyal": 1, "lapsing": 2, "lost": 2}


def test_builtin_at_risk_kocs_over_stored_stages(stored: DuckDBStore) -> None:
    assert segments.members(stored, "at_risk_kocs", run_id="r1")["total"] == 0  # a is loyal
    r2 = segments.members(stored, "at_risk_kocs", run_id="r2")
    assert [r["user_id"] for r in r2["data"]] == ["b"]  # r2's top KOC, lapsing now
    frame = segments.run_frame(stored, "r2")
    assert frame.stored_at is not None  # read, not recomputed


def test_user_tags_give_fact_tags_with_source_and_time(stored: DuckDBStore, tmp_path: Path) -> None:
    path = tmp_path / "vip.csv"
    path.write_text("user_id,tag\nb,vip\n", encoding="utf-8")
    tags.import_tags(stored, path)
    rows = {r["tag"]: r for r in tags.user_tags(stored, "b")}
    computed_at = seg_store.audience_run(stored.tables.cursor().conn, "r2")["computed_at"]
    assert rows["vip"]["kind"] == "user" and rows["vip"]["source"] == str(path.resolve())
    # b in r2: rank 1 of 8 scored (tier A), lapsing, one order 63 days before (rfm new ->
    # not recent: hibernating), community 0, rose from rank 2
    assert {t for t, r in rows.items() if r["kind"] == "fact"} == {
        "role.consumer",
        "community.0",
        "stage.lapsing",
        "tier.A",
        "rfm.hibernating",
        "rising",
    }
    stage = rows["stage.lapsing"]
    assert stage["source"] == "run:r2" and stage["rule"] == "stage = 'lapsing'"
    assert stage["tagged_at"] == computed_at.isoformat()
    old = {r["tag"]: r for r in tags.user_tags(stored, "b", run_id="r1")}
    assert old["stage.trusting"]["source"] == "run:r1" and "rising" not in old


def test_run_ranking_stores_the_audience(tmp_path: Path) -> None:
    segments.FRAMES.clear()
    with DuckDBStore(tmp_path / "rank.duckdb") as store:
        _populate(store)
        run = ranking.run_ranking(store, end=END + timedelta(microseconds=1))
        conn = store.tables.cursor().conn
        info = seg_store.audience_run(conn, run.run_id)
        assert info is not None and info["users"] == store.read_scores(run.run_id).num_rows
        assert run.timings["audience"] >= 0
        got = _stored_stages(store, run.run_id)
        assert {u: got[u] for u in R1} == R1  # the run ends where r1 ends
        frame = segments.run_frame(store, run.run_id)
        codes, cats = frame.text("stage")
        assert [cats[c] for c in frame.computed_stage_codes()] == [cats[c] for c in codes]
    segments.FRAMES.clear()


def test_cli_tags_show_lists_fact_tags(
    stored: DuckDBStore, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(stored.path)
    stored.close()
    segments.FRAMES.clear()
    try:
        main(["--db", db, "tags", "show", "h"])
    except SystemExit as exc:
        assert exc.code in (0, None)
    out = capsys.readouterr().out
    assert "channel.weibo  [fact] (run:r2," in out
    assert "stage.lapsing  [fact] (run:r2," in out and "; stage = 'lapsing')" in out


def test_frame_reads_components_from_the_run_cache_pivot(stored: DuckDBStore) -> None:
    from api.services.audience import RunFrame
    from api.services.cache import RunCache

    cache = RunCache(stored)
    assert cache.component_column("r2", "conversion") is not None  # the pivot, as warmed
    run = stored.get_run("r2")
    direct = RunFrame(stored, run)
    held = RunFrame(cache, run)  # type: ignore[arg-type]
    # r2's rows in rank order b, a, c, ... carry conversion raw 0, 1, ..., 7
    assert held.number("conversion").tolist() == direct.number("conversion").tolist()
    assert held.number("conversion").tolist() == [float(i) for i in range(8)]
    assert held.number("flags.staff_orders").tolist() == [0.0] * 8  # absent: 0


def test_run_ranking_stages_follow_the_audience_config(tmp_path: Path) -> None:
    from influence.config import AudienceSection, default_score_config

    segments.FRAMES.clear()
    cfg = default_score_config().model_copy(
        update={"audience": AudienceSection(active_days=60, lost_days=120)}
    )
    with DuckDBStore(tmp_path / "cfg.duckdb") as store:
        _populate(store)
        run = ranking.run_ranking(store, cfg, end=END + timedelta(microseconds=1))
        assert run.params["config"]["audience"]["active_days"] == 60
        got = _stored_stages(store, run.run_id)
        # d: one forward 45 days before, now within active_days: aware (1 action < 3)
        # e: one view 100 days before: past active_days, within lost_days: lapsing
        # g: 9 forwards, the last 1 day before; 60-day windows: recent 9 >= 0.5 x 0
        assert {u: got[u] for u in "deg"} == {"d": "aware", "e": "lapsing", "g": "trusting"}
        assert {u: got[u] for u in "abcfh"} == {u: R1[u] for u in "abcfh"}
    segments.FRAMES.clear()


def test_cli_top_segment_lists_members_only(
    stored: DuckDBStore, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    db = str(stored.path)
    stored.close()
    segments.FRAMES.clear()
    try:
        main(["--db", db, "top", "--segment", "lost_customers", "--json"])
    except SystemExit as exc:
        assert exc.code in (0, None)
    rows = json.loads(capsys.readouterr().out)
    assert [r["user_id"] for r in rows] == ["d", "e", "f"]  # r2's lost users, rank order
