"""Load stage: validated batches -> one ``store.append_batch`` transaction each.

Extract (:mod:`graph.ingest.readers`) -> validate (:mod:`graph.ingest.validate`)
-> load (here). Every batch is written by one :meth:`GraphStore.append_batch`
call, i.e. one transaction, so a crash or Ctrl-C never leaves half a batch
visible; event ids are deterministic, so running the same load again skips
what is stored and completes the rest.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from graph.errors import IngestError, TooManyRejectsError
from graph.events import EventType
from graph.ingest.keys import reject_id_sql
from graph.ingest.options import DEFAULT_BATCH_ROWS, IngestOptions
from graph.ingest.readers import (
    RawBatch,
    RawReject,
    Reader,
    check_input_file,
    detect_format,
    json_depth_error,
    open_reader,
    records_to_table,
)
from graph.ingest.sources import SOURCES
from graph.ingest.summary import REJECT_SAMPLE_SIZE, FileSummary, IngestSummary, TypeCounts
from graph.ingest.validate import UNTYPED, ValidatedBatch, Validator, reject_samples
from graph.store import REJECT_SCHEMA, BatchResult, GraphStore
from graph.transaction import registered

__all__ = [
    "ingest_files",
    "ingest_records",
    "ingest_batches",
    "IngestOptions",
    "Progress",
    "DEFAULT_BATCH_ROWS",
]

#: ``progress(source, done, total)``: bytes read of a text file (rows of a Parquet file).
Progress = Callable[[str, int, int], None]


def _options(options: IngestOptions | None, overrides: dict[str, Any]) -> IngestOptions:
    """``options`` (or the defaults) with keyword overrides applied."""
    return (
        (options or IngestOptions()).replace(**overrides)
        if overrides
        else (options or IngestOptions())
    )


#: ``json.dumps``'s escape of every character it escapes (``ensure_ascii=False``)
_JSON_ESCAPES = [("\\", "\\\\"), ('"', '\\"')] + [
    (chr(c), json.dumps(chr(c))[1:-1]) for c in range(32)
]


def _json_string_sql(expr: str) -> str:
    """SQL for ``json.dumps(value, ensure_ascii=False)`` of a VARCHAR (``null`` for NULL)."""
    out = expr
    for ch, esc in _JSON_ESCAPES[:2]:
        out = f"replace({out}, {_sql_text(ch)}, {_sql_text(esc)})"
    controls = out
    for ch, esc in _JSON_ESCAPES[2:]:
        controls = f"replace({controls}, chr({ord(ch)}), {_sql_text(esc)})"
    return (
        f"CASE WHEN {expr} IS NULL THEN 'null' "
        f"WHEN regexp_matches({expr}, '[\\x00-\\x1f]') THEN '\"' || {controls} || '\"' "
        f"ELSE '\"' || {out} || '\"' END"
    )


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _json_value_sql(name: str, dtype: pa.DataType) -> str:
    """SQL for one value as :func:`_conflict_rejects`' ``json.dumps(..., default=str)`` writes it."""
    col = f'"{name}"'
    if pa.types.is_timestamp(dtype):  # str(datetime): microseconds only when not zero, +00:00
        text = (
            f"strftime({col}, '%Y-%m-%d %H:%M:%S') || CASE WHEN microsecond({col}) % 1000000 = 0 "
            f"THEN '' ELSE '.' || lpad(CAST(microsecond({col}) % 1000000 AS VARCHAR), 6, '0') END"
            " || '+00:00'"
        )
        return f"CASE WHEN {col} IS NULL THEN 'null' ELSE '\"' || {text} || '\"' END"
    if pa.types.is_integer(dtype):
        return f"coalesce(CAST({col} AS VARCHAR), 'null')"
    if pa.types.is_boolean(dtype):
        return f"CASE WHEN {col} IS NULL THEN 'null' WHEN {col} THEN 'true' ELSE 'false' END"
    return _json_string_sql(f"CAST({col} AS VARCHAR)")  # strings; str(Decimal) == DuckDB's text


def _conflict_rejects(vb: ValidatedBatch, result: BatchResult, source: str) -> pa.Table:
    """Quarantine rows for the rows the store refused as conflicts.

    ``raw`` holds the record as validated (typed values as text, the JSON of
    ``json.dumps({"type": ..., **record}, default=str)``, written in SQL): the
    store decides conflicts inside its transaction, after the raw row is gone.
    """
    c = result.conflicts
    if not c.num_rows:
        return REJECT_SCHEMA.empty_table()
    parts = []
    with duckdb.connect(config={"threads": 1}) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        for name in pc.unique(c.column("event_type")).to_pylist():
            et = EventType(name)
            mine = c.filter(pc.equal(c.column("event_type"), name))
            at = mine.column("index").to_numpy()
            records = vb.tables[et].take(pa.array(at))
            raw = _sql_text(json.dumps({"type": et.value}, ensure_ascii=False)[:-1]) + "".join(
                f" || {_sql_text(', ' + json.dumps(f.name, ensure_ascii=False) + ': ')}"
                f" || {_json_value_sql(f.name, f.type)}"
                for f in records.schema
            )
            for col in ("field", "value", "reason"):
                records = records.append_column(f"__{col}", mine.column(col))
            records = records.append_column("__row", pa.array(vb.rows[et][at], pa.int64()))
            with registered(conn, "_rec", records):
                parts.append(
                    conn.sql(
                        f"""
                        SELECT {reject_id_sql(_sql_text(source), "__row", "__field", "raw")} AS reject_id,
                            {_sql_text(source)} AS source, __row AS row_number,
                            {_sql_text(et.value)} AS event_type, __field AS field,
                            substr(coalesce(__value, ''), 1, 256) AS value, __reason AS reason, raw
                        FROM (SELECT *, substr({raw} || '}}', 1, 4096) AS raw FROM _rec)
                        """
                    )
                    .to_arrow_table()
                    .cast(REJECT_SCHEMA)
                )
    return pa.concat_tables(parts).sort_by("row_number")


class _RejectsFile:
    """Appends quarantined rows to a CSV file (``koc ingest --rejects FILE``)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._writer: pacsv.CSVWriter | None = None

    def write(self, rejects: pa.Table) -> None:
        if self.path is None:
            return
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = pacsv.CSVWriter(str(self.path), REJECT_SCHEMA)
        if rejects.num_rows:
            self._writer.write_table(rejects.cast(REJECT_SCHEMA))

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        elif self.path is not None:  # no reject at all: still leave a header-only file
            self._writer = pacsv.CSVWriter(str(self.path), REJECT_SCHEMA)
            self._writer.close()


_DONE = object()


def _validated(
    batches: Iterable[RawBatch], validator: Validator, source: str, *, background: bool
) -> Iterator[tuple[int, ValidatedBatch]]:
    """``(rows read, validated batch)`` for each raw batch, in input order.

    With ``background``, reading and validating run one batch ahead in a worker
    thread while the caller stores the previous batch (DuckDB and Arrow release
    the GIL, so the two overlap on two cores); at most two batches are in memory.
    """
    if not background:
        for b in batches:
            yield b.n_read, validator.validate(b, source)
        return
    q: queue.Queue[Any] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def put(item: Any) -> None:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def work() -> None:
        try:
            for b in batches:
                if stop.is_set():
                    return
                put((b.n_read, validator.validate(b, source)))
            put(_DONE)
        except BaseException as exc:  # handed to the caller, re-raised there
            put(exc)

    worker = threading.Thread(target=work, name="koc-ingest-validate", daemon=True)
    worker.start()
    try:
        while True:
            item = q.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()


def ingest_batches(
    store: GraphStore,
    batches: Iterable[RawBatch],
    validator: Validator,
    *,
    source: str,
    summary: IngestSummary,
    rejects_file: _RejectsFile | None = None,
    on_batch: Callable[[], None] | None = None,
    background: bool = False,
) -> FileSummary:
    """Validate and store a stream of raw batches from one source; return its counts.

    ``background`` validates the next batch while the current one is stored
    (the validator never touches the store). Rows the store refuses as
    conflicts (:attr:`graph.store.BatchResult.conflicts`) are quarantined right
    after their batch, idempotently: a crash in between loses nothing, since
    running the load again refuses them again.
    """
    fs = FileSummary(source=source)
    summary.files.append(fs)
    t0 = time.perf_counter()
    limit = validator.options.max_rejects
    try:
        for n_read, vb in _validated(batches, validator, source, background=background):
            if limit is not None and vb.rejects.num_rows > limit:
                raise TooManyRejectsError(
                    f"{source}: {vb.rejects.num_rows:,} of {n_read:,} records are invalid, more "
                    f"than the {limit:,} one batch may quarantine; nothing of it was stored. "
                    f"First problem: {vb.samples(1)[0].message if vb.rejects.num_rows else ''}",
                    rejected=vb.rejects.num_rows,
                    read=n_read,
                    limit=limit,
                )
            result = store.append_batch(vb.tables, vb.rejects if vb.rejects.num_rows else None)
            conflicts = _conflict_rejects(vb, result, source)
            if conflicts.num_rows:
                store.append_batch({}, conflicts)
            fs.read += n_read
            fs.batches += 1
            types = set(vb.tables) | {EventType(t) for t in vb.rejected_by_type if t != UNTYPED}
            for et in types:
                wr = result.by_type.get(et.value)
                superseded = vb.superseded.get(et.value, 0)
                fs.add_type(
                    et.value,
                    TypeCounts(
                        inserted=wr.inserted if wr else 0,
                        duplicates=(wr.duplicates if wr else 0) + superseded,
                        rejected=vb.rejected_by_type.get(et.value, 0) + (wr.conflicts if wr else 0),
                    ),
                )
            untyped = vb.rejects.num_rows - sum(
                n for t, n in vb.rejected_by_type.items() if t != UNTYPED
            )
            if untyped:
                fs.add_type(UNTYPED, TypeCounts(rejected=untyped))
            fs.warnings.extend(vb.warnings)
            summary.add_reject_samples(vb.samples(REJECT_SAMPLE_SIZE))
            summary.add_reject_samples(reject_samples(conflicts))
            if rejects_file is not None:
                rejects_file.write(vb.rejects)
                rejects_file.write(conflicts)
            fs.check_balance()
            if on_batch is not None:
                on_batch()
    finally:
        fs.seconds = time.perf_counter() - t0
    return fs


def ingest_files(
    store: GraphStore,
    paths: Sequence[str | Path],
    options: IngestOptions | None = None,
    *,
    progress: Progress | None = None,
    rejects_path: str | Path | None = None,
    **overrides: Any,
) -> IngestSummary:
    """Validate and load CSV / JSON Lines / Parquet files (optionally gzip-compressed).

    Parameters
    ----------
    store : GraphStore
        Where valid rows go (:meth:`GraphStore.append_batch`, one transaction per
        batch) and invalid rows are quarantined.
    paths : sequence of path
        Input files, loaded in order.
    options : IngestOptions, optional
        Format, record type, mapping, limits and policies (defaults:
        :class:`IngestOptions`; the CLI builds them with
        :meth:`IngestOptions.from_settings`).
    progress : callable, optional
        ``progress(source, done, total)`` after every batch.
    rejects_path : path, optional
        Also write every quarantined row of this run to this CSV file; it must
        not be one of the inputs.
    **overrides
        Fields of :class:`IngestOptions` to change (``batch_rows=1000``, ...).

    Returns
    -------
    IngestSummary
        Counts that balance: ``read == inserted + duplicates + rejected``.

    Raises
    ------
    IngestError
        A file is missing, not a regular file, of unknown format, unreadable,
        changed while it was read, or has no record type; ``rejects_path`` is an input.
    """
    opts = _options(options, overrides)
    files = [Path(p) for p in paths]
    source_reader: type[Reader] | None = None
    mapping = opts.mapping
    if opts.dataset is not None:
        if opts.dataset not in SOURCES:
            raise IngestError(
                f"Unknown dataset {opts.dataset!r}; known: {', '.join(sorted(SOURCES))}."
            )
        source_reader, source_mapping = SOURCES[opts.dataset]
        mapping = mapping if mapping is not None else source_mapping
        formats = ["csv"] * len(files)
    else:
        formats = [detect_format(p, opts.fmt) for p in files]
    for p in files:
        check_input_file(p)
    if rejects_path is not None:
        _check_rejects_path(Path(rejects_path), files)
    summary = IngestSummary(strict=opts.strict)
    validator = Validator(opts.replace(mapping=mapping))
    rejects_file = _RejectsFile(Path(rejects_path) if rejects_path is not None else None)
    try:
        for path, f in zip(files, formats, strict=True):
            reader: Reader
            if source_reader is not None:
                reader = source_reader(path, opts.batch_rows)
            else:
                reader = open_reader(
                    path, f, opts.batch_rows, max_record_bytes=opts.max_record_bytes
                )
            source = str(path.resolve())

            def report(reader=reader, source=source) -> None:
                if progress is not None:
                    progress(source, reader.done, reader.total)

            fs = ingest_batches(
                store,
                reader.checked(),
                validator,
                source=source,
                summary=summary,
                rejects_file=rejects_file,
                on_batch=report,
                background=True,
            )
            fs.warnings.extend(reader.warnings)
            if progress is not None:
                progress(source, reader.total, reader.total)
    finally:
        rejects_file.close()
        validator.close()
    summary.check_balance()
    return summary


def _check_rejects_path(rejects: Path, inputs: list[Path]) -> None:
    """Refuse a rejects file that is one of the inputs (writing it would destroy the input)."""
    for p in inputs:
        same = rejects.resolve() == p.resolve()
        if not same and rejects.exists():
            try:
                same = rejects.samefile(p)
            except OSError:
                same = False
        if same:
            raise IngestError(
                f"The rejects file {rejects} is also an input file; writing it would destroy "
                "that input. Pass another --rejects path.",
                path=str(rejects),
            )


def _encodable(record: dict[str, Any]) -> bool:
    try:
        json.dumps(record, ensure_ascii=False, default=str).encode("utf-8")
    except (UnicodeEncodeError, ValueError):
        return False
    return True


def ingest_records(
    store: GraphStore,
    records: list[Any],
    options: IngestOptions | None = None,
    *,
    source: str = "api",
    **overrides: Any,
) -> IngestSummary:
    """Validate and load records already in memory (the HTTP ``POST /events`` path).

    Same rules as :func:`ingest_files` (``options`` and ``overrides`` as there);
    rows are numbered by their 0-based index in ``records``. Values may be
    strings, numbers (ints/floats/Decimals), booleans, ``None`` or, for
    ``attrs``, a dict.

    Returns
    -------
    IngestSummary
        One :class:`FileSummary` named ``source``.
    """
    opts = _options(options, overrides)
    good, rows, bad = [], [], []
    for i, r in enumerate(records):
        why = "record is not a JSON object" if not isinstance(r, dict) else json_depth_error(r)
        if why is None:
            good.append(r)
            rows.append(i)
        else:
            bad.append(RawReject(i, None, None, why, repr(r)[:2048]))
    try:
        table = records_to_table(good, rows)
    except (UnicodeEncodeError, pa.ArrowException):
        # rare: text that is not valid Unicode (e.g. unpaired surrogates from JSON escapes)
        ok = [_encodable(r) for r in good]
        bad += [
            RawReject(i, None, None, "invalid Unicode (unpaired surrogate?)", None)
            for i, r_ok in zip(rows, ok, strict=True)
            if not r_ok
        ]
        good = [r for r, r_ok in zip(good, ok, strict=True) if r_ok]
        rows = [i for i, r_ok in zip(rows, ok, strict=True) if r_ok]
        table = records_to_table(good, rows)
    batch = RawBatch(table, np.asarray(rows, dtype=np.int64), bad)
    summary = IngestSummary(strict=opts.strict)
    validator = Validator(opts)
    try:
        batches: Iterator[RawBatch] = iter([batch] if records else [])
        ingest_batches(store, batches, validator, source=source, summary=summary)
    finally:
        validator.close()
    summary.check_balance()
    return summary
