"""CSV records that may span lines: where records end, and the exact record parser.

RFC 4180 lets a quoted field hold line breaks (``"great\\nproduct"``), so one CSV
*record* (one row of data) can span several physical lines. This module answers
two questions for :class:`graph.ingest.readers.CsvReader`:

* :func:`rfc_quotes` -- is every ``"`` of a chunk placed as RFC 4180 allows (a
  quoted field opens at the start of a field, a doubled ``""`` is a quote
  inside it, and it closes right before a delimiter, a line end or the end of
  the data)? Then a line break ends a record exactly when an even number of
  quotes precede it, which numpy checks without a Python loop, and pyarrow's
  parse of the chunk can be trusted.
* :func:`parse_records` -- the exact, record-by-record parse (Python's
  ``csv`` module, strict) used when a chunk holds anything else: broken
  quoting, wrong field counts, invalid UTF-8, blank lines. It defines the
  rules; the fast path is only taken when it provably gives the same result.

Row numbers
-----------
A record is numbered by the physical line on which it **starts** (1-based; the
header is line 1; blank lines keep their numbers). A record on lines 5-7 is
row 5 and the next record is row 8.

Recovery
--------
* Wrong number of fields or invalid UTF-8: the whole record is rejected, with
  its first line as row number; reading goes on after its last line.
* Broken quoting (text after a closing quote, a quote that is never closed
  before the end of the file, or a quoted field still open after
  :data:`MAX_RECORD_LINES` lines): only the **first line** of the record is
  rejected and reading resumes on the next line, since the likeliest cause is
  one stray quote, and the lines after it are usually valid rows.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from typing import NamedTuple

import numpy as np

__all__ = [
    "MAX_RECORD_LINES",
    "Broken",
    "Records",
    "rfc_quotes",
    "record_start",
    "record_lines",
    "has_lone_cr",
    "parse_records",
]

#: The most physical lines one record may span. A quoted field still open
#: after this many lines is taken for a stray quote (its first line is
#: rejected). It also bounds what is carried from one chunk to the next.
MAX_RECORD_LINES = 10_000

_QUOTE, _LF, _CR = 0x22, 0x0A, 0x0D


class Broken(NamedTuple):
    """A record refused by the parser: row number, field, value, reason, raw text."""

    row: int
    field: str | None
    value: str | None
    reason: str
    raw: str | None


class Records(NamedTuple):
    """Parsed records of a chunk: string columns, row numbers, refused records."""

    columns: list[list[str | None]]
    rows: list[int]
    broken: list[Broken]
    #: bytes of the chunk parsed; the rest is an unfinished record to carry over
    consumed: int


def has_lone_cr(data: bytes) -> bool:
    """True if ``data`` has a carriage return that is not part of a CRLF line end."""
    return b"\r" in data and data.count(b"\r") != data.count(b"\r\n")


def rfc_quotes(data: bytes, delimiter: str) -> np.ndarray | None:
    """Positions of the quotes in ``data`` if all are placed as RFC 4180 allows, else None.

    ``data`` must start at the start of a record. Counting quotes from there,
    the 1st, 3rd, ... quote must open a field (follow a delimiter, a line feed
    or the start of the data) or be the second of a doubled ``""``; the 2nd,
    4th, ... must close one (precede a delimiter, a line end or the end of the
    data) or be the first of a ``""``. A quote anywhere else (``5" screen``,
    ``"a"b``) makes the answer None, and the caller parses exactly instead.
    """
    arr = np.frombuffer(data, dtype=np.uint8)
    q = np.flatnonzero(arr == _QUOTE)
    delim = ord(delimiter)
    opening = q[0::2]
    before = arr[opening[opening > 0] - 1]
    if not ((before == delim) | (before == _LF) | (before == _QUOTE)).all():
        return None
    closing = q[1::2]
    after = arr[closing[closing < arr.size - 1] + 1]
    if not ((after == delim) | (after == _LF) | (after == _CR) | (after == _QUOTE)).all():
        return None
    return q


def record_start(data: bytes, quotes: np.ndarray) -> int:
    """Offset where the unfinished last record of ``data`` starts.

    ``quotes`` (from :func:`rfc_quotes`) has an odd length: the last quote
    opened a field that is still open at the end of ``data``. A line feed ends
    a record when an even number of quotes precede it.
    """
    p = data.rfind(b"\n", 0, int(quotes[-1]))
    while p >= 0 and int(np.searchsorted(quotes, p)) % 2:
        p = data.rfind(b"\n", 0, p)
    return p + 1


def record_lines(data: bytes, quotes: np.ndarray) -> np.ndarray:
    """0-based index of the physical line on which each record of ``data`` starts.

    ``quotes`` (from :func:`rfc_quotes`, an even number of them) delimit the
    quoted values: a line feed ends a record when an even number of quotes
    precede it. Blank lines count as (empty) records here.
    """
    feeds = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == _LF)
    ends = np.flatnonzero((np.searchsorted(quotes, feeds) & 1) == 0)  # indices into feeds
    n_records = ends.size + (0 if data.endswith(b"\n") else 1)
    return np.concatenate(([0], ends[: n_records - 1] + 1)).astype(np.int64)


class _Lines:
    """Iterator over physical lines from ``pos`` that notes when it ran out."""

    def __init__(self, lines: list[str], pos: int) -> None:
        self.lines = lines
        self.pos = pos
        self.exhausted = False

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        if self.pos >= len(self.lines):
            self.exhausted = True
            raise StopIteration
        self.pos += 1
        return self.lines[self.pos - 1]


def _allow_long_fields() -> None:
    # csv refuses fields over 128 KiB by default; a long value is the validator's
    # business (KOC_MAX_FIELD_BYTES), not a reason to misread the record
    if csv.field_size_limit() < sys.maxsize // 2:
        csv.field_size_limit(sys.maxsize // 2)


def _text(raw: bytes, limit: int = 2048) -> str:
    return raw[:limit].decode("utf-8", errors="replace")


def parse_records(
    data: bytes,
    first_line: int,
    names: list[str],
    delimiter: str,
    *,
    last: bool,
    max_lines: int = MAX_RECORD_LINES,
) -> Records:
    """Parse ``data`` record by record (Python ``csv``, strict RFC 4180 quoting).

    Parameters
    ----------
    data : bytes
        Whole physical lines, starting at the start of a record.
    first_line : int
        Line number of the first line of ``data``.
    names : list of str
        Column names; a record must have exactly this many fields.
    delimiter : str
        Field delimiter (one character).
    last : bool
        ``data`` runs to the end of the file. Otherwise a record whose quoted
        field is still open at the end of ``data`` (and has fewer than
        ``max_lines`` lines so far) is not parsed: :attr:`Records.consumed`
        stops before it, and the caller parses it again with the next chunk.
    max_lines : int
        Most physical lines one record may span (see the module docstring).

    Returns
    -------
    Records
        Columns of the valid records (empty strings as None), their row numbers
        (first physical line), the refused records, and the bytes consumed.
    """
    _allow_long_fields()
    ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == _LF)
    bounds = np.concatenate(([0], ends + 1)).astype(np.int64)
    if data and not data.endswith(b"\n"):
        bounds = np.append(bounds, len(data))
    try:
        text, clean = data.decode("utf-8"), True
    except UnicodeDecodeError:
        text, clean = data.decode("utf-8", errors="surrogateescape"), False
    pieces = text.split("\n")
    lines = [p + "\n" for p in pieces[:-1]]
    if pieces[-1]:
        lines.append(pieces[-1])
    n_lines, n = len(lines), len(names)
    columns: list[list[str | None]] = [[] for _ in names]
    rows: list[int] = []
    broken: list[Broken] = []

    def raw(start: int, end: int) -> str:
        return _text(data[bounds[start] : bounds[end]].rstrip(b"\r\n"))

    i = 0
    while i < n_lines:
        feed = _Lines(lines, i)
        reader = csv.reader(feed, delimiter=delimiter, strict=True)
        while i < n_lines:
            start = i
            try:
                fields = next(reader)
            except csv.Error as exc:
                if feed.exhausted and not last and n_lines - start < max_lines:
                    return Records(columns, rows, broken, int(bounds[start]))
                reason = "malformed CSV line: " + _explain(exc, feed.exhausted)
                broken.append(Broken(first_line + start, None, None, reason, raw(start, start + 1)))
                i = start + 1
                break  # resume on the next line with a fresh reader
            i = feed.pos
            if i - start > max_lines:
                reason = (
                    f"malformed CSV line: a quoted field is still open after {max_lines:,} "
                    "lines (unterminated quote?)"
                )
                broken.append(Broken(first_line + start, None, None, reason, raw(start, start + 1)))
                i = start + 1
                break
            if len(fields) <= 1 and i - start == 1 and not data[bounds[start] : bounds[i]].strip():
                continue  # blank line: not a record
            if len(fields) != n:
                reason = f"expected {n} fields, found {len(fields)}" + (
                    " (truncated line?)" if len(fields) < n else ""
                )
                broken.append(Broken(first_line + start, None, None, reason, raw(start, i)))
                continue
            if not clean:
                bad = _first_invalid_utf8(fields, names)
                if bad is not None:
                    name, value = bad
                    broken.append(
                        Broken(first_line + start, name, value, "invalid UTF-8", raw(start, i))
                    )
                    continue
            rows.append(first_line + start)
            for col, v in zip(columns, fields, strict=True):
                col.append(v if v != "" else None)
    return Records(columns, rows, broken, len(data))


def _explain(exc: csv.Error, at_end: bool) -> str:
    """The csv module's error, reworded where it speaks of file modes."""
    if at_end:
        return "a quoted field is never closed (unterminated quote)"
    if "new-line character seen in unquoted field" in str(exc):
        return "a carriage return inside an unquoted value (quote the value)"
    return str(exc)


def _first_invalid_utf8(fields: list[str], names: list[str]) -> tuple[str, str] | None:
    """The first field holding bytes that are not UTF-8 (decoded as surrogate escapes)."""
    for name, v in zip(names, fields, strict=True):
        try:
            v.encode("utf-8")
        except UnicodeEncodeError:
            return name, _text(v.encode("utf-8", errors="surrogateescape"), 200)
    return None
