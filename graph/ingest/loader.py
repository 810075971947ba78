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

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from graph.errors import IngestError
from graph.events import EventType
from graph.ingest.mapping import ColumnMapping, load_mapping
from graph.ingest.readers import (
    RawBatch,
    RawReject,
    Reader,
    detect_format,
    open_reader,
    records_to_table,
)
from graph.ingest.sources import SOURCES
from graph.ingest.summary import REJECT_SAMPLE_SIZE, FileSummary, IngestSummary, TypeCounts
from graph.ingest.validate import UNTYPED, ValidatedBatch, Validator
from graph.store import REJECT_SCHEMA, GraphStore

__all__ = ["ingest_files", "ingest_records", "ingest_batches", "Progress", "DEFAULT_BATCH_ROWS"]

#: Default rows per batch (``KOC_INGEST_BATCH_ROWS`` at the CLI).
DEFAULT_BATCH_ROWS = 500_000

#: ``progress(source, done, total)``: bytes read of a text file (rows of a Parquet file).
Progress = Callable[[str, int, int], None]


def _validator(
    store: GraphStore,
    *,
    mapping: ColumnMapping | str | Path | None,
    event_type: EventType | str | None,
    unknown_columns: str,
    max_field_bytes: int,
    max_amount: str,
    lock: threading.Lock | None = None,
) -> Validator:
    if mapping is not None and not isinstance(mapping, ColumnMapping):
        mapping = load_mapping(mapping)
    if event_type is not None:
        try:
            event_type = EventType(event_type)
        except ValueError:
            raise IngestError(
                f"Unknown record type {event_type!r}; expected one of "
                f"{', '.join(t.value for t in EventType)}."
            ) from None

    def stored_orders() -> pa.Table:
        with lock or threading.Lock():
            return store.read_events(EventType.ORDER).select(["order_id", "event_id"])

    return Validator(
        mapping=mapping,
        event_type=event_type,
        unknown_columns=unknown_columns,
        max_field_bytes=max_field_bytes,
        max_amount=max_amount,
        stored_orders=stored_orders,
    )


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
    lock: threading.Lock | None = None,
) -> FileSummary:
    """Validate and store a stream of raw batches from one source; return its counts.

    ``background`` validates the next batch while the current one is stored;
    ``lock`` (shared with the validator's stored-orders lookup) keeps store reads
    and writes of the two threads apart.
    """
    fs = FileSummary(source=source)
    summary.files.append(fs)
    t0 = time.perf_counter()
    lock = lock or threading.Lock()
    try:
        for n_read, vb in _validated(batches, validator, source, background=background):
            with lock:
                result = store.append_batch(vb.tables, vb.rejects if vb.rejects.num_rows else None)
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
                        rejected=vb.rejected_by_type.get(et.value, 0),
                    ),
                )
            untyped = vb.rejects.num_rows - sum(
                n for t, n in vb.rejected_by_type.items() if t != UNTYPED
            )
            if untyped:
                fs.add_type(UNTYPED, TypeCounts(rejected=untyped))
            fs.warnings.extend(vb.warnings)
            summary.add_reject_samples(vb.messages(REJECT_SAMPLE_SIZE))
            if rejects_file is not None:
                rejects_file.write(vb.rejects)
            fs.check_balance()
            if on_batch is not None:
                on_batch()
    finally:
        fs.seconds = time.perf_counter() - t0
    return fs


def ingest_files(
    store: GraphStore,
    paths: Sequence[str | Path],
    *,
    fmt: str | None = None,
    event_type: EventType | str | None = None,
    mapping: ColumnMapping | str | Path | None = None,
    strict: bool = False,
    unknown_columns: str = "warn",
    batch_rows: int = DEFAULT_BATCH_ROWS,
    max_field_bytes: int = 64 * 1024,
    max_amount: str = "1000000",
    progress: Progress | None = None,
    rejects_path: str | Path | None = None,
    dataset: str | None = None,
) -> IngestSummary:
    """Validate and load CSV / JSON Lines / Parquet files (optionally gzip-compressed).

    Parameters
    ----------
    store : GraphStore
        Where valid rows go (:meth:`GraphStore.append_batch`, one transaction per
        batch) and invalid rows are quarantined.
    paths : sequence of path
        Input files, loaded in order.
    fmt : {"csv", "jsonl", "parquet", "xlsx"}, optional
        Format of every file; by default from each file's extension (``.gz`` ignored).
    event_type : EventType or str, optional
        Record type of every row; by default each row's ``type`` column.
    mapping : ColumnMapping or path, optional
        Column renames / constants (a TOML file, see :mod:`graph.ingest.mapping`).
    strict : bool
        Recorded in the summary: :attr:`IngestSummary.failed` is true when any
        row was rejected (``koc ingest --strict`` then exits non-zero).
    unknown_columns : {"warn", "reject", "ignore"}
        Columns that are not KOC fields: warn once per file, reject every row
        with a value in them, or ignore them silently.
    batch_rows : int
        Rows per batch (one transaction each); memory grows with this, not
        with the file size.
    max_field_bytes : int
        Longest accepted value (bytes); longer values reject the row.
    max_amount : str
        Largest accepted order/refund amount.
    progress : callable, optional
        ``progress(source, done, total)`` after every batch.
    rejects_path : path, optional
        Also write every quarantined row of this run to this CSV file.
    dataset : str, optional
        Read the files as a known public dataset instead (``"higgs"``, see
        :mod:`graph.ingest.sources`); its own column mapping applies.

    Returns
    -------
    IngestSummary
        Counts that balance: ``read == inserted + duplicates + rejected``.

    Raises
    ------
    IngestError
        A file is missing, of unknown format, unreadable, or has no record type.
    """
    files = [Path(p) for p in paths]
    source_reader: type[Reader] | None = None
    if dataset is not None:
        if dataset not in SOURCES:
            raise IngestError(f"Unknown dataset {dataset!r}; known: {', '.join(sorted(SOURCES))}.")
        source_reader, source_mapping = SOURCES[dataset]
        mapping = mapping if mapping is not None else source_mapping
        formats = ["csv"] * len(files)
    else:
        formats = [detect_format(p, fmt) for p in files]
    for p in files:
        if not p.is_file():
            raise IngestError(f"Input file {p} does not exist.", path=str(p))
    summary = IngestSummary(strict=strict)
    lock = threading.Lock()
    validator = _validator(
        store,
        mapping=mapping,
        event_type=event_type,
        unknown_columns=unknown_columns,
        max_field_bytes=max_field_bytes,
        max_amount=max_amount,
        lock=lock,
    )
    rejects_file = _RejectsFile(Path(rejects_path) if rejects_path is not None else None)
    try:
        for path, f in zip(files, formats, strict=True):
            reader: Reader
            if source_reader is not None:
                reader = source_reader(path, batch_rows)
            else:
                reader = open_reader(path, f, batch_rows)
            source = str(path.resolve())

            def report(reader=reader, source=source) -> None:
                if progress is not None:
                    progress(source, reader.done, reader.total)

            fs = ingest_batches(
                store,
                iter(reader),
                validator,
                source=source,
                summary=summary,
                rejects_file=rejects_file,
                on_batch=report,
                background=True,
                lock=lock,
            )
            fs.warnings.extend(reader.warnings)
            if progress is not None:
                progress(source, reader.total, reader.total)
    finally:
        rejects_file.close()
        validator.close()
    summary.check_balance()
    return summary


def _encodable(record: dict[str, Any]) -> bool:
    try:
        json.dumps(record, ensure_ascii=False, default=str).encode("utf-8")
    except (UnicodeEncodeError, ValueError):
        return False
    return True


def ingest_records(
    store: GraphStore,
    records: list[dict[str, Any]],
    *,
    source: str = "api",
    event_type: EventType | str | None = None,
    mapping: ColumnMapping | str | Path | None = None,
    unknown_columns: str = "warn",
    max_field_bytes: int = 64 * 1024,
    max_amount: str = "1000000",
) -> IngestSummary:
    """Validate and load records already in memory (the HTTP ``POST /events`` path).

    Same rules as :func:`ingest_files`; rows are numbered by their 0-based index
    in ``records``. Values may be strings, numbers (ints/floats/Decimals),
    booleans, ``None`` or, for ``attrs``, a dict.

    Returns
    -------
    IngestSummary
        One :class:`FileSummary` named ``source``.
    """
    good = [r for r in records if isinstance(r, dict)]
    rows = [i for i, r in enumerate(records) if isinstance(r, dict)]
    bad = [
        RawReject(i, None, None, "record is not a JSON object", repr(r)[:2048])
        for i, r in enumerate(records)
        if not isinstance(r, dict)
    ]
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
    summary = IngestSummary()
    validator = _validator(
        store,
        mapping=mapping,
        event_type=event_type,
        unknown_columns=unknown_columns,
        max_field_bytes=max_field_bytes,
        max_amount=max_amount,
    )
    try:
        batches: Iterator[RawBatch] = iter([batch] if records else [])
        ingest_batches(store, batches, validator, source=source, summary=summary)
    finally:
        validator.close()
    summary.check_balance()
    return summary
