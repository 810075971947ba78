"""Readers: stream CSV, JSON Lines and Parquet files as batches of string columns.

Every reader yields :class:`RawBatch` objects: an Arrow table whose columns are
the input's own columns as nullable UTF-8 strings (empty cells are null), the
row number of each row, and the rows that could not even be decoded (wrong
number of CSV fields, malformed JSON, invalid UTF-8), which the loader
quarantines. Memory stays flat: at most about one batch is held at a time.

Row numbers are 1-based line numbers for CSV and JSON Lines (the CSV header is
line 1, so the first data row is line 2) and 0-based row indices for Parquet. A
CSV record whose quoted field holds line breaks spans several lines and is
numbered by its first line (:mod:`graph.ingest.csv_records`).
"""

from __future__ import annotations

import csv
import io
import json
import stat
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from graph.errors import IngestError
from graph.ingest.csv_records import (
    MAX_RECORD_LINES,
    has_lone_cr,
    parse_records,
    record_lines,
    record_start,
    rfc_quotes,
)
from graph.ingest.raw import RawBatch, RawReject, Reader

__all__ = [
    "RawBatch",
    "RawReject",
    "Reader",
    "open_reader",
    "detect_format",
    "check_input_file",
    "FORMATS",
    "DEFAULT_MAX_RECORD_BYTES",
    "MAX_JSON_DEPTH",
    "parse_json",
    "json_depth_error",
]

FORMATS = ("csv", "jsonl", "parquet", "xlsx")
_EXTENSIONS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".xlsx": "xlsx",
}
_BOM = b"\xef\xbb\xbf"
#: Longest line of a text file (64 fields of the default ``KOC_MAX_FIELD_BYTES``).
DEFAULT_MAX_RECORD_BYTES = 64 * 64 * 1024
#: Largest read-ahead of a text file (it holds whole lines, so at least two longest lines).
_MAX_TARGET = 1 << 26
_NO_QUOTES = np.zeros(0, dtype=np.intp)
_NO_ROWS = np.zeros(0, dtype=np.int64)


def detect_format(path: Path, fmt: str | None = None) -> str:
    """``csv``, ``jsonl``, ``parquet`` or ``xlsx`` from ``fmt`` or the extension (``.gz`` ignored)."""
    if fmt is not None:
        if fmt not in FORMATS:
            raise IngestError(f"Unknown format {fmt!r}; use one of {', '.join(FORMATS)}.")
        return fmt
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    if suffixes and suffixes[-1] in _EXTENSIONS:
        return _EXTENSIONS[suffixes[-1]]
    raise IngestError(
        f"Cannot tell the format of {path} from its extension; pass --format "
        f"({', '.join(FORMATS)}).",
        path=str(path),
    )


def _safe_text(raw: bytes, limit: int = 2048) -> str:
    return raw[:limit].decode("utf-8", errors="replace")


def _decode_columns(
    table: pa.Table, rows: np.ndarray, bad: list[RawReject]
) -> tuple[pa.Table, np.ndarray]:
    """Cast binary columns to UTF-8 strings; rows with invalid UTF-8 move to ``bad``."""
    bad_mask = np.zeros(table.num_rows, dtype=bool)
    first: dict[int, tuple[str, bytes]] = {}
    columns = []
    for name, col in zip(table.column_names, table.columns, strict=True):
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            columns.append(col)
            continue
        try:
            columns.append(col.cast(pa.string()))
            continue
        except pa.ArrowInvalid:
            pass
        # slow path for this column only: find the rows that are not UTF-8
        values = col.to_pylist()
        decoded: list[str | None] = []
        for i, v in enumerate(values):
            if v is None:
                decoded.append(None)
                continue
            try:
                decoded.append(v.decode("utf-8"))
            except UnicodeDecodeError:
                bad_mask[i] = True
                first.setdefault(i, (name, v))
                decoded.append(None)
        columns.append(pa.array(decoded, pa.string()))
    table = pa.table(columns, names=table.column_names)
    if bad_mask.any():
        for j in np.flatnonzero(bad_mask).tolist():
            name, v = first[j]
            bad.append(RawReject(int(rows[j]), name, _safe_text(v, 200), "invalid UTF-8", None))
        keep = ~bad_mask
        table = table.filter(pa.array(keep))
        rows = rows[keep]
    return table, rows


def check_input_file(path: Path) -> None:
    """Refuse a path that is missing or not a regular file (a FIFO, a device, a folder)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise IngestError(f"Input file {path} does not exist.", path=str(path)) from None
    except OSError as exc:
        raise IngestError(f"Cannot open input file {path}: {exc}.", path=str(path)) from None
    if not stat.S_ISREG(mode):
        kind = (
            "a folder"
            if stat.S_ISDIR(mode)
            else "a FIFO (named pipe)"
            if stat.S_ISFIFO(mode)
            else "a device"
            if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else "not a regular file"
        )
        raise IngestError(
            f"Input {path} is {kind}, not a regular file; koc ingest reads files only "
            "(copy a stream to a file first).",
            path=str(path),
        )


class _LineReader(Reader):
    """Shared chunking of CSV and JSON Lines: whole lines, ``batch_rows`` per chunk."""

    #: lines before the first row (a CSV header)
    header_lines = 0
    #: longest accepted line (bytes); longer lines are skipped while reading, and rejected
    max_record_bytes = DEFAULT_MAX_RECORD_BYTES

    def _take_oversized(self) -> list[RawReject]:
        """Rejects of the over-long lines skipped since the last call."""
        out = getattr(self, "_oversized", [])
        self._oversized: list[RawReject] = []
        return out

    def _skip_line(self, stream: pa.NativeFile, buf: bytes, line: int) -> tuple[bytes, bool]:
        """Drop the over-long line that ``buf`` starts; return what follows it and eof.

        Reads on in 1 MiB blocks up to the line's end without keeping them, so a
        line of any length costs constant memory.
        """
        if line == 1 and self.header_lines:
            raise IngestError(
                f"{self.path}: the header line is longer than {self.max_record_bytes} bytes; "
                "is this really a CSV file?",
                path=str(self.path),
            )
        n, head = len(buf), buf[:200]
        while True:
            block = stream.read(1 << 20)
            if not block:
                rest, eof = b"", True
                break
            nl = block.find(b"\n")
            if nl >= 0:
                n += nl + 1
                rest, eof = block[nl + 1 :], False
                break
            n += len(block)
        self._oversize(line, n, head)
        return rest, eof

    def _blank_long_lines(self, chunk: bytes, line: int) -> bytes:
        """``chunk`` with every line over ``max_record_bytes`` emptied (and rejected).

        An empty line is no row but keeps its number, so the rows after it keep theirs.
        """
        ends = np.flatnonzero(np.frombuffer(chunk, dtype=np.uint8) == 10)
        starts = np.concatenate(([0], ends + 1))
        stops = np.concatenate((ends, [len(chunk)]))
        long = np.flatnonzero(stops - starts > self.max_record_bytes)
        if not long.size:
            return chunk
        parts, at = [], 0
        for i in long.tolist():
            a, b = int(starts[i]), int(stops[i])
            parts.append(chunk[at:a])
            self._oversize(line + i, b - a, chunk[a : a + 200])
            at = b
        parts.append(chunk[at:])
        return b"".join(parts)

    def _oversize(self, line: int, n: int, head: bytes) -> None:
        self._oversized = [
            *getattr(self, "_oversized", []),
            RawReject(
                line,
                None,
                None,
                f"line is {n} bytes, above the limit of {self.max_record_bytes} "
                "(64 x KOC_MAX_FIELD_BYTES); it was skipped",
                _safe_text(head, 200),
            ),
        ]

    def _chunks(self) -> Iterator[tuple[bytes, int, bool]]:
        """Yield ``(chunk, first line number, is_last)``; chunks end at a line break."""
        raw = pa.OSFile(str(self.path), "rb")
        gz = self.path.suffix.lower() == ".gz"
        stream = pa.CompressedInputStream(raw, "gzip") if gz else raw
        try:
            line = 1
            buf = b""
            target = 1 << 20  # first chunk: 1 MiB, then sized from the bytes per line seen
            eof = False
            first = True
            while not eof or buf:
                while not eof and len(buf) < target:
                    block = stream.read(max(target - len(buf), 1 << 16))
                    if not block:
                        eof = True
                    buf += block
                self.done = raw.tell()
                if first:
                    if buf.startswith(_BOM):
                        buf = buf[len(_BOM) :]
                    first = False
                if eof:
                    chunk, buf = buf, b""
                    cut = chunk.rfind(b"\n")
                    if len(chunk) - cut - 1 > self.max_record_bytes:  # an over-long last line
                        tail = chunk[cut + 1 :]
                        chunk = chunk[: cut + 1]
                        self._oversize(line + chunk.count(b"\n"), len(tail), tail[:200])
                        if not chunk:
                            break
                else:
                    cut = buf.rfind(b"\n")
                    if cut < 0 and len(buf) > self.max_record_bytes:
                        buf, eof = self._skip_line(stream, buf, line)
                        line += 1
                        continue
                    if cut < 0:  # one long line: read on (up to max_record_bytes)
                        target = min(target * 2, max(_MAX_TARGET, 2 * self.max_record_bytes))
                        continue
                    chunk, buf = buf[: cut + 1], buf[cut + 1 :]
                if not chunk:
                    break
                # at most batch_rows data lines per chunk (plus the header in the first one)
                limit = self.batch_rows + (self.header_lines if line == 1 else 0)
                if chunk.count(b"\n") > limit:
                    ends = np.flatnonzero(np.frombuffer(chunk, dtype=np.uint8) == 10)
                    cut = int(ends[limit - 1]) + 1
                    chunk, buf = chunk[:cut], chunk[cut:] + buf
                if len(chunk) > self.max_record_bytes:
                    chunk = self._blank_long_lines(chunk, line)
                n_lines = chunk.count(b"\n") + (0 if chunk.endswith(b"\n") else 1)
                yield chunk, line, eof and not buf
                line += n_lines
                target = max(1 << 16, int(len(chunk) / max(n_lines, 1) * self.batch_rows))
                target = min(target, max(_MAX_TARGET, 2 * self.max_record_bytes))
        except OSError as exc:
            raise IngestError(
                f"Cannot read {self.path}: {exc} (is it really gzip-compressed?).",
                path=str(self.path),
            ) from exc
        finally:
            raw.close()


def _split_lines(chunk: bytes) -> list[bytes]:
    lines = chunk.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return [ln[:-1] if ln.endswith(b"\r") else ln for ln in lines]


class CsvReader(_LineReader):
    """Comma-separated (or ``.tsv`` tab-separated) text with a header line.

    Quoted fields may hold line breaks (RFC 4180): such a record spans several
    physical lines and is numbered by its first one (see
    :mod:`graph.ingest.csv_records` for the rules and the recovery from broken
    quoting). Each chunk is parsed by pyarrow when its quoting is plain RFC 4180
    and its records can be numbered from the parse; otherwise record by record.
    """

    def __init__(
        self,
        path: Path,
        batch_rows: int,
        *,
        names: list[str] | None = None,
        delimiter: str | None = None,
    ) -> None:
        super().__init__(path, batch_rows)
        suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
        if delimiter is None:
            delimiter = "\t" if suffixes and suffixes[-1] == ".tsv" else ","
        self.delimiter = delimiter
        #: column names of a file without a header line (None: the first line is the header)
        self.names = names
        self.header_lines = 1 if names is None else 0

    def __iter__(self) -> Iterator[RawBatch]:
        names: list[str] | None = self.names
        n_rows = 0
        # an unfinished record (a quoted field open at the end of a chunk) waits here for
        # the next chunk; `wait` defers re-parsing until it has doubled (or reached
        # MAX_RECORD_LINES lines), so a long record costs linear, not quadratic, time
        pending, pending_line, wait = b"", 0, 0
        for chunk, line, last in self._chunks():
            if names is None:
                names, chunk, line = self._header(chunk, line)
            if pending:
                chunk, line = pending + chunk, pending_line
            if not chunk or (
                not last and len(chunk) < wait and chunk.count(b"\n") < MAX_RECORD_LINES
            ):
                pending, pending_line = chunk, line
                continue
            batch, used = self._parse(chunk, line, names, last)
            batch.bad.extend(self._take_oversized())
            pending, pending_line = chunk[used:], line + chunk.count(b"\n", 0, used)
            wait = 2 * len(chunk) if used == 0 else 0
            n_rows += batch.n_read
            if batch.n_read:
                yield batch
        if pending and names is not None:  # the file ended right after a chunk boundary
            batch, _ = self._parse(pending, pending_line, names, True)
            batch.bad.extend(self._take_oversized())
            n_rows += batch.n_read
            if batch.n_read:
                yield batch
        skipped = self._take_oversized()
        if skipped and names is not None:
            n_rows += len(skipped)
            empty = pa.table({n: pa.array([], pa.string()) for n in names})
            yield RawBatch(empty, _NO_ROWS, skipped)
        if names is None or (self.names is not None and n_rows == 0):
            self.warnings.append(f"{self.path}: the file is empty (no header, no rows).")
        elif n_rows == 0:
            self.warnings.append(f"{self.path}: the file has a header but no data rows.")

    def _header(self, chunk: bytes, line: int) -> tuple[list[str], bytes, int]:
        """Column names from the first line; the rest of the chunk and its line number."""
        end = chunk.find(b"\n")
        header = chunk if end < 0 else chunk[:end]
        try:
            text = header.rstrip(b"\r").decode("utf-8")
        except UnicodeDecodeError:
            raise IngestError(
                f"{self.path}: the header line is not valid UTF-8; save the file as UTF-8.",
                path=str(self.path),
            ) from None
        if not text.strip():
            raise IngestError(f"{self.path}: the header line is empty.", path=str(self.path))
        try:
            fields = next(csv.reader([text], delimiter=self.delimiter, strict=True))
        except csv.Error as exc:
            raise IngestError(
                f"{self.path}: the header line is not valid CSV ({exc}); column names "
                "cannot contain line breaks or unbalanced quotes.",
                path=str(self.path),
            ) from None
        names = [n.strip() for n in fields]
        if len(set(names)) != len(names):
            raise IngestError(
                f"{self.path}: the header repeats a column name: {names}.",
                path=str(self.path),
            )
        return names, b"" if end < 0 else chunk[end + 1 :], line + 1

    def _parse(self, chunk: bytes, line: int, names: list[str], last: bool) -> tuple[RawBatch, int]:
        """Parse whole records from the start of ``chunk``; return them and the bytes used.

        What is not used is an unfinished record (a quoted field open at the end
        of a chunk that is not the last); the caller parses it with the next chunk.
        """
        head = len(chunk)
        if not has_lone_cr(chunk):
            quotes = rfc_quotes(chunk, self.delimiter) if b'"' in chunk else _NO_QUOTES
            if quotes is not None and quotes.size % 2:
                start = record_start(chunk, quotes)
                if last or chunk.count(b"\n", start) >= MAX_RECORD_LINES:
                    quotes = None  # an unterminated quote: the exact parser rejects it
                else:
                    head, quotes = start, quotes[: np.searchsorted(quotes, start)]
            if quotes is not None:
                batch = self._parse_fast(chunk[:head], line, names, quotes)
                if batch is not None:
                    return batch, head
        recs = parse_records(chunk, line, names, self.delimiter, last=last)
        table = pa.table([pa.array(c, pa.string()) for c in recs.columns], names=names)
        bad = [RawReject(*b) for b in recs.broken]
        return RawBatch(table, np.asarray(recs.rows, dtype=np.int64), bad), recs.consumed

    def _parse_fast(
        self, chunk: bytes, line: int, names: list[str], quotes: np.ndarray
    ) -> RawBatch | None:
        """pyarrow's parse of whole records, or None when it cannot be trusted.

        ``quotes`` are the positions of the (RFC 4180, balanced) quotes in
        ``chunk``. The parse is trusted when no row is invalid and its records are
        those the quotes delimit, line for line (so no blank line was skipped and
        the first line of each record is known).
        """
        if not chunk:
            return RawBatch(pa.table({n: pa.array([], pa.string()) for n in names}), _NO_ROWS)
        # pyarrow splits a chunk into blocks at line breaks; a line break inside quotes
        # at a block boundary makes it fail ("out of sync"), and only then do the blocks
        # have to be split by quote-aware lexing, which is slower
        table = self._read_arrow(chunk, names, newlines_in_values=False)
        if table is None and quotes.size:
            table = self._read_arrow(chunk, names, newlines_in_values=True)
        if table is None:
            return None
        n_lines = chunk.count(b"\n") + (0 if chunk.endswith(b"\n") else 1)
        if table.num_rows == n_lines:
            rows = np.arange(line, line + n_lines, dtype=np.int64)
        elif quotes.size:
            starts = record_lines(chunk, quotes)
            if starts.size != table.num_rows:
                return None
            spans = np.diff(np.append(starts, n_lines))  # physical lines of each record
            breaks = np.zeros(table.num_rows, dtype=np.int64)  # line feeds inside its values
            for col in table.columns:
                breaks += pc.count_substring(col, "\n").fill_null(0).to_numpy()
            if not np.array_equal(spans, breaks + 1) or int(spans.max()) > MAX_RECORD_LINES:
                return None
            rows = line + starts
        else:
            return None
        bad: list[RawReject] = []
        table, rows = _decode_columns(table, rows, bad)
        return RawBatch(table, rows, bad)

    def _read_arrow(
        self, chunk: bytes, names: list[str], *, newlines_in_values: bool
    ) -> pa.Table | None:
        """pyarrow's parse as binary columns; None if it fails or skips an invalid row."""
        invalid: list[str] = []

        def handler(row: pacsv.InvalidRow) -> str:
            invalid.append(row.text)
            return "skip"

        try:
            table = pacsv.read_csv(
                io.BytesIO(chunk),
                read_options=pacsv.ReadOptions(
                    column_names=names, block_size=max(1 << 22, len(chunk) // 2 + 1)
                ),
                parse_options=pacsv.ParseOptions(
                    delimiter=self.delimiter,
                    newlines_in_values=newlines_in_values,
                    invalid_row_handler=handler,
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types={n: pa.binary() for n in names},
                    null_values=[""],  # not "NA", "null", "N/A", ...: those are values
                    strings_can_be_null=True,
                    quoted_strings_can_be_null=False,
                ),
            )
        except pa.ArrowInvalid:
            return None
        return None if invalid else table


#: Deepest nesting of JSON objects/arrays accepted in a record (``attrs``).
MAX_JSON_DEPTH = 64
#: Integral JSON numbers up to this many digits are written as plain integers.
_INT_DIGITS = 40


def _json_scalar(v: object) -> str:
    """A JSON number as text: integral values as plain integers (``1E+5``, ``100000.0``
    and ``100000`` are all ``100000``), others exactly as written (``19.90``)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, Decimal) and v.is_finite():
        if v == v.to_integral_value() and v.adjusted() < _INT_DIGITS:
            return str(int(v))
        return str(v)
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return str(v)


def _dump_json(v: object) -> str:
    """Compact JSON text of a parsed value; numbers keep their exact text (``1e400`` stays
    a number, never ``Infinity``). Depth is bounded by :func:`json_depth_error` first."""
    if isinstance(v, dict):
        items = (f"{json.dumps(str(k), ensure_ascii=False)}:{_dump_json(x)}" for k, x in v.items())
        return "{" + ",".join(items) + "}"
    if isinstance(v, list):
        return "[" + ",".join(_dump_json(x) for x in v) + "]"
    if isinstance(v, Decimal):
        return str(v)  # finite: parse_json refuses NaN and Infinity
    if isinstance(v, (str, bool, int, float)) or v is None:
        return json.dumps(v, ensure_ascii=False, allow_nan=False)
    raise TypeError(f"not JSON serialisable: {type(v).__name__}")


def json_depth_error(record: dict) -> str | None:
    """Why a parsed record is refused for its nesting (deeper than :data:`MAX_JSON_DEPTH`), or None."""
    stack: list[tuple[dict | list, int]] = [
        (x, 1) for x in record.values() if isinstance(x, (dict, list))
    ]
    while stack:
        v, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return f"JSON nested deeper than {MAX_JSON_DEPTH} levels"
        children = list(v.values()) if isinstance(v, dict) else v
        stack.extend((x, depth + 1) for x in children if isinstance(x, (dict, list)))
    return None


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not valid JSON (use a number or a string)")


def parse_json(raw: bytes | str) -> object:
    """``json.loads`` as every JSON input is read: numbers as exact Decimals, no NaN or
    Infinity; too deep nesting raises ``ValueError`` (not ``RecursionError``)."""
    try:
        return json.loads(raw, parse_float=Decimal, parse_constant=_reject_constant)
    except RecursionError:
        raise ValueError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from None


def _json_text(v: object) -> str | None:
    if v is None:
        return None
    if isinstance(v, str):
        return v
    if isinstance(v, (dict, list)):
        return _dump_json(v)
    return _json_scalar(v)


def records_to_table(records: list[dict], rows: list[int]) -> pa.Table:
    """Dicts -> Arrow table of string columns (union of keys, in first-seen order)."""
    names: dict[str, None] = {}
    for r in records:
        for k in r:
            names.setdefault(str(k), None)
    if records and not names:  # only {} records: a type column keeps them (as rejects)
        names["type"] = None
    return pa.table(
        {n: pa.array([_json_text(r.get(n)) for r in records], pa.string()) for n in names}
    )


class JsonlReader(_LineReader):
    """One JSON object per line; numbers keep their exact text (no float rounding)."""

    def __iter__(self) -> Iterator[RawBatch]:
        saw_line = False
        for chunk, line, _last in self._chunks():
            records: list[dict] = []
            rows: list[int] = []
            bad: list[RawReject] = []
            for i, raw in enumerate(_split_lines(chunk)):
                number = line + i
                if not raw.strip():
                    continue
                saw_line = True
                try:
                    obj = parse_json(raw)
                except UnicodeDecodeError as exc:
                    bad.append(
                        RawReject(
                            number,
                            None,
                            None,
                            f"invalid UTF-8 at byte {exc.start}",
                            _safe_text(raw),
                        )
                    )
                    continue
                except ValueError as exc:
                    bad.append(
                        RawReject(number, None, None, f"malformed JSON: {exc}", _safe_text(raw))
                    )
                    continue
                if not isinstance(obj, dict):
                    bad.append(
                        RawReject(number, None, None, "line is not a JSON object", _safe_text(raw))
                    )
                    continue
                deep = json_depth_error(obj)
                if deep is not None:
                    bad.append(RawReject(number, None, None, deep, _safe_text(raw)))
                    continue
                records.append(obj)
                rows.append(number)
            bad.extend(self._take_oversized())
            yield RawBatch(records_to_table(records, rows), np.asarray(rows, dtype=np.int64), bad)
        skipped = self._take_oversized()
        if skipped:
            saw_line = True
            yield RawBatch(pa.table({}), _NO_ROWS, skipped)
        if not saw_line:
            self.warnings.append(f"{self.path}: the file is empty (no rows).")


def _parquet_text(col: pa.Array) -> pa.Array:
    """A Parquet column as text (binary stays binary, decoded later as UTF-8).

    Struct, list and map columns (and any type Arrow cannot cast to text) become
    JSON text per value, so a nested column, known or not, never stops the load.
    """
    if pa.types.is_binary(col.type) or pa.types.is_large_binary(col.type):
        return col
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    if not pa.types.is_nested(col.type):
        try:
            return col.cast(pa.string())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    return pa.array(
        [
            None if v is None else json.dumps(v, ensure_ascii=False, default=str)
            for v in col.to_pylist()
        ],
        pa.string(),
    )


class ParquetReader(Reader):
    """Parquet, read ``batch_rows`` rows at a time; every column is turned into text."""

    def __iter__(self) -> Iterator[RawBatch]:
        try:
            pf = pq.ParquetFile(str(self.path))
        except (pa.ArrowInvalid, OSError) as exc:
            raise IngestError(
                f"{self.path} is not a readable Parquet file: {exc}.", path=str(self.path)
            ) from exc
        self.total = max(pf.metadata.num_rows, 1)
        start = 0
        if pf.metadata.num_rows == 0:
            self.warnings.append(f"{self.path}: the file has no rows.")
        for batch in pf.iter_batches(batch_size=self.batch_rows):
            n = batch.num_rows
            cols = []
            for col in batch.columns:
                cols.append(_parquet_text(col))
            table = pa.table(cols, names=batch.schema.names)
            rows = np.arange(start, start + n, dtype=np.int64)
            bad: list[RawReject] = []
            table, rows = _decode_columns(table, rows, bad)
            start += n
            self.done = start
            yield RawBatch(table, rows, bad)


def open_reader(
    path: Path, fmt: str, batch_rows: int, *, max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES
) -> Reader:
    """The reader for ``fmt`` (see :func:`detect_format`); text lines over
    ``max_record_bytes`` are rejected while reading."""
    check_input_file(path)
    if fmt == "xlsx":
        from graph.ingest.xlsx import XlsxReader  # lazy: openpyxl loads only for XLSX

        return XlsxReader(path, batch_rows)
    cls = {"csv": CsvReader, "jsonl": JsonlReader, "parquet": ParquetReader}[fmt]
    reader = cls(path, batch_rows)
    if isinstance(reader, _LineReader):
        reader.max_record_bytes = int(max_record_bytes)
    return reader
