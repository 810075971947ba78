"""Segments, tags and lifecycle over a real store with hand-made histories (service and CLI).

Users and their last actions before the run's end ``END`` (run ``r1``):

* ``a``: orders 5, 10 and 20 days before: loyal;  ``b``: one order 3 days before: trusting;
* ``c``: one view 2 days before: aware;  ``d``: one forward 45 days before: lapsing;
* ``e``: one view 100 days before: lost;  ``f``: nothing: lost;
* ``g``: 8 forwards 31-38 days before, 1 forward 1 day before: lapsing (activity fell);
* ``h``: one share 1 day before (aware); their content drew c's view (wechat) and g's 9
  forwards (weibo): prefers weibo.

Run ``r2`` ends 60 days later with no new events: a, b, c, g, h lapse; d is lost.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from api.cli import main
from api.services import segments, tags
from graph.duckdb_store import DuckDBStore
from graph.errors import NotFoundError, SegmentError
from graph.events import EventType
from graph.store import ARROW_SCHEMAS, COMPONENT_SCHEMA, SCORE_SCHEMA, RunRecord

END = datetime(2026, 3, 1, tzinfo=UTC)
USERS = "abcdefgh"


def _table(event_type: EventType, rows: list[dict]) -> pa.Table:
    schema = ARROW_SCHEMAS[event_type]
    return pa.Table.from_pylist(
        [{name: r.get(name) for name in schema.names} for r in rows], schema=schema
    )


def _before(days: float) -> datetime:
    return END - timedelta(days=days)


def _populate(store: DuckDBStore) -> None:
    users = [{"event_id": f"user-{u}", "user_id": u, "role": "consumer"} for u in USERS]
    orders = [
        {
            "event_id": f"o-{u}-{d}",
            "order_id": f"o-{u}-{d}",
            "buyer": u,
            "amount": Decimal("10.00"),
            "currency": "CNY",
            "ts": _before(d),
        }
        for u, d in (("a", 5), ("a", 10), ("a", 20), ("b", 3))
    ]
    views = [
        {
            "event_id": "v-c",
            "viewer": "c",
            "sharer": "h",
            "content_id": "c1",
            "channel": "wechat",
            "ts": _before(2),
        },
        {
            "event_id": "v-e",
            "viewer": "e",
            "sharer": "h",
            "content_id": "c1",
            "channel": "wechat",
            "ts": _before(100),
        },
    ]
    forwards = [
        {
            "event_id": f"f-g-{k}",
            "forwarder": "g",
            "from_user": "h",
            "content_id": "c1",
            "channel": "weibo",
            "ts": _before(31 + k),
        }
        for k in range(8)
    ] + [
        {
            "event_id": "f-g-last",
            "forwarder": "g",
            "from_user": "h",
            "content_id": "c1",
            "channel": "weibo",
            "ts": _before(1),
        },
        {
            "event_id": "f-d",
            "forwarder": "d",
            "from_user": "h",
            "content_id": "c1",
            "channel": "weibo",
            "ts": _before(45),
        },
    ]
    shares = [
        {"event_id": "s-h", "sharer": "h", "content_id": "c1", "channel": "weibo", "ts": _before(1)}
    ]
    store.append_batch(
        {
            EventType.USER: _table(EventType.USER, users),
            EventType.ORDER: _table(EventType.ORDER, orders),
            EventType.VIEW: _table(EventType.VIEW, views),
            EventType.FORWARD: _table(EventType.FORWARD, forwards),
            EventType.SHARE: _table(EventType.SHARE, shares),
        }
    )
    for run_id, end, created in (
        ("r1", END, END),
        ("r2", END + timedelta(days=60), END + timedelta(days=60)),
    ):
        order = USERS if run_id == "r1" else "bacdefgh"  # b rises in r2
        scores = pa.Table.from_pylist(
            [
                {
                    "user_id": u,
                    "rank": i + 1,
                    "score": round(1 - i / 10, 2),
                    "role": "consumer",
                    "community": i % 2,
                }
                for i, u in enumerate(order)
            ],
            schema=SCORE_SCHEMA,
        )
        components = pa.Table.from_pylist(
            [
                {
                    "user_id": u,
                    "component": "conversion",
                    "raw": float(i),
                    "normalized": 0.5,
                    "contribution": 0.1,
                }
                for i, u in enumerate(order)
            ],
            schema=COMPONENT_SCHEMA,
        )
        store.save_run(
            RunRecord(run_id=run_id, created_at=created, status="succeeded", window_end=end),
            scores,
            components,
        )


@pytest.fixture
def seg_store(tmp_path: Path):
    segments.FRAMES.clear()
    store = DuckDBStore(tmp_path / "seg.duckdb")
    _populate(store)
    yield store
    segments.FRAMES.clear()
    store.close()


def _stage_of(store: DuckDBStore, run_id: str) -> dict[str, str]:
    frame = segments.run_frame(store, run_id)
    codes, cats = frame.text("stage")
    return dict(zip(frame.user_ids.to_pylist(), (cats[c] for c in codes), strict=True))


def test_lifecycle_stages_of_hand_made_histories(seg_store: DuckDBStore) -> None:
    assert _stage_of(seg_store, "r1") == {
        "a": "loyal",
        "b": "trusting",
        "c": "aware",
        "d": "lapsing",
        "e": "lost",
        "f": "lost",
        "g": "lapsing",
        "h": "aware",
    }


def test_lifecycle_transitions_between_runs(seg_store: DuckDBStore) -> None:
    assert _stage_of(seg_store, "r2") == {
        "a": "lapsing",
        "b": "lapsing",
        "c": "lapsing",
        "d": "lost",
        "e": "lost",
        "f": "lost",
        "g": "lapsing",
        "h": "lapsing",
    }
    moves = segments.lifecycle_transitions(seg_store, "r2")
    assert moves["previous_run_id"] == "r1"
    assert moves["stages"] == {"aware": 0, "trusting": 0, "loyal": 0, "lapsing": 5, "lost": 3}
    assert moves["transitions"] == {
        "aware": {"lapsing": 2},
        "trusting": {"lapsing": 1},
        "loyal": {"lapsing": 1},
        "lapsing": {"lapsing": 1, "lost": 1},
        "lost": {"lost": 2},
    }


def test_windowed_facts_count_events_up_to_the_run_end(seg_store: DuckDBStore) -> None:
    frame = segments.run_frame(seg_store, "r1")
    row = {u: i for i, u in enumerate(frame.user_ids.to_pylist())}
    day = 86_400_000_000
    assert frame.fact("orders", 7 * day)[row["a"]] == 1
    assert frame.fact("orders", None)[row["a"]] == 3
    assert frame.fact("gmv", 30 * day)[row["a"]] == pytest.approx(30.0)
    assert frame.fact("forwards", 30 * day)[row["g"]] == 1
    assert frame.fact("forwards_received", None)[row["h"]] == 10
    assert frame.fact("views_received", 30 * day)[row["h"]] == 1


def test_channel_preference_and_leaders(seg_store: DuckDBStore) -> None:
    frame = segments.run_frame(seg_store, "r1")
    codes, cats = frame.text("channel_pref")
    pref = {
        u: (cats[c] if c >= 0 else None)
        for u, c in zip(frame.user_ids.to_pylist(), codes, strict=True)
    }
    assert pref["h"] == "weibo" and pref["a"] is None
    leaders = segments.channel_leaders(seg_store, run_id="r1")["channels"]
    assert leaders["weibo"]["top"][0] == {"user_id": "h", "rank": 8, "performance": 20.0}
    assert leaders["wechat"]["top"][0]["performance"] == 2.0  # two views


def test_segment_create_versions_members_and_counts(seg_store: DuckDBStore) -> None:
    saved = segments.create_segment(seg_store, "quiet", "stage = 'lapsing'")
    assert saved["version"] == 1 and saved["members"] == 5 and saved["run_id"] == "r2"
    again = segments.create_segment(seg_store, "quiet", "stage = 'lapsing'")
    assert again["version"] == 1  # unchanged expression: no new version
    v2 = segments.create_segment(seg_store, "quiet", "stage = 'lapsing' and rank <= 3")
    assert v2["version"] == 2 and v2["members"] == 3
    info = segments.show_segment(seg_store, "quiet")
    assert [v["version"] for v in info["versions"]] == [1, 2]
    assert info["members"] == 3 and info["previous_members"] == 0 and info["change"] == 3
    page = segments.members(seg_store, "quiet", limit=2)
    assert [r["user_id"] for r in page["data"]] == ["b", "a"] and page["next_offset"] == 2
    rest = segments.members(seg_store, "quiet", limit=2, offset=2)
    assert [r["user_id"] for r in rest["data"]] == ["c"] and rest["next_offset"] is None
    assert segments.evaluate(seg_store, "quiet", version=1).members == 5
    names = [s["name"] for s in segments.list_segments(seg_store)]
    assert "quiet" in names and "at_risk_kocs" in names


def test_segment_create_refuses_bad_expressions_and_names(seg_store: DuckDBStore) -> None:
    with pytest.raises(SegmentError, match="Unknown field 'stge'") as info:
        segments.create_segment(seg_store, "bad", "stge = 'loyal'")
    assert info.value.context["position"] == 0
    with pytest.raises(SegmentError, match="built-in"):
        segments.create_segment(seg_store, "at_risk_kocs", "rank < 3")
    with pytest.raises(Exception, match="not valid"):
        segments.create_segment(seg_store, "Bad Name", "rank < 3")
    with pytest.raises(NotFoundError):
        segments.members(seg_store, "nosuch")


def test_segment_delete_hides_it(seg_store: DuckDBStore) -> None:
    segments.create_segment(seg_store, "gone", "rank < 3")
    segments.delete_segment(seg_store, "gone")
    with pytest.raises(NotFoundError):
        segments.get_definition(seg_store, "gone")


def test_builtin_at_risk_kocs(seg_store: DuckDBStore) -> None:
    # r1: tiers by rank among 8 scored users: A = top ceil(0.08) = 1 (a), B = top 1 (a)
    r1 = segments.members(seg_store, "at_risk_kocs", run_id="r1")
    assert r1["total"] == 0  # a is loyal
    r2 = segments.members(seg_store, "at_risk_kocs", run_id="r2")
    assert [r["user_id"] for r in r2["data"]] == ["b"]  # r2's top KOC, lapsing now


def test_tags_import_balances_and_segments_use_them(seg_store: DuckDBStore, tmp_path: Path) -> None:
    path = tmp_path / "tags.csv"
    path.write_text(
        "user_id,tag,action\na,vip,\nb,vip,set\n,vip,\nc,stage.loyal,\nzz,vip,\nb,vip,\na,gone,remove\nc,x,frob\n",
        encoding="utf-8",
    )
    out = tags.import_tags(seg_store, path)
    assert out["read"] == 8
    assert out["read"] == out["set"] + out["removed"] + out["unchanged"] + out["rejected"]
    assert (out["set"], out["rejected"], out["unknown_users"]) == (3, 3, 1)
    assert [(e["line"], e["field"]) for e in out["errors"]] == [
        (4, "user_id"),
        (5, "tag"),
        (9, "action"),
    ]
    compiled = segments.check_expression(seg_store, "tag:vip and not tag:stage.loyal")
    frame = segments.run_frame(seg_store)
    members = [
        u for u, m in zip(frame.user_ids.to_pylist(), compiled.evaluate(frame), strict=True) if m
    ]
    assert members == ["b", "a"]
    rows = tags.user_tags(seg_store, "a")
    assert rows[0]["tag"] == "vip" and rows[0]["source"] == str(path.resolve())
    tags.set_tags(
        seg_store, [{"user_id": "a", "tag": "vip", "action": "remove"}], source="api:test"
    )
    assert compiled.evaluate(frame).sum() == 1  # the frame re-reads changed tags


def test_export_writes_every_member_as_csv(seg_store: DuckDBStore, tmp_path: Path) -> None:
    out = tmp_path / "m.csv"
    done = segments.export_members(seg_store, "lost_customers", out)
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert done["members"] == 3 and [r["user_id"] for r in rows] == ["d", "e", "f"]
    assert rows[0]["stage"] == "lost" and rows[0]["tier"] in ("A", "B", "C", "D")


def test_cli_segments_and_tags(
    seg_store: DuckDBStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(seg_store.path)
    seg_store.close()
    segments.FRAMES.clear()
    tagfile = tmp_path / "t.csv"
    tagfile.write_text("user_id,tag\nb,vip\n", encoding="utf-8")

    def run(*args: str) -> str:
        try:
            main(["--db", db, *args])
        except SystemExit as exc:
            assert exc.code in (0, None), capsys.readouterr()
        return capsys.readouterr().out

    assert "set 1" in run("tags", "import", str(tagfile))
    assert "Saved segment vips version 1: 1 members" in run("segments", "create", "vips", "tag:vip")
    assert "vips" in run("segments", "list")
    assert "members: 1" in run("segments", "show", "vips")
    exported = tmp_path / "vips.csv"
    run("segments", "export", "vips", "--out", str(exported))
    assert exported.read_text().splitlines()[1].startswith('1,"b"')
    with pytest.raises(SystemExit) as info:
        main(["--db", db, "segments", "check", "rank >> 3"])
    assert info.value.code == 2
    assert "^" in capsys.readouterr().err
