"""The same records load identically from CSV, JSON Lines, Parquet, gzip, mappings and batches."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from graph.duckdb_store import DuckDBStore
from graph.errors import IngestError
from graph.events import EventType
from graph.ingest import ingest_files
from tests.graph.conftest import GOOD_ROWS, SYNTH_HEADER, rejects_of


def _good_records() -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO("\n".join([SYNTH_HEADER, *GOOD_ROWS])))
    return [{k: v for k, v in row.items() if v != ""} for row in reader]


def _contents(store: DuckDBStore) -> dict[str, list]:
    """Every stored record, by type, as sorted rows (event ids included)."""
    out = {}
    for t in EventType:
        rows = store.read_events(t).to_pylist()
        out[t.value] = sorted(json.dumps(r, sort_keys=True, default=str) for r in rows)
    return out


@pytest.fixture
def reference(good_csv: Path, tmp_path: Path) -> dict[str, list]:
    with DuckDBStore(tmp_path / "ref.duckdb") as s:
        ingest_files(s, [good_csv])
        return _contents(s)


def test_ingest_jsonl_matches_csv(write_file, ingest, store, reference) -> None:
    lines = [json.dumps(r) for r in _good_records()]
    summary = ingest(write_file("good.jsonl", "\n".join(lines) + "\n"))
    assert (summary.inserted, summary.rejected) == (len(GOOD_ROWS), 0)
    assert _contents(store) == reference


def test_ingest_jsonl_native_numbers_and_objects(write_file, ingest, store) -> None:
    lines = [
        '{"type": "order", "order_id": "o", "buyer": "b", "amount": 123456.1234, "currency": "CNY", "ts": 1704067200}',
        '{"type": "user", "user_id": "u", "attrs": {"a": [1, 2]}, "role": null}',
    ]
    summary = ingest(write_file("n.jsonl", "\n".join(lines)))
    assert summary.inserted == 2
    [order] = store.read_events("order").to_pylist()
    assert str(order["amount"]) == "123456.1234"  # exact: numbers are never floats
    assert store.read_events("user").column("attrs").to_pylist() == ['{"a":[1,2]}']


def test_ingest_parquet_matches_csv(tmp_path, ingest, store, reference) -> None:
    path = tmp_path / "good.parquet"
    records = _good_records()
    names = SYNTH_HEADER.split(",")
    pq.write_table(
        pa.table({n: pa.array([r.get(n) for r in records], pa.string()) for n in names}), path
    )
    summary = ingest(path)
    assert (summary.inserted, summary.rejected) == (len(GOOD_ROWS), 0)
    assert _contents(store) == reference


def test_ingest_parquet_typed_columns_and_row_index(tmp_path, ingest, store) -> None:
    path = tmp_path / "orders.parquet"
    table = pa.table(
        {
            "order_id": ["o1", "o2", "o3"],
            "buyer": ["b", "b", "c"],
            "amount": pa.array([10, -3, 7], pa.int64()),
            "currency": ["CNY", "CNY", "CNY"],
            "ts": pa.array([1704067200000, 1704067200000, 1704067200000], pa.int64()),  # epoch ms
        }
    )
    pq.write_table(table, path)
    summary = ingest(path, event_type="order")
    assert (summary.inserted, summary.rejected) == (2, 1)
    assert rejects_of(store)[0]["row_number"] == 1  # Parquet rows: 0-based index


@pytest.mark.parametrize("name", ["good.csv.gz", "good.CSV"])
def test_ingest_gzip_and_extension_case(name, write_file, ingest, store, reference) -> None:
    path = write_file(name, "\n".join([SYNTH_HEADER, *GOOD_ROWS]) + "\n")
    ingest(path)
    assert _contents(store) == reference


def test_ingest_jsonl_gzip(write_file, ingest, store, reference) -> None:
    lines = [json.dumps(r) for r in _good_records()]
    ingest(write_file("good.jsonl.gz", "\n".join(lines)))
    assert _contents(store) == reference


def test_ingest_format_option_overrides_extension(write_file, ingest, store) -> None:
    path = write_file("events.txt", "type,sharer,content_id,ts\nshare,s,c,2024-01-01T00:00:00Z\n")
    with pytest.raises(IngestError, match="--format"):
        ingest(path)
    assert ingest(path, fmt="csv").inserted == 1


@pytest.mark.parametrize("batch_rows", [1, 2, 3, 1000])
def test_ingest_batch_size_does_not_change_result(
    batch_rows, good_csv, ingest, store, reference
) -> None:
    bad = "order,,,,,,,,,,,,,,,,,,,o9,b,-1,CNY,,,2024-01-01T00:00:00Z"
    path = good_csv.with_name("with_bad.csv")
    path.write_text(good_csv.read_text() + bad + "\n\n")
    summary = ingest(path, batch_rows=batch_rows)
    assert summary.files[0].batches >= (len(GOOD_ROWS) + 1) // max(batch_rows, 1) // 2
    assert _contents(store) == reference
    [rej] = rejects_of(store)
    assert rej["row_number"] == len(GOOD_ROWS) + 2  # header + rows, then the bad line


def test_ingest_type_option_single_type_file(write_file, ingest, store) -> None:
    text = "order_id,buyer,amount,currency,ts\no1,b,1.00,CNY,2024-01-01T00:00:00Z\n"
    summary = ingest(write_file("orders.csv", text), event_type="order")
    assert summary.by_type["order"].inserted == 1


def test_ingest_mapping_file(write_file, ingest, store) -> None:
    mapping = write_file(
        "map.toml",
        """
[columns]
kind = "type"
paid_at = "ts"
[constants]
currency = "CNY"
[type_values]
purchase = "order"
rt = "forward"
[types.order.columns]
who = "buyer"
ref = "order_id"
money = "amount"
[types.forward.columns]
who = "forwarder"
src_user = "from_user"
post = "content_id"
""",
    )
    text = (
        "kind,who,src_user,post,ref,money,paid_at\n"
        "Purchase,b1,,,o1,9.90,2024-01-01T00:00:00+08:00\n"
        "RT,b1,b2,p1,,,2024-01-02T00:00:00+08:00\n"
    )
    summary = ingest(write_file("export.csv", text), mapping=mapping)
    assert (summary.inserted, summary.rejected, summary.warnings) == (2, 0, [])
    [order] = store.read_events("order").to_pylist()
    assert (order["buyer"], order["order_id"], order["currency"], str(order["amount"])) == (
        "b1",
        "o1",
        "CNY",
        "9.9000",
    )
    [fwd] = store.read_events("forward").to_pylist()
    assert (fwd["forwarder"], fwd["from_user"], fwd["content_id"]) == ("b1", "b2", "p1")


def test_ingest_mapping_unknown_field_is_an_error(write_file, ingest) -> None:
    mapping = write_file("bad.toml", '[columns]\nuid = "user_identifier"\n')
    path = write_file("x.csv", "type,uid\nuser,u1\n")
    with pytest.raises(IngestError, match="unknown KOC field"):
        ingest(path, mapping=mapping)


def test_ingest_missing_file(tmp_path, ingest) -> None:
    with pytest.raises(IngestError, match="does not exist"):
        ingest(tmp_path / "nope.csv")


def test_ingest_user_last_record_wins(write_file, ingest, store) -> None:
    text = "type,user_id,role\nuser,u1,consumer\nuser,u1,kol\n"
    summary = ingest(write_file("users.csv", text))
    assert (summary.inserted, summary.duplicates) == (1, 1)
    assert store.read_events("user").column("role").to_pylist() == ["kol"]
    again = ingest(write_file("users2.csv", "type,user_id,role\nuser,u1,employee\n"))
    assert again.inserted == 1
    assert store.read_events("user").column("role").to_pylist() == ["employee"]


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["csv", "parquet", "jsonl"])
def test_ingest_synth_output_loads(fmt, tmp_path, store) -> None:
    synth = pytest.importorskip("graph.synth")
    out = tmp_path / "demo"
    result = synth.generate(out, synth.SynthParams(users=synth.MIN_USERS, seed=7), fmt=fmt)
    files = sorted(
        p for p in out.iterdir() if p.name.split(".")[0] in {f"{t.value}s" for t in EventType}
    )
    assert files, result
    summary = ingest_files(store, files)
    assert summary.read == summary.inserted + summary.duplicates + summary.rejected
    assert summary.rejected == 0, summary.reject_samples
    assert summary.warnings == []
    assert summary.inserted == sum(store.counts()[t.value] for t in EventType)


def test_ingest_tsv(write_file, ingest, store) -> None:
    path = write_file(
        "events.tsv", "type\tsharer\tcontent_id\tts\nshare\ts\tc,1\t2024-01-01T00:00:00Z\n"
    )
    assert ingest(path).inserted == 1
    assert store.read_events("share").column("content_id").to_pylist() == ["c,1"]


def test_ingest_progress_reaches_total(good_csv, ingest) -> None:
    calls: list[tuple[str, int, int]] = []
    ingest(good_csv, progress=lambda source, done, total: calls.append((source, done, total)))
    assert calls and calls[-1] == (
        str(good_csv.resolve()),
        good_csv.stat().st_size,
        good_csv.stat().st_size,
    )
