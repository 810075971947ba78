"""Every class of bad input is quarantined with its line, field and reason; good rows still load."""

from __future__ import annotations

from pathlib import Path

import pytest

from graph.duckdb_store import DuckDBStore
from graph.errors import IngestError
from graph.ingest import IngestSummary, ingest_records
from tests.graph.conftest import GOOD_ROWS, SYNTH_HEADER, rejects_of, synth_row

OK_VIEW = synth_row(type="view", viewer="v", sharer="s", content_id="c", ts="2024-01-01T00:00:00Z")
OK_ORDER = dict(
    type="order", order_id="o", buyer="b", amount="10.00", currency="CNY", ts="2024-01-01T00:00:00Z"
)

# (bad row, field, reason fragment)
BAD_ROWS = {
    "missing_required": (
        synth_row(type="view", sharer="s", content_id="c", ts="2024-01-01T00:00:00Z"),
        "viewer",
        "missing required field",
    ),
    "missing_ts": (
        synth_row(type="share", sharer="s", content_id="c"),
        "ts",
        "missing required field",
    ),
    "wrong_type_amount": (
        synth_row(**{**OK_ORDER, "amount": "ten"}),
        "amount",
        "not a decimal amount",
    ),
    "amount_exponent": (
        synth_row(**{**OK_ORDER, "amount": "1e3"}),
        "amount",
        "not a decimal amount",
    ),
    "amount_too_precise": (
        synth_row(**{**OK_ORDER, "amount": "1.23456"}),
        "amount",
        "more than 4 decimal places",
    ),
    "wrong_type_ts": (
        synth_row(type="share", sharer="s", content_id="c", ts="yesterday"),
        "ts",
        "not a timestamp",
    ),
    "impossible_date": (
        synth_row(type="share", sharer="s", content_id="c", ts="2024-02-30T10:00:00Z"),
        "ts",
        "not a timestamp",
    ),
    "naive_ts": (
        synth_row(type="share", sharer="s", content_id="c", ts="2024-01-01T10:00:00"),
        "ts",
        "no timezone",
    ),
    "naive_date": (
        synth_row(type="share", sharer="s", content_id="c", ts="2024-01-01"),
        "ts",
        "no timezone",
    ),
    "ts_out_of_range": (
        synth_row(type="share", sharer="s", content_id="c", ts="2150-01-01T00:00:00Z"),
        "ts",
        "outside",
    ),
    "negative_amount": (synth_row(**{**OK_ORDER, "amount": "-5.00"}), "amount", "negative amount"),
    "absurd_amount": (synth_row(**{**OK_ORDER, "amount": "1000000.01"}), "amount", "absurd amount"),
    "negative_refund": (
        synth_row(type="refund", order_id="o", amount="-1", ts="2024-01-02T00:00:00Z"),
        "amount",
        "negative amount",
    ),
    "unknown_currency": (
        synth_row(**{**OK_ORDER, "currency": "XBT"}),
        "currency",
        "unknown currency",
    ),
    "unknown_type": (synth_row(**{**OK_ORDER, "type": "purchase"}), "type", "unknown record type"),
    "missing_type": (synth_row(**{**OK_ORDER, "type": ""}), "type", "missing record type"),
    "self_view": (
        synth_row(type="view", viewer="u", sharer="u", content_id="c", ts="2024-01-01T00:00:00Z"),
        "viewer",
        "self-edge",
    ),
    "self_forward": (
        synth_row(
            type="forward", forwarder="u", from_user="u", content_id="c", ts="2024-01-01T00:00:00Z"
        ),
        "forwarder",
        "self-edge",
    ),
    "self_comment": (
        synth_row(
            type="comment", commenter="u", on_user="u", content_id="c", ts="2024-01-01T00:00:00Z"
        ),
        "commenter",
        "self-edge",
    ),
    "self_referral": (
        synth_row(type="referral", referrer="u", referee="u", ts="2024-01-01T00:00:00Z"),
        "referee",
        "self-edge",
    ),
    "invalid_role": (synth_row(type="user", user_id="u", role="boss"), "role", "invalid role"),
    "malformed_attrs": (
        synth_row(type="user", user_id="u", attrs="{vip: yes"),
        "attrs",
        "malformed JSON",
    ),
    "attrs_not_object": (
        synth_row(type="user", user_id="u", attrs="[1]"),
        "attrs",
        "not a JSON object",
    ),
    "id_too_long": (
        synth_row(type="share", sharer="x" * 129, content_id="c", ts="2024-01-01T00:00:00Z"),
        "sharer",
        "longer than 128",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_ROWS))
def test_ingest_bad_row_quarantined(case, write_file, ingest, store: DuckDBStore) -> None:
    bad, field, reason = BAD_ROWS[case]
    path = write_file(
        "in.csv", f"{SYNTH_HEADER}\n{OK_VIEW}\n{bad}\n{OK_VIEW.replace(',v,', ',w,')}\n"
    )
    summary = ingest(path)
    assert (summary.read, summary.inserted, summary.rejected) == (3, 2, 1)
    [rej] = rejects_of(store)
    assert rej["row_number"] == 3  # header is line 1
    assert rej["field"] == field
    assert reason in rej["reason"]
    assert rej["source"] == str(path.resolve())
    assert rej["raw"] and "type" in rej["raw"]
    assert any(reason in s.reason and s.row == 3 for s in summary.reject_samples)


def test_ingest_good_rows_all_load(good_csv: Path, ingest, store: DuckDBStore) -> None:
    summary = ingest(good_csv)
    assert (summary.read, summary.inserted, summary.rejected) == (len(GOOD_ROWS), len(GOOD_ROWS), 0)
    counts = store.counts()
    assert {
        k: counts[k]
        for k in ("user", "share", "view", "forward", "comment", "referral", "order", "refund")
    } == {
        "user": 2,
        "share": 1,
        "view": 2,
        "forward": 1,
        "comment": 1,
        "referral": 1,
        "order": 2,
        "refund": 1,
    }
    orders = {r["order_id"]: r for r in store.read_events("order").to_pylist()}
    assert str(orders["o1"]["amount"]) == "199.0000" and orders["o2"]["currency"] == "USD"
    # 2024-03-01T10:00:00+08:00 == 02:00 UTC
    [share] = store.read_events("share").to_pylist()
    assert share["ts"].isoformat() == "2024-03-01T02:00:00+00:00"
    users = {r["user_id"]: r for r in store.read_events("user").to_pylist()}
    assert users["alice"]["role"] == "consumer" and '"vip"' in users["alice"]["attrs"]


def test_ingest_epoch_seconds_and_milliseconds_same_instant(write_file, ingest, store) -> None:
    # 1704067200 s == 1704067200000 ms == 2024-01-01T00:00:00Z: one event, then a duplicate
    rows = [
        synth_row(type="share", sharer="s", content_id="c", ts=ts)
        for ts in ("1704067200", "1704067200000", "2024-01-01T08:00:00+08:00")
    ]
    summary = ingest(write_file("e.csv", "\n".join([SYNTH_HEADER, *rows])))
    assert (summary.inserted, summary.duplicates) == (1, 2)
    [share] = store.read_events("share").to_pylist()
    assert share["ts"].isoformat() == "2024-01-01T00:00:00+00:00"


def test_ingest_huge_field_rejected(write_file, ingest, store) -> None:
    big = synth_row(
        type="share", sharer="s", content_id="c", channel="x" * 100, ts="2024-01-01T00:00:00Z"
    )
    summary = ingest(write_file("h.csv", f"{SYNTH_HEADER}\n{OK_VIEW}\n{big}\n"), max_field_bytes=64)
    assert (summary.inserted, summary.rejected) == (1, 1)
    [rej] = rejects_of(store)
    assert rej["field"] == "channel" and "100 bytes" in rej["reason"] and rej["row_number"] == 3


@pytest.mark.parametrize("policy", ["warn", "ignore", "reject"])
def test_ingest_unknown_columns_policy(policy, write_file, ingest, store) -> None:
    text = "type,sharer,content_id,ts,mood\nshare,s,c1,2024-01-01T00:00:00Z,happy\nshare,s,c2,2024-01-01T00:00:00Z,\n"
    summary = ingest(write_file("u.csv", text), unknown_columns=policy)
    if policy == "reject":
        assert (summary.inserted, summary.rejected) == (1, 1)
        [rej] = rejects_of(store)
        assert (rej["field"], rej["value"], rej["row_number"]) == ("mood", "happy", 2)
    else:
        assert (summary.inserted, summary.rejected) == (2, 0)
        assert any("mood" in w for w in summary.warnings) == (policy == "warn")


def test_ingest_order_conflict_within_file(write_file, ingest, store) -> None:
    rows = [
        synth_row(**OK_ORDER),
        synth_row(**{**OK_ORDER, "amount": "11.00"}),  # same order_id, other content
        synth_row(**OK_ORDER),  # exact repeat: a duplicate, not a conflict
    ]
    summary = ingest(write_file("o.csv", "\n".join([SYNTH_HEADER, *rows])))
    assert (summary.inserted, summary.duplicates, summary.rejected) == (1, 1, 1)
    [rej] = rejects_of(store)
    assert (rej["row_number"], rej["field"]) == (3, "order_id") and "conflict" in rej["reason"]
    assert str(store.read_events("order").column("amount")[0].as_py()) == "10.0000"


def test_ingest_order_conflict_with_stored_order(write_file, ingest, store) -> None:
    ingest(write_file("a.csv", f"{SYNTH_HEADER}\n{synth_row(**OK_ORDER)}\n"))
    changed = synth_row(**{**OK_ORDER, "buyer": "someone-else"})
    summary = ingest(write_file("b.csv", f"{SYNTH_HEADER}\n{changed}\n"))
    assert (summary.inserted, summary.rejected) == (0, 1)
    assert "conflict" in rejects_of(store)[0]["reason"]
    assert store.counts()["order"] == 1


def test_ingest_truncated_last_line(write_file, ingest, store) -> None:
    text = f"{SYNTH_HEADER}\n{OK_VIEW}\nview,,v2,s"  # cut off mid-row, no final newline
    summary = ingest(write_file("t.csv", text))
    assert (summary.read, summary.inserted, summary.rejected) == (2, 1, 1)
    [rej] = rejects_of(store)
    assert rej["row_number"] == 3 and "truncated" in rej["reason"]


def test_ingest_unterminated_quote_rejected_alone(write_file, ingest, store) -> None:
    text = 'type,sharer,content_id,ts\nshare,s,"c1,2024-01-01T00:00:00Z\nshare,s,c2,2024-01-01T00:00:00Z\n'
    summary = ingest(write_file("q.csv", text))
    assert (summary.read, summary.inserted, summary.rejected) == (2, 1, 1)
    assert rejects_of(store)[0]["row_number"] == 2


def test_ingest_invalid_utf8_csv(write_file, ingest, store) -> None:
    data = (
        b"type,sharer,content_id,ts\n"
        b"share,s,c1,2024-01-01T00:00:00Z\n"
        b"share,s,c\xff\xfe,2024-01-01T00:00:00Z\n"
        b"share,s,\xe4\xbd\xa0\xe5\xa5\xbd,2024-01-01T00:00:00Z\n"
    )
    summary = ingest(write_file("bad.csv", data))
    assert (summary.read, summary.inserted, summary.rejected) == (3, 2, 1)
    [rej] = rejects_of(store)
    assert (rej["row_number"], rej["field"]) == (3, "content_id") and "UTF-8" in rej["reason"]
    assert "你好" in store.read_events("share").column("content_id").to_pylist()


def test_ingest_invalid_utf8_jsonl(write_file, ingest, store) -> None:
    data = b'{"type":"share","sharer":"s","content_id":"c1","ts":"2024-01-01T00:00:00Z"}\n{"type":"share","sharer":"\xff","content_id":"c2","ts":"2024-01-01T00:00:00Z"}\n'
    summary = ingest(write_file("bad.jsonl", data))
    assert (summary.inserted, summary.rejected) == (1, 1)
    assert rejects_of(store)[0]["row_number"] == 2


def test_ingest_malformed_json_line(write_file, ingest, store) -> None:
    data = '{"type":"share","sharer":"s","content_id":"c1","ts":"2024-01-01T00:00:00Z"}\n{"type": "share", \n[1, 2]\n'
    summary = ingest(write_file("m.jsonl", data))
    assert (summary.read, summary.inserted, summary.rejected) == (3, 1, 2)
    rej = rejects_of(store)
    assert [r["row_number"] for r in rej] == [2, 3]
    assert "malformed JSON" in rej[0]["reason"] and "not a JSON object" in rej[1]["reason"]


def test_ingest_byte_order_mark_and_crlf(write_file, ingest, store) -> None:
    text = "\ufefftype,sharer,content_id,ts\r\nshare,s,c1,2024-01-01T00:00:00Z\r\nshare,s,c2,2024-01-01T00:00:00Z\r\n"
    summary = ingest(write_file("bom.csv", text.encode("utf-8")))
    assert (summary.inserted, summary.rejected, summary.warnings) == (2, 0, [])
    assert sorted(store.read_events("share").column("content_id").to_pylist()) == ["c1", "c2"]


def test_ingest_empty_file(write_file, ingest, store) -> None:
    summary = ingest(write_file("empty.csv", b""))
    assert summary.read == 0 and "empty" in summary.warnings[0]
    assert store.counts()["rejects"] == 0


def test_ingest_header_only_file(write_file, ingest) -> None:
    summary = ingest(write_file("header.csv", SYNTH_HEADER + "\n"))
    assert summary.read == 0 and "no data rows" in summary.warnings[0]


def test_ingest_blank_lines_keep_line_numbers(write_file, ingest, store) -> None:
    bad = synth_row(**{**OK_ORDER, "currency": "XBT"})
    summary = ingest(write_file("b.csv", f"{SYNTH_HEADER}\n\n{OK_VIEW}\n\n{bad}\n"))
    assert (summary.read, summary.inserted, summary.rejected) == (2, 1, 1)
    assert rejects_of(store)[0]["row_number"] == 5


def test_ingest_no_type_column_needs_type(write_file, ingest) -> None:
    path = write_file("n.csv", "sharer,content_id,ts\ns,c,2024-01-01T00:00:00Z\n")
    with pytest.raises(IngestError, match="--type"):
        ingest(path)


def test_ingest_records_same_rules(store: DuckDBStore) -> None:
    records = [
        {**OK_ORDER, "amount": 12.5},
        {**OK_ORDER, "order_id": "o2", "amount": "-1"},
        {"type": "user", "user_id": "u", "attrs": {"tier": "gold"}},
        "not a record",
    ]
    summary = ingest_records(store, records)
    assert isinstance(summary, IngestSummary)
    assert (summary.read, summary.inserted, summary.rejected) == (4, 2, 2)
    rej = rejects_of(store)
    assert [(r["row_number"], r["field"]) for r in rej] == [(1, "amount"), (3, None)]
    assert all(r["source"] == "api" for r in rej)
    assert store.read_events("user").column("attrs").to_pylist() == ['{"tier":"gold"}']
    summary = ingest_records(store, records)  # again: nothing new
    assert (summary.inserted, summary.duplicates, summary.rejected) == (0, 2, 2)
    assert store.counts()["rejects"] == 2


def test_ingest_records_event_type_argument(store: DuckDBStore) -> None:
    summary = ingest_records(
        store,
        [{"sharer": "s", "content_id": "c", "ts": "2024-01-01T00:00:00Z"}],
        event_type="share",
    )
    assert summary.inserted == 1 and store.counts()["share"] == 1


def test_ingest_records_empty_list(store: DuckDBStore) -> None:
    summary = ingest_records(store, [])
    assert summary.to_dict()["read"] == 0


def test_ingest_given_event_id_is_kept(store: DuckDBStore) -> None:
    rec = {
        "type": "share",
        "event_id": "my-id-1",
        "sharer": "s",
        "content_id": "c",
        "ts": "2024-01-01T00:00:00Z",
    }
    ingest_records(store, [rec])
    assert store.read_events("share").column("event_id").to_pylist() == ["my-id-1"]


def test_ingest_records_invalid_unicode_rejected(store: DuckDBStore) -> None:
    records = [
        {"type": "share", "sharer": "s", "content_id": "c\ud800", "ts": "2024-01-01T00:00:00Z"},
        {"type": "share", "sharer": "s", "content_id": "ok", "ts": "2024-01-01T00:00:00Z"},
    ]
    summary = ingest_records(store, records)
    assert (summary.inserted, summary.rejected) == (1, 1)
    [rej] = rejects_of(store)
    assert rej["row_number"] == 0 and "Unicode" in rej["reason"]


@pytest.mark.parametrize("name", ["_row", "_type", "t$ts"])
def test_ingest_reserved_column_names_ignored(name, store: DuckDBStore) -> None:
    rec = {
        "type": "share",
        "sharer": "s",
        "content_id": "c",
        "ts": "2024-01-01T00:00:00Z",
        name: "x",
    }
    summary = ingest_records(store, [rec])
    assert summary.inserted == 1
    assert any("reserved" in w for w in summary.warnings)


def test_validator_iso_seconds_batch_same_outcome_as_general_rules(monkeypatch) -> None:
    """A batch whose timestamps all look like ``2024-01-01T10:00:00+08:00`` is checked
    without regexes; valid rows, typed values and quarantine rows are those of the
    general rules, also for impossible dates, offsets and the range limits."""
    import numpy as np
    import pyarrow as pa

    import graph.ingest.validate as validate
    from graph.events import EventType
    from graph.ingest.readers import RawBatch

    stamps = [
        "2024-01-01T10:00:00+08:00",
        "2024-06-30T23:59:59-05:30",
        "2024-13-01T00:00:00+08:00",
        "2024-02-30T10:00:00+08:00",
        "2024-01-01T24:00:00+00:00",
        "2024-01-01T10:61:00+00:00",
        "2024-01-01T10:00:00+19:00",
        "2024-01-01T10:00:00+18:00",
        "2024-01-01T10:00:00-18:59",
        "2024-01-01T10:00:00+08:60",
        "1969-12-31T23:59:59+00:00",
        "1970-01-01T00:00:00+00:00",
        "2099-12-31T23:59:59-18:00",
        "2100-01-01T00:00:00+00:00",
        "0000-01-01T00:00:00+00:00",
    ]
    n = len(stamps)
    table = pa.table(
        {
            "type": ["view"] * n,
            "viewer": [f"v{i}" for i in range(n)],
            "sharer": ["s"] * n,
            "content_id": ["c"] * n,
            "ts": stamps,
        }
    )

    def run() -> tuple[validate.ValidatedBatch, set[str]]:
        v = validate.Validator()
        try:
            out = v.validate(RawBatch(table, np.arange(2, n + 2, dtype=np.int64), []), "f.csv")
            return out, v._iso_seconds
        finally:
            v.close()

    fast, fast_columns = run()
    monkeypatch.setattr(validate, "_all_iso_seconds", lambda col: False)
    general, general_columns = run()
    assert fast_columns == {"ts"} and not general_columns
    reasons = " | ".join(fast.rejects.column("reason").to_pylist())
    assert "UTC offset out of range" in reasons and "outside 1970-01-01" in reasons
    assert fast.tables[EventType.VIEW].equals(general.tables[EventType.VIEW])
    assert fast.rejects.equals(general.rejects)
    assert 0 < fast.rejects.num_rows < n
    assert fast.tables[EventType.VIEW].num_rows + fast.rejects.num_rows == n


def test_all_iso_seconds_only_that_shape() -> None:
    import pyarrow as pa

    from graph.ingest.validate import _all_iso_seconds

    assert _all_iso_seconds(pa.chunked_array([["2024-01-01T10:00:00+08:00", None]]))
    for other in ("2024-01-01T10:00:60+08:00", "2024-01-01 10:00:00+08:00", "2024-01-01T10:00:00Z"):
        assert not _all_iso_seconds(pa.chunked_array([["2024-01-01T10:00:00+08:00", other]]))
    assert not _all_iso_seconds(pa.chunked_array([[None, None]], pa.string()))
