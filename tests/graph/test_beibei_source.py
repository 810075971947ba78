"""``koc ingest --source beibei``: BeiBei group-buying lines as share / view / order events."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from api.cli import cli
from graph.duckdb_store import DuckDBStore
from graph.errors import IngestError
from graph.events import EventType
from graph.ingest import ingest_files
from graph.ingest.sources.beibei import BEIBEI_BASE_TS, parse_lines
from tests.conftest import shared_dataset

#: A hand-written file in the BeiBei layout; the comments give the expected records.
SAMPLE = (
    b"10\t20\t30\n"  # 1: share, view 10->30, order by 30
    b"11\t21\n"  # 2: share only (a failed group, as in invalid.txt)
    b"12\t22\t31\t32\n"  # 3: share, views 12->31 and 12->32, orders by 31 and 32
    b"\n"  # 4: blank: not a row
    b"13\tx\t33\n"  # 5: rejected whole: item is not an id
    b"14\n"  # 6: rejected whole: no item
    b"15\t25\t15\n"  # 7: share, order by 15; the view is a self-edge (rejected)
    b"16\t26\t34\r\n"  # 8: CRLF line end: share, view 16->34, order by 34
)
#: rows are records: 5 shares + 5 views + 5 orders + 2 undecodable lines
SAMPLE_COUNTS = {"read": 17, "inserted": 14, "duplicates": 0, "rejected": 3}
SAMPLE_BY_TYPE = {
    "share": {"inserted": 5, "duplicates": 0, "rejected": 0},
    "view": {"inserted": 4, "duplicates": 0, "rejected": 1},
    "order": {"inserted": 5, "duplicates": 0, "rejected": 0},
    "untyped": {"inserted": 0, "duplicates": 0, "rejected": 2},
}
BASE = datetime(2020, 1, 1, tzinfo=UTC)


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    path = tmp_path / "sample.txt"
    path.write_bytes(SAMPLE)
    return path


def _counts(summary) -> dict[str, int]:
    d = summary.to_dict()
    return {k: d[k] for k in ("read", "inserted", "duplicates", "rejected")}


def _content(store: DuckDBStore) -> dict[str, list[dict]]:
    """Every stored record of the three types, sorted, for comparing two loads."""
    out = {}
    for et in (EventType.SHARE, EventType.VIEW, EventType.ORDER):
        out[et.value] = sorted(store.read_events(et).to_pylist(), key=lambda r: r["event_id"])
    return out


def test_beibei_sample_counts_by_type(sample, store) -> None:
    summary = ingest_files(store, [sample], dataset="beibei")
    assert _counts(summary) == SAMPLE_COUNTS
    assert summary.to_dict()["by_type"] == SAMPLE_BY_TYPE
    assert {k: store.counts()[k] for k in ("share", "view", "order")} == {
        "share": 5,
        "view": 4,
        "order": 5,
    }


def test_beibei_sample_record_fields(sample, store) -> None:
    ingest_files(store, [sample], dataset="beibei")
    shares = {r["sharer"]: r for r in store.read_events(EventType.SHARE).to_pylist()}
    assert sorted(shares) == ["10", "11", "12", "15", "16"]
    s = shares["12"]
    assert (s["content_id"], s["channel"]) == ("beibei:22@12", "beibei-sample")
    assert s["ts"] == BASE + timedelta(seconds=3)  # line 3
    views = {r["viewer"]: r for r in store.read_events(EventType.VIEW).to_pylist()}
    assert sorted(views) == ["30", "31", "32", "34"]
    assert (views["32"]["sharer"], views["32"]["content_id"]) == ("12", "beibei:22@12")
    assert views["32"]["ts"] == BASE + timedelta(seconds=3.25)
    orders = {r["order_id"]: r for r in store.read_events(EventType.ORDER).to_pylist()}
    assert sorted(orders) == [
        "beibei-sample-1-30",
        "beibei-sample-3-31",
        "beibei-sample-3-32",
        "beibei-sample-7-15",
        "beibei-sample-8-34",
    ]
    o = orders["beibei-sample-3-32"]
    assert (o["buyer"], o["amount"], o["currency"], o["attribution_token"]) == (
        "32",
        Decimal("1.00"),
        "CNY",
        "beibei:22@12",
    )
    assert o["ts"] == BASE + timedelta(seconds=3.5)
    # the share precedes the view, which precedes the purchase
    assert s["ts"] < views["32"]["ts"] < o["ts"]


def test_beibei_sample_influence_from_initiator_to_participant(sample, store) -> None:
    ingest_files(store, [sample], dataset="beibei")
    edges = store.read_edges()
    ids = edges.node_ids
    pairs = {(ids[s], ids[d]) for s, d in zip(edges.src, edges.dst, strict=True)}
    assert pairs == {("10", "30"), ("12", "31"), ("12", "32"), ("16", "34")}


def test_beibei_sample_rejects_carry_line_field_reason(sample, store) -> None:
    ingest_files(store, [sample], dataset="beibei")
    rejects = sorted(
        store.read_rejects().to_pylist(), key=lambda r: (r["row_number"], r["field"] or "")
    )
    got = [(r["row_number"], r["event_type"], r["field"], r["value"]) for r in rejects]
    assert got == [(5, None, "item", "x"), (6, None, None, None), (7, "view", "viewer", "15")]
    assert rejects[0]["reason"] == "not a BeiBei item id (expected decimal digits)"
    assert rejects[0]["raw"] == "13\tx\t33"
    assert rejects[1]["reason"].startswith("expected at least 2 tab-separated fields")
    assert rejects[2]["reason"] == "self-edge: a user cannot view their own share"
    assert {r["source"] for r in rejects} == {str(sample.resolve())}


def test_beibei_reingest_is_idempotent(sample, store) -> None:
    first = ingest_files(store, [sample], dataset="beibei")
    before = (_content(store), store.read_rejects().num_rows)
    again = ingest_files(store, [sample], dataset="beibei")
    assert _counts(again) == {
        "read": 17,
        "inserted": 0,
        "duplicates": first.inserted,
        "rejected": 3,
    }
    assert (_content(store), store.read_rejects().num_rows) == before


@pytest.mark.parametrize("batch_rows", [1, 2, 3, 1000])
def test_beibei_batch_size_changes_nothing(sample, tmp_path, batch_rows) -> None:
    with DuckDBStore(tmp_path / "a.duckdb") as a, DuckDBStore(tmp_path / "b.duckdb") as b:
        ref = ingest_files(a, [sample], dataset="beibei")
        got = ingest_files(b, [sample], dataset="beibei", batch_rows=batch_rows)
        assert _counts(got) == _counts(ref) == SAMPLE_COUNTS
        assert _content(a) == _content(b)


def test_beibei_gzip_reads_like_plain(sample, tmp_path) -> None:
    gz = tmp_path / "gz" / "sample.txt.gz"
    gz.parent.mkdir()
    gz.write_bytes(gzip.compress(SAMPLE))
    with DuckDBStore(tmp_path / "a.duckdb") as a, DuckDBStore(tmp_path / "b.duckdb") as b:
        ingest_files(a, [sample], dataset="beibei")
        assert _counts(ingest_files(b, [gz], dataset="beibei")) == SAMPLE_COUNTS
        assert _content(a) == _content(b)  # same stem "sample": same ids


def test_beibei_same_line_in_two_files_stays_two_events(tmp_path, store) -> None:
    for name in ("test.txt", "tune.txt"):
        (tmp_path / name).write_bytes(b"1\t2\t3\n")
    summary = ingest_files(store, [tmp_path / "test.txt", tmp_path / "tune.txt"], dataset="beibei")
    assert (summary.inserted, summary.duplicates) == (6, 0)
    channels = sorted(r["channel"] for r in store.read_events(EventType.SHARE).to_pylist())
    assert channels == ["beibei-test", "beibei-tune"]


def test_beibei_invalid_utf8_line_rejected(tmp_path, store) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(b"1\t2\t3\n4\t5\xff\t6\n")
    summary = ingest_files(store, [path], dataset="beibei")
    assert _counts(summary) == {"read": 4, "inserted": 3, "duplicates": 0, "rejected": 1}
    [r] = store.read_rejects().to_pylist()
    assert (r["row_number"], r["field"], r["value"]) == (2, "item", "5\ufffd")


def test_beibei_bom_and_no_final_newline(tmp_path, store) -> None:
    path = tmp_path / "bom.txt"
    path.write_bytes(b"\xef\xbb\xbf1\t2\t3\n4\t5")
    summary = ingest_files(store, [path], dataset="beibei")
    assert _counts(summary) == {"read": 4, "inserted": 4, "duplicates": 0, "rejected": 0}


def test_beibei_empty_file_warns(tmp_path, store) -> None:
    path = tmp_path / "empty.txt"
    path.write_bytes(b"\n\n")
    summary = ingest_files(store, [path], dataset="beibei")
    assert summary.read == 0
    assert any("empty" in w for w in summary.warnings)


@pytest.mark.parametrize("name", ["data_size.txt", "LICENSE"])
def test_beibei_non_data_file_refused(tmp_path, store, name) -> None:
    path = tmp_path / name
    path.write_text("190080\t30782\n")
    with pytest.raises(IngestError, match="not group-buying lines"):
        ingest_files(store, [path], dataset="beibei")
    assert store.counts()["share"] == 0


def test_beibei_cli_json(sample, tmp_path) -> None:
    db = tmp_path / "k.duckdb"
    run = CliRunner().invoke(
        cli,
        ["--db", str(db), "ingest", "--source", "beibei", str(sample), "--json"],
        catch_exceptions=False,
    )
    assert run.exit_code == 0, run.output
    payload = json.loads(run.stdout)
    assert {k: payload[k] for k in SAMPLE_COUNTS} == SAMPLE_COUNTS
    assert payload["by_type"] == SAMPLE_BY_TYPE


def test_beibei_cli_help_explains_source() -> None:
    out = CliRunner().invoke(cli, ["ingest", "--help"]).output
    assert "beibei" in out and "initiator item" in out and "1.00 CNY" in out


_ids = st.integers(0, 50).map(str)
_line = st.one_of(
    st.tuples(_ids, _ids, st.lists(_ids, max_size=4)).map(lambda t: "\t".join([t[0], t[1], *t[2]])),
    st.sampled_from(["", "7", "a\tb", "1\t\t2", "3\t4\t "]),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(_line, max_size=12), st.integers(1, 40))
def test_parse_lines_matches_plain_split(lines, first) -> None:
    text = "\n".join(lines) + "\n"
    fields, rows, bad = parse_lines(text.encode(), first)
    expect_good, expect_bad = [], []
    for i, line in enumerate(lines):
        parts = line.rstrip(" \t\r").split("\t")
        if line.rstrip(" \t\r") == "":
            continue
        if len(parts) >= 2 and all(p.isdigit() for p in parts):
            expect_good.append((first + i, parts))
        else:
            expect_bad.append(first + i)
    assert list(zip(rows.tolist(), fields.to_pylist(), strict=True)) == expect_good
    assert [b.row for b in bad] == expect_bad


@pytest.mark.realdata
@pytest.mark.slow
def test_beibei_real_files_ingest_balanced(store) -> None:
    root = shared_dataset("beibei")
    files = [root / "test.txt", root / "invalid.txt"]
    lines = participants = 0
    for f in files:  # independent count with plain Python
        for line in f.read_text().splitlines():
            lines += 1
            participants += len(line.split("\t")) - 2
    assert lines == 178_642 + 211_291  # the dataset README
    summary = ingest_files(store, files, dataset="beibei")
    assert (summary.rejected, summary.duplicates) == (0, 0)
    assert summary.read == summary.inserted == lines + 2 * participants
    assert summary.by_type["share"].inserted == lines
    assert summary.by_type["view"].inserted == summary.by_type["order"].inserted == participants
    again = ingest_files(store, [files[0]], dataset="beibei")
    assert (again.inserted, again.rejected) == (0, 0)
    assert again.duplicates == 178_642 + 2 * (participants)
    assert store.counts()["order"] == participants
    # BEIBEI_BASE_TS + the last line of invalid.txt is the latest share
    latest = max(store.read_events(EventType.SHARE).column("ts").to_pylist())
    assert latest == datetime.fromtimestamp(BEIBEI_BASE_TS + 211_291, UTC)
