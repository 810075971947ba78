"""A corpus of hostile and broken input (issue 14): every class through `koc ingest`.

Each value class is a handful of records: valid ones around one or two bad (or
tricky) ones. Through the CLI (JSON Lines and, where the values survive CSV, CSV)
every class must: quarantine exactly the bad rows with their row number, field
and a reason; load every valid row; balance (read = inserted + duplicates +
rejected); and exit as documented (0, or 1 with ``--strict`` when a row was
rejected). File-level classes (encodings, headers, gzip, Parquet, the file
system) are below them; those that stop a load exit with status 2 and a message
naming the file. ``tests/api/test_bad_input_corpus_api.py`` posts the same value
classes to ``POST /v1/events`` on a real server.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from api.cli import main
from graph.duckdb_store import DuckDBStore
from tests.graph.conftest import rejects_of

TS = "2024-03-01T10:00:00Z"


def share(sharer: Any, content: str = "c", ts: Any = TS, **kw: Any) -> dict[str, Any]:
    return {"type": "share", "sharer": sharer, "content_id": content, "ts": ts, **kw}


def view(viewer: Any, sharer: Any, ts: Any = TS, **kw: Any) -> dict[str, Any]:
    return {"type": "view", "viewer": viewer, "sharer": sharer, "content_id": "c", "ts": ts, **kw}


def order(oid: str, buyer: str, amount: Any = "10.00", **kw: Any) -> dict[str, Any]:
    row = {"type": "order", "order_id": oid, "buyer": buyer, "amount": amount, "currency": "CNY"}
    return {**row, "ts": TS, **kw}


def refund(oid: str, amount: Any, ts: Any = "2024-03-02T10:00:00Z") -> dict[str, Any]:
    return {"type": "refund", "order_id": oid, "amount": amount, "ts": ts}


def user(uid: Any, role: str = "consumer", **kw: Any) -> dict[str, Any]:
    return {"type": "user", "user_id": uid, "role": role, **kw}


@dataclass
class Case:
    """One class of bad input.

    ``records`` are JSON-ready dicts; ``bad`` maps a record's index to the field
    and a fragment of the reason it is quarantined with; ``duplicates`` counts
    exact repeats; ``check(store, prefix)`` looks at what was stored.
    """

    records: list[dict[str, Any]]
    bad: dict[int, tuple[str, str]] = field(default_factory=dict)
    duplicates: int = 0
    csv_ok: bool = True  # the values survive a CSV file unchanged
    check: Callable[[DuckDBStore], None] | None = None


def _spend(store: DuckDBStore) -> dict[str, tuple[Decimal, Decimal]]:
    return {r["user_id"]: (r["gross"], r["refunded"]) for r in store.read_spend().to_pylist()}


def _users(store: DuckDBStore) -> set[str]:
    return set(store.node_ids().tolist())


def _leap(store: DuckDBStore) -> None:
    [s] = store.read_events("share").to_pylist()
    assert s["ts"] == datetime(2017, 1, 1, tzinfo=UTC)  # 23:59:60 is the next second


CASES: dict[str, Case] = {
    # --- amounts
    "amount_35_digits": Case(
        [order("o1", "b"), order("o2", "b", "9" * 35)], {1: ("amount", "absurd amount")}
    ),
    "amount_negative": Case(
        [order("o1", "b"), order("o2", "b", "-5.00")], {1: ("amount", "negative amount")}
    ),
    "amount_text": Case(
        [order("o1", "b"), order("o2", "b", "ten")], {1: ("amount", "not a decimal amount")}
    ),
    "amount_thousands_separator": Case(
        [order("o1", "b"), order("o2", "b", "1,000.00")], {1: ("amount", "not a decimal amount")}
    ),
    "amount_exponent_text": Case(
        [order("o1", "b"), order("o2", "b", "1e3")], {1: ("amount", "not a decimal amount")}
    ),
    "amount_five_decimals": Case(
        [order("o1", "b"), order("o2", "b", "1.00001")],
        {1: ("amount", "more than 4 decimal places")},
    ),
    "amount_far_decimal": Case(
        [order("o1", "b"), order("o2", "b", "1." + "0" * 40 + "1")],
        {1: ("amount", "more than 4 decimal places")},
    ),
    "amount_absurd": Case(
        [order("o1", "b"), order("o2", "b", "1000000.01")], {1: ("amount", "absurd amount")}
    ),
    # --- currencies
    "currency_unknown": Case(
        [order("o1", "b"), order("o2", "b", currency="XBT")], {1: ("currency", "unknown currency")}
    ),
    "currency_symbol": Case(
        [order("o1", "b"), order("o2", "b", currency="¥")], {1: ("currency", "unknown currency")}
    ),
    "currency_lower_case_ok": Case(
        [order("o1", "b", currency="usd"), order("o2", "b", currency="Cny")]
    ),
    # --- timestamps and offsets
    "ts_naive": Case(
        [share("s"), share("s", "c2", "2024-03-01T10:00:00")], {1: ("ts", "no timezone")}
    ),
    "ts_date_only": Case([share("s"), share("s", "c2", "2024-03-01")], {1: ("ts", "no timezone")}),
    "ts_impossible_date": Case(
        [share("s"), share("s", "c2", "2024-02-30T10:00:00Z")], {1: ("ts", "not a timestamp")}
    ),
    "ts_offset_hours_out_of_range": Case(
        [share("s"), share("s", "c2", "2024-03-01T10:00:00+25:00")], {1: ("ts", "UTC offset")}
    ),
    "ts_offset_minutes_out_of_range": Case(
        [share("s"), share("s", "c2", "2024-03-01T10:00:00+08:99")], {1: ("ts", "UTC offset")}
    ),
    "ts_before_1970": Case(
        [share("s"), share("s", "c2", "1969-12-31T23:59:59Z")], {1: ("ts", "outside")}
    ),
    "ts_words": Case([share("s"), share("s", "c2", "yesterday")], {1: ("ts", "not a timestamp")}),
    "ts_leap_second": Case([share("s", ts="2016-12-31T23:59:60Z")], check=_leap),
    "ts_epoch_seconds_and_ms_same": Case(
        [share("s", ts="1704067200"), share("s", ts="1704067200000")], duplicates=1
    ),
    # --- ids: control and invisible characters, look-alikes, notations
    "id_nul_byte": Case(
        [share("s"), share("a\x00b")], {1: ("sharer", "invisible or control")}, csv_ok=False
    ),
    "id_control_char": Case(
        [share("s"), share("a\x07b")], {1: ("sharer", "invisible or control")}, csv_ok=False
    ),
    "id_zero_width": Case(
        [share("s"), share("alice\u200b")], {1: ("sharer", "invisible or control")}
    ),
    "id_bidi_override": Case(
        [share("s"), share("\u202eadmin")], {1: ("sharer", "invisible or control")}
    ),
    "id_non_ascii_space": Case(
        [share("s"), share("alice\u00a0x")], {1: ("sharer", "invisible or control")}
    ),
    "id_nfd_equals_nfc": Case(
        [share("e\u0301", "c1"), share("\u00e9", "c2")],
        check=lambda st: (_users(st) == {"\u00e9"}) or pytest.fail(f"users {_users(st)}"),
    ),
    "id_too_long": Case([share("s"), share("x" * 129)], {1: ("sharer", "longer than 128")}),
    "self_referral_look_alike": Case(
        [
            user("alice"),
            {"type": "referral", "referrer": "alice", "referee": "alice\u200b", "ts": TS},
        ],
        {1: ("referee", "invisible or control")},
    ),
    "self_edge": Case([view("v", "s"), view("s", "s")], {1: ("viewer", "self-edge")}),
    # --- record shape
    "missing_required": Case(
        [view("v", "s"), {"type": "view", "sharer": "s", "content_id": "c", "ts": TS}],
        {1: ("viewer", "missing required field")},
    ),
    "unknown_type": Case(
        [share("s"), {"type": "purchase", "sharer": "s"}], {1: ("type", "unknown record type")}
    ),
    "missing_type": Case(
        [share("s"), {"sharer": "s", "content_id": "c", "ts": TS}],
        {1: ("type", "missing record type")},
    ),
    "empty_record": Case([share("s"), {}], {1: ("type", "missing record type")}, csv_ok=False),
    "role_invalid": Case([user("u1"), user("u2", "boss")], {1: ("role", "invalid role")}),
    "attrs_malformed": Case(
        [user("u1"), user("u2", attrs="{vip: yes")], {1: ("attrs", "malformed JSON")}
    ),
    "attrs_not_object": Case(
        [user("u1"), user("u2", attrs="[1]")], {1: ("attrs", "not a JSON object")}
    ),
    # --- duplicates and conflicts
    "duplicate_exact": Case([order("o1", "b"), order("o1", "b")], duplicates=1),
    "order_conflict": Case(
        [order("o1", "b", "10.00"), order("o1", "b", "9999.00")],
        {1: ("order_id", "conflict: this order_id")},
        check=lambda st: _spend(st)["b"][0] == Decimal("10") or pytest.fail(str(_spend(st))),
    ),
    "event_id_conflict": Case(
        [share("s", event_id="e-1"), share("t", event_id="e-1")],
        {1: ("event_id", "conflict: this event_id")},
    ),
    # --- refunds before, without and above their order
    "refund_before_order": Case(
        [refund("o1", "4.00", "2024-02-01T00:00:00Z"), order("o1", "b")],
        check=lambda st: (
            _spend(st)["b"] == (Decimal("10"), Decimal("4")) or pytest.fail(str(_spend(st)))
        ),
    ),
    "refund_without_order": Case([refund("nowhere", "4.00"), order("o1", "b")]),
    "refund_above_order": Case(
        [order("o1", "b"), refund("o1", "50.00")],
        check=lambda st: (
            _spend(st)["b"] == (Decimal("10"), Decimal("10")) or pytest.fail(str(_spend(st)))
        ),
    ),
    "refund_negative": Case(
        [order("o1", "b"), refund("o1", "-1")], {1: ("amount", "negative amount")}
    ),
}
_NOTATIONS = Case(  # JSON numbers as ids: one user, whatever the notation
    [
        share(100000, "c1"),
        share(Decimal("100000.0"), "c2"),
        share(Decimal("1E+5"), "c3"),
        share("100000", "c4"),
    ],
    check=lambda st: (_users(st) == {"100000"}) or pytest.fail(str(_users(st))),
)


def _jsonl(records: list[dict[str, Any]]) -> str:
    def enc(v: Any) -> Any:
        return str(v) if isinstance(v, Decimal) else v

    lines = []
    for r in records:
        text = json.dumps({k: enc(v) for k, v in r.items()}, ensure_ascii=False)
        for k, v in r.items():  # Decimals as bare JSON numbers, written as given
            if isinstance(v, Decimal):
                text = text.replace(f'"{k}": "{v}"', f'"{k}": {v}')
        lines.append(text)
    return "\n".join(lines) + "\n"


def _csv(records: list[dict[str, Any]]) -> str:
    names = list(dict.fromkeys(["type", *(k for r in records for k in r)]))
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(names)
    for r in records:
        w.writerow(["" if r.get(n) is None else r.get(n) for n in names])
    return buf.getvalue()


def _cli(db: Path, *args: str) -> tuple[int, dict[str, Any] | None, str]:
    """``koc --db DB ingest ARGS --json`` through the console entry point (exit status as
    a user sees it: errors that stop the load are exit 2 with a message)."""
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with redirect_stdout(out), redirect_stderr(err):
        try:
            main(["--db", str(db), "ingest", *args, "--json"])
        except SystemExit as exc:
            code = int(exc.code or 0)
    try:
        payload = json.loads(out.getvalue())
    except ValueError:
        payload = None
    assert "Traceback" not in err.getvalue()
    return code, payload, out.getvalue() + err.getvalue()


def _assert_case(case: Case, db: Path, path: Path, first_row: int) -> None:
    code, s, out = _cli(db, str(path), "--strict")
    assert s is not None, out
    n = len(case.records)
    assert s["read"] == n == s["inserted"] + s["duplicates"] + s["rejected"]
    assert s["rejected"] == len(case.bad) and s["duplicates"] == case.duplicates
    assert s["inserted"] == n - len(case.bad) - case.duplicates  # every valid row loaded
    assert code == (1 if case.bad else 0)  # --strict: 1 when a row was rejected
    with DuckDBStore(db, read_only=True) as store:
        got = {r["row_number"]: r for r in rejects_of(store)}
        assert sorted(got) == sorted(first_row + i for i in case.bad)
        for i, (fld, reason) in case.bad.items():
            rej = got[first_row + i]
            assert (rej["field"], rej["source"]) == (fld, str(path.resolve()))
            assert reason in rej["reason"], rej
        if case.check is not None:
            case.check(store)


@pytest.mark.parametrize("name", sorted(CASES))
def test_corpus_value_class_jsonl(name: str, tmp_path: Path) -> None:
    path = tmp_path / f"{name}.jsonl"
    path.write_text(_jsonl(CASES[name].records), encoding="utf-8")
    _assert_case(CASES[name], tmp_path / "k.duckdb", path, first_row=1)


@pytest.mark.parametrize("name", sorted(n for n, c in CASES.items() if c.csv_ok))
def test_corpus_value_class_csv(name: str, tmp_path: Path) -> None:
    path = tmp_path / f"{name}.csv"
    path.write_text(_csv(CASES[name].records), encoding="utf-8")
    _assert_case(CASES[name], tmp_path / "k.duckdb", path, first_row=2)


def test_corpus_json_number_id_notations(tmp_path: Path) -> None:
    path = tmp_path / "ids.jsonl"
    path.write_text(_jsonl(_NOTATIONS.records))
    _assert_case(_NOTATIONS, tmp_path / "k.duckdb", path, first_row=1)


# --- file-level classes ----------------------------------------------------------------------
GOOD = "type,user_id,role\nuser,u1,consumer\nuser,u2,kol\n"


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _rejected(db: Path) -> list[dict[str, Any]]:
    with DuckDBStore(db, read_only=True) as store:
        return rejects_of(store)


def test_corpus_invalid_utf8(tmp_path: Path) -> None:
    path = _write(tmp_path / "e.csv", GOOD.encode() + b"user,u\xff3,consumer\n")
    code, s, _ = _cli(tmp_path / "k.duckdb", str(path))
    assert code == 0 and s and (s["inserted"], s["rejected"]) == (2, 1)
    [rej] = _rejected(tmp_path / "k.duckdb")
    assert (rej["row_number"], rej["reason"]) == (4, "invalid UTF-8")


def test_corpus_bom_and_crlf_accepted(tmp_path: Path) -> None:
    path = _write(tmp_path / "b.csv", b"\xef\xbb\xbf" + GOOD.replace("\n", "\r\n").encode())
    code, s, _ = _cli(tmp_path / "k.duckdb", str(path), "--strict")
    assert code == 0 and s and (s["inserted"], s["rejected"]) == (2, 0)


def test_corpus_utf16_file_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "w.csv", GOOD.encode("utf-16"))
    code, _, out = _cli(tmp_path / "k.duckdb", str(path))
    assert code == 2 and "header line is not valid UTF-8" in out and str(path) in out


def test_corpus_header_empty_column_name(tmp_path: Path) -> None:
    path = _write(tmp_path / "h.csv", b"type,user_id,role,\nuser,u1,consumer,\nuser,u2,boss,x\n")
    code, s, _ = _cli(tmp_path / "k.duckdb", str(path), "--strict")
    assert code == 1 and s and (s["inserted"], s["rejected"]) == (1, 1)
    assert any("empty column name" in w for w in s["warnings"])
    [rej] = _rejected(tmp_path / "k.duckdb")
    assert (rej["row_number"], rej["field"]) == (3, "role")


def test_corpus_header_repeated_column(tmp_path: Path) -> None:
    path = _write(tmp_path / "d.csv", b"type,user_id,user_id\nuser,u1,u2\n")
    code, _, out = _cli(tmp_path / "k.duckdb", str(path))
    assert code == 2 and "repeats a column name" in out


def test_corpus_header_only_and_empty_file(tmp_path: Path) -> None:
    for name, data, warning in (
        ("h.csv", b"type,user_id\n", "header but no data rows"),
        ("e.csv", b"", "the file is empty"),
    ):
        code, s, _ = _cli(tmp_path / "k.duckdb", str(_write(tmp_path / name, data)), "--strict")
        assert code == 0 and s and s["read"] == 0 and any(warning in w for w in s["warnings"])


def test_corpus_truncated_last_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "t.csv", GOOD.encode() + b"user,u3")
    code, s, _ = _cli(tmp_path / "k.duckdb", str(path), "--strict")
    assert code == 1 and s and (s["inserted"], s["rejected"]) == (2, 1)
    [rej] = _rejected(tmp_path / "k.duckdb")
    assert rej["row_number"] == 4 and "expected 3 fields, found 2" in rej["reason"]


def test_corpus_unterminated_quote(tmp_path: Path) -> None:
    path = _write(tmp_path / "q.csv", b'type,user_id,role\nuser,"u1,consumer\nuser,u2,kol\n')
    code, s, _ = _cli(tmp_path / "k.duckdb", str(path))
    assert code == 0 and s and (s["inserted"], s["rejected"]) == (1, 1)
    [rej] = _rejected(tmp_path / "k.duckdb")
    assert rej["row_number"] == 2 and "unterminated quote" in rej["reason"]


def test_corpus_gzip_corrupt(tmp_path: Path) -> None:
    path = _write(tmp_path / "c.csv.gz", b"\x1f\x8b\x08\x00garbage-not-deflate" * 10)
    code, _, out = _cli(tmp_path / "k.duckdb", str(path))
    assert code == 2 and "is it really gzip-compressed" in out and "c.csv.gz" in out


def test_corpus_gzip_truncated(tmp_path: Path) -> None:
    rows = "".join(f"user,u{i},consumer\n" for i in range(2000))
    data = gzip.compress(("type,user_id,role\n" + rows).encode())
    path = _write(tmp_path / "t.csv.gz", data[: len(data) // 2])
    code, _, out = _cli(tmp_path / "k.duckdb", str(path))
    assert code == 2 and "t.csv.gz" in out


def test_corpus_not_gzip_despite_extension(tmp_path: Path) -> None:
    path = _write(tmp_path / "plain.csv.gz", GOOD.encode())
    code, _, out = _cli(tmp_path / "k.duckdb", str(path))
    assert code == 2 and "is it really gzip-compressed" in out


def test_corpus_parquet_corrupt(tmp_path: Path) -> None:
    path = _write(tmp_path / "x.parquet", b"PAR1" + os.urandom(200) + b"PAR1")
    code, _, out = _cli(tmp_path / "k.duckdb", str(path))
    assert code == 2 and "not a readable Parquet file" in out


def test_corpus_parquet_nested_and_naive_columns(tmp_path: Path) -> None:
    path = tmp_path / "n.parquet"
    t = pa.table(
        {
            "type": ["share", "share"],
            "sharer": ["s1", "s2"],
            "content_id": ["c1", "c2"],
            "ts": pa.array(
                [datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 1)], pa.timestamp("us")
            ),
            "tags": pa.array([["a"], ["b", "c"]], pa.list_(pa.string())),
        }
    )
    pq.write_table(t, path)
    code, s, out = _cli(tmp_path / "k.duckdb", str(path))
    # a timestamp column without a time zone: every row rejected, which fails the load
    assert code == 1 and s and (s["read"], s["inserted"], s["rejected"]) == (2, 0, 2)
    assert "every row of" in out and any("tags" in w for w in s["warnings"])
    assert all("no timezone" in r["reason"] for r in _rejected(tmp_path / "k.duckdb"))


def test_corpus_fifo_and_folder_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "p.csv"
    os.mkfifo(fifo)
    code, _, out = _cli(tmp_path / "k.duckdb", str(fifo))
    assert code == 2 and "FIFO" in out
    folder = tmp_path / "dir.csv"
    folder.mkdir()
    code, _, out = _cli(tmp_path / "k.duckdb", str(folder))
    assert code == 2 and "is a directory" in out


def test_corpus_jsonl_malformed_and_not_object(tmp_path: Path) -> None:
    text = '{"type": "user", "user_id": "u1"}\n{"type": \n[1, 2]\n"text"\n{"type": "user", "user_id": "u2"}\n'
    code, s, _ = _cli(tmp_path / "k.duckdb", str(_write(tmp_path / "m.jsonl", text.encode())))
    assert code == 0 and s and (s["inserted"], s["rejected"]) == (2, 3)
    reasons = {r["row_number"]: r["reason"] for r in _rejected(tmp_path / "k.duckdb")}
    assert (
        "malformed JSON" in reasons[2] and reasons[3] == reasons[4] == "line is not a JSON object"
    )


def test_corpus_jsonl_nan_and_deep(tmp_path: Path) -> None:
    deep = '{"type": "user", "user_id": "u3", "attrs": ' + "[" * 2000 + "]" * 2000 + "}"
    text = (
        '{"type": "user", "user_id": "u1"}\n{"type": "user", "user_id": "u2", "attrs": {"x": NaN}}\n'
        + deep
        + "\n"
    )
    code, s, _ = _cli(tmp_path / "k.duckdb", str(_write(tmp_path / "n.jsonl", text.encode())))
    assert code == 0 and s and (s["inserted"], s["rejected"]) == (1, 2)
    reasons = {r["row_number"]: r["reason"] for r in _rejected(tmp_path / "k.duckdb")}
    assert "NaN is not valid JSON" in reasons[2] and "nested deeper than 64" in reasons[3]


def test_corpus_rejects_file_is_input(tmp_path: Path) -> None:
    path = _write(tmp_path / "self.csv", GOOD.encode())
    code, _, out = _cli(tmp_path / "k.duckdb", str(path), "--rejects", str(path))
    assert code == 2 and "also an input file" in out and path.read_text() == GOOD
