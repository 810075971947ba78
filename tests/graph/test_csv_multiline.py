"""CSV records whose quoted fields hold line breaks (RFC 4180) load intact and keep exact row numbers.

Every file is written by hand below; expected values, counts and row numbers are
read off the file text (a record is numbered by its first physical line, the
header being line 1).
"""

from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graph.errors import IngestError
from graph.ingest import readers
from graph.ingest.csv_records import MAX_RECORD_LINES, parse_records
from graph.ingest.readers import CsvReader
from tests.graph.conftest import rejects_of

USERS = "type,user_id,display_name,role"


def _names(store) -> dict[str, str | None]:
    table = store.read_events("user").select(["user_id", "display_name"]).to_pylist()
    return {r["user_id"]: r["display_name"] for r in table}


def _rejects(store) -> list[tuple[int, str | None, str]]:
    return [(r["row_number"], r["field"], r["reason"]) for r in rejects_of(store)]


@pytest.mark.parametrize("batch_rows", [1, 2, 1000])
def test_csv_multiline_value_ingested_intact(batch_rows, write_file, ingest, store) -> None:
    text = (
        f"{USERS}\n"
        'user,u1,"great\nproduct",consumer\n'  # lines 2-3
        'user,u2,"line one\n\nline ""three""",kol\n'  # lines 4-6: blank line and quotes inside
        "user,u3,plain,consumer\n"  # line 7
    )
    summary = ingest(write_file("users.csv", text), batch_rows=batch_rows)
    assert (summary.read, summary.inserted, summary.duplicates, summary.rejected) == (3, 3, 0, 0)
    assert _names(store) == {
        "u1": "great\nproduct",
        "u2": 'line one\n\nline "three"',
        "u3": "plain",
    }


@pytest.mark.parametrize("name", ["users.csv", "users.csv.gz"])
def test_csv_multiline_crlf_line_break_kept(name, write_file, ingest, store) -> None:
    text = f'{USERS}\r\nuser,u1,"great\r\nproduct",consumer\r\nuser,u2,plain,kol\r\n'
    summary = ingest(write_file(name, text))
    assert (summary.read, summary.inserted, summary.rejected) == (2, 2, 0)
    # the CRLF inside the quotes is data and kept byte for byte; the line ends are not
    assert _names(store) == {"u1": "great\r\nproduct", "u2": "plain"}


@pytest.mark.parametrize("batch_rows", [1, 2, 3, 1000])
def test_csv_multiline_gzip(batch_rows, write_file, ingest, store) -> None:
    text = f'{USERS}\nuser,u1,"a\nb\nc",consumer\nuser,u2,"d\ne",kol\n'
    summary = ingest(write_file("users.csv.gz", text), batch_rows=batch_rows)
    assert (summary.read, summary.inserted, summary.rejected) == (2, 2, 0)
    assert _names(store) == {"u1": "a\nb\nc", "u2": "d\ne"}


def test_csv_multiline_docs_example(write_file, ingest, store) -> None:
    # the example of docs/ingestion.md, "Quoted line breaks in CSV"
    text = (
        "type,user_id,display_name,role\n"
        'user,u1,"great\nproduct",consumer\n'
        "user,u2\n"
        'user,u3,"say ""hi""",kol\n'
    )
    summary = ingest(write_file("users.csv", text))
    assert (summary.read, summary.inserted, summary.rejected) == (3, 2, 1)
    assert _rejects(store) == [(4, None, "expected 4 fields, found 2 (truncated line?)")]
    assert _names(store) == {"u1": "great\nproduct", "u3": 'say "hi"'}


BROKEN_BETWEEN = (
    f"{USERS}\n"  # line 1
    'user,u1,"a\nb",consumer\n'  # lines 2-3: valid
    "user,u2\n"  # line 4: too few fields
    'user,u3,"c\n\nd",kol\n'  # lines 5-7: valid
    'user,u4,"x"y,kol\n'  # line 8: text after a closing quote
    "user,u5,plain,consumer\n"  # line 9: valid
    'user,u6,"p\nq",superstar\n'  # lines 10-11: parses, but the role is invalid
    'user,u7,"r\ns",consumer\n'  # lines 12-13: valid
)


@pytest.mark.parametrize("batch_rows", [1, 2, 3, 1000])
def test_csv_multiline_broken_rows_between(batch_rows, write_file, ingest, store) -> None:
    summary = ingest(write_file("users.csv", BROKEN_BETWEEN), batch_rows=batch_rows)
    assert (summary.read, summary.inserted, summary.duplicates, summary.rejected) == (7, 4, 0, 3)
    rejects = _rejects(store)
    assert [r[:2] for r in rejects] == [(4, None), (8, None), (10, "role")]
    assert "expected 4 fields, found 2" in rejects[0][2]
    assert "malformed CSV line" in rejects[1][2]
    assert "invalid role" in rejects[2][2]
    assert _names(store) == {"u1": "a\nb", "u3": "c\n\nd", "u5": "plain", "u7": "r\ns"}
    [sample] = [s.message for s in summary.reject_samples if s.row == 10]
    assert "role" in sample


@pytest.mark.timeout(60)
@pytest.mark.parametrize("batch_rows", [1, 2, 1000])
@pytest.mark.parametrize("name", ["users.csv", "users.csv.gz"])
def test_csv_unterminated_quote_at_end_of_file(batch_rows, name, write_file, ingest, store) -> None:
    text = (
        f"{USERS}\n"
        'user,u1,"a\nb",consumer\n'  # lines 2-3
        "user,u2,plain,kol\n"  # line 4
        'user,u3,"never closed,consumer\n'  # line 5: the quote runs to the end of the file
        "user,u4,after,kol\n"  # line 6: a valid line swallowed by the open quote
    )
    summary = ingest(write_file(name, text), batch_rows=batch_rows)
    assert (summary.read, summary.inserted, summary.rejected) == (4, 3, 1)
    [(row, field, reason)] = _rejects(store)
    assert (row, field) == (5, None) and "unterminated quote" in reason
    assert _names(store) == {"u1": "a\nb", "u2": "plain", "u4": "after"}


def test_csv_unterminated_quote_on_last_line_without_newline(write_file, ingest, store) -> None:
    text = f'{USERS}\nuser,u1,ok,kol\nuser,u2,"open,kol'
    summary = ingest(write_file("users.csv", text))
    assert (summary.read, summary.inserted, summary.rejected) == (2, 1, 1)
    assert [r[0] for r in _rejects(store)] == [3]


@pytest.mark.parametrize("batch_rows", [997, 100_000])
def test_csv_quote_open_too_many_lines(batch_rows, write_file, ingest, store) -> None:
    n = MAX_RECORD_LINES + 5
    middle = "".join(f"user,m{i},plain,kol\n" for i in range(n))  # lines 3 .. n+2
    text = f'{USERS}\nuser,u0,"stray,kol\n{middle}end",kol\n'  # line n+3 closes the quote
    summary = ingest(write_file("users.csv", text), batch_rows=batch_rows)
    # the record from line 2 would span n+2 lines: its first line is rejected and the
    # lines after it are read as records again
    assert (summary.read, summary.inserted, summary.rejected) == (n + 2, n, 2)
    rejects = _rejects(store)
    assert [r[0] for r in rejects] == [2, n + 3]
    assert "still open after 10,000 lines" in rejects[0][2]
    assert "expected 4 fields, found 2" in rejects[1][2]


def test_csv_open_quote_memory_is_bounded(tmp_path) -> None:
    # a quote never closed, then 3 x MAX_RECORD_LINES lines without quotes: the reader
    # gives up on the open record after MAX_RECORD_LINES lines instead of holding the rest
    n = 3 * MAX_RECORD_LINES
    path = tmp_path / "users.csv"
    lines = "".join(f"user,m{i},plain,kol\n" for i in range(n))
    path.write_text(f'{USERS}\nuser,u0,"stray,kol\n{lines}')
    sizes, rows, bad = [], 0, []
    for b in CsvReader(path, 1000):
        sizes.append(b.n_read)
        rows += b.table.num_rows
        bad += [r.row for r in b.bad]
    assert (rows, bad) == (n, [2])
    assert max(sizes) <= MAX_RECORD_LINES + 1000


# with a short row, the chunk goes to the exact parser
@pytest.mark.parametrize("extra", ["", "user,u9\n"])
def test_csv_multiline_invalid_utf8_names_field(extra, write_file, ingest, store) -> None:
    data = (
        f"{USERS}\n".encode()
        + b'user,u1,"ok\nfine",kol\n'  # lines 2-3
        + b'user,u2,"bad \xff\nbytes",kol\n'  # lines 4-5
        + extra.encode()  # line 6
        + b"user,u3,\xe4\xbd\xa0\xe5\xa5\xbd,kol\n"
    )
    summary = ingest(write_file("users.csv", data))
    assert (summary.inserted, summary.rejected) == (2, 1 + bool(extra))
    rejects = _rejects(store)
    assert rejects[0][:2] == (4, "display_name") and "UTF-8" in rejects[0][2]
    assert _names(store) == {"u1": "ok\nfine", "u3": "你好"}


def test_csv_na_and_null_text_are_values(write_file, ingest, store) -> None:
    # pyarrow reads NA, null, N/A ... as missing by default; the exact parser keeps them
    for i, extra in enumerate(["", "user,u9\n"]):
        text = f"{USERS}\nuser,a{i},NA,kol\n{extra}user,b{i},null,kol\nuser,c{i},N/A,kol\n"
        ingest(write_file(f"na{i}.csv", text))
    names = _names(store)
    assert [names[f"{p}{i}"] for i in (0, 1) for p in "abc"] == ["NA", "null", "N/A"] * 2


def test_csv_carriage_return_quoted_kept_unquoted_rejected(write_file, ingest, store) -> None:
    text = f'{USERS}\nuser,u1,"x\ry",kol\nuser,u2,c\rd,kol\nuser,u3,"p\nq",kol\n'
    summary = ingest(write_file("users.csv", text))
    assert (summary.read, summary.inserted, summary.rejected) == (3, 2, 1)
    [(row, _, reason)] = _rejects(store)
    assert row == 3 and "carriage return inside an unquoted value" in reason
    assert _names(store) == {"u1": "x\ry", "u3": "p\nq"}


def test_csv_header_with_open_quote_is_an_error(write_file, ingest) -> None:
    with pytest.raises(IngestError, match="header line is not valid CSV"):
        ingest(write_file("h.csv", 'type,"user_id\nuser,u1\n'))


def test_csv_bad_quote_behind_a_literal_quote_rejected(write_file, ingest, store) -> None:
    # `5"` is a literal quote inside an unquoted value (accepted, as the csv module does);
    # `""b` is a quoted empty value followed by text: broken quoting, the line is rejected
    literal = ingest(write_file("a.csv", f'{USERS}\nuser,u1,5" screen,kol\n'))
    assert (literal.inserted, literal.rejected) == (1, 0)
    text = f'{USERS}\nuser,u2,ok,kol\nuser,5",""b,x"\nuser,u3,ok,kol\n'
    summary = ingest(write_file("b.csv", text))
    assert (summary.read, summary.inserted, summary.rejected) == (3, 2, 1)
    [(row, _, reason)] = _rejects(store)
    assert row == 3 and "malformed CSV line" in reason
    assert _names(store) == {"u1": '5" screen', "u2": "ok", "u3": "ok"}


@pytest.mark.parametrize("size", [(1 << 20) - 1, 1 << 20, (1 << 20) + 1])
def test_csv_unterminated_quote_at_a_chunk_boundary(size, tmp_path) -> None:
    # files around the reader's first read size (1 MiB), so the end of the file falls at,
    # just before and just after a chunk boundary; the open record is reported every time
    tail = 'user,uz,"never closed,kol\n'
    row = "user,u{:06d},name,kol\n"
    n = (size - len(USERS) - 1 - len(tail)) // len(row.format(0))
    pad = size - len(USERS) - 1 - len(tail) - n * len(row.format(0))
    text = f"{USERS}\n" + "".join(row.format(i) for i in range(n)) + "x" * pad + tail
    if pad:  # the padding makes the last row longer, still a valid 4-field row
        text = text.replace(f"name,kol\nx{'x' * (pad - 1)}", f"name{'x' * pad},kol\n")
    path = tmp_path / "users.csv"
    path.write_bytes(text.encode())
    assert path.stat().st_size == size
    rows, bad = _read(path, 500_000)
    assert len(rows) == n and [b[0] for b in bad] == [n + 2]


@pytest.mark.slow
def test_csv_multiline_large_chunk_stays_on_fast_path(tmp_path, monkeypatch) -> None:
    # a ~21 MiB chunk: pyarrow cuts it into blocks at line breaks, and 9 of 10 line breaks
    # are inside quotes, so a block boundary falls inside a value
    value = "\n".join(f"l{k}" for k in range(10))
    n = 600_000
    path = tmp_path / "big.csv"
    path.write_text("a,b\n" + "".join(f'"{value}",{i}\n' for i in range(n)))
    assert path.stat().st_size > 20 << 20

    def exact_parser(*args, **kwargs):
        raise AssertionError("the fast path should have read this file")

    monkeypatch.setattr(readers, "parse_records", exact_parser)
    rows, bad = _read(path, 10_000_000)  # batch_rows counts lines: two chunks
    assert bad == [] and len(rows) == n
    assert rows[:2] == [(2, {"a": value, "b": "0"}), (12, {"a": value, "b": "1"})]
    assert rows[-1] == (2 + 10 * (n - 1), {"a": value, "b": str(n - 1)})


# --- the fast path agrees with the exact parser, whatever the batch size ---------------------
def _read(path: Path, batch_rows: int) -> tuple[list, list]:
    rows, bad = [], []
    for b in CsvReader(path, batch_rows):
        rows += list(zip(b.rows.tolist(), b.table.to_pylist(), strict=True))
        bad += [(r.row, r.field, r.reason) for r in b.bad]
    return sorted(rows), sorted(bad)


_value = st.lists(st.sampled_from(list('ab ,"\n') + ["\r\n", "é"]), max_size=6).map("".join)
_record = st.one_of(
    st.tuples(st.just("ok"), st.lists(_value, min_size=3, max_size=3)),
    st.tuples(st.just("short"), st.lists(_value, min_size=2, max_size=2)),
    st.tuples(st.sampled_from(["badquote", "blank"]), st.just([])),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(records=st.lists(_record, max_size=12), crlf=st.booleans(), gz=st.booleans())
def test_csv_reader_same_records_for_every_batch_size(records, crlf, gz, tmp_path) -> None:
    end = "\r\n" if crlf else "\n"
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=end, quoting=csv.QUOTE_MINIMAL)
    writer.writerow(["a", "b", "c"])
    line = 2
    expected_rows, expected_bad = [], []
    for kind, values in records:
        start = out.tell()
        if kind == "blank":
            out.write(end)
        elif kind == "badquote":
            out.write(f'"x"y,b,c{end}')
            expected_bad.append(line)
        else:
            writer.writerow(values)
            if kind == "ok":
                expected_rows.append(
                    (line, {k: v or None for k, v in zip("abc", values, strict=True)})
                )
            else:
                expected_bad.append(line)
        line += out.getvalue()[start:].count("\n")
    data = out.getvalue().encode()
    path = tmp_path / ("f.csv.gz" if gz else "f.csv")
    path.write_bytes(gzip.compress(data) if gz else data)
    exact = parse_records(data.split(b"\n", 1)[1], 2, ["a", "b", "c"], ",", last=True)
    assert exact.rows == [r for r, _ in expected_rows]
    for batch_rows in (1, 2, 3, 1000):
        rows, bad = _read(path, batch_rows)
        assert rows == expected_rows, batch_rows
        assert [b[0] for b in bad] == expected_bad, batch_rows
