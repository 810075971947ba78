"""How to read and validate an ingestion's input: one options object, built once.

The limits and policies of :func:`graph.ingest.ingest_files` and
:func:`graph.ingest.ingest_records` live here with their defaults (once), and
:meth:`IngestOptions.from_settings` builds them from the ``KOC_*`` settings at
the edges (the CLI and the HTTP API).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from graph.errors import IngestError
from graph.events import EventType
from graph.ingest.mapping import ColumnMapping, load_mapping

__all__ = ["IngestOptions", "DEFAULT_BATCH_ROWS", "UNKNOWN_COLUMN_POLICIES"]

#: Default rows per batch (``KOC_INGEST_BATCH_ROWS``).
DEFAULT_BATCH_ROWS = 500_000
UNKNOWN_COLUMN_POLICIES = ("warn", "reject", "ignore")


@dataclass(frozen=True)
class IngestOptions:
    """Options of one ingestion (files or posted records).

    Attributes
    ----------
    fmt : {"csv", "jsonl", "parquet", "xlsx"}, optional
        Format of every file; by default from each file's extension (``.gz`` ignored).
    event_type : EventType, optional
        Record type of every row; by default each row's ``type`` column.
    mapping : ColumnMapping, optional
        Column renames / constants (a TOML file, see :mod:`graph.ingest.mapping`).
    strict : bool
        :attr:`IngestSummary.failed` is true when any row was rejected
        (``koc ingest --strict`` then exits with status 1).
    unknown_columns : {"warn", "reject", "ignore"}
        Columns that are not KOC fields: warn once per file, reject every row
        with a value in them, or ignore them silently.
    batch_rows : int
        Rows per batch (one transaction each); memory grows with this, not
        with the file size.
    max_field_bytes : int
        Longest accepted value (bytes); longer values reject the row. A line of
        a text file longer than :attr:`max_record_bytes` is rejected as a whole
        while it is read, so memory stays bounded.
    max_amount : Decimal
        Largest accepted order/refund amount.
    dataset : str, optional
        Read the files as a known public dataset (``"higgs"``, ``"beibei"``,
        see :mod:`graph.ingest.sources`); its own column mapping applies.
    max_rejects : int, optional
        Refuse a batch (:class:`graph.errors.TooManyRejectsError`, nothing of it
        stored) when more of its rows would be quarantined; the HTTP API sets
        ``KOC_API_MAX_REJECTS`` so one request cannot flood the quarantine.
    """

    fmt: str | None = None
    event_type: EventType | None = None
    mapping: ColumnMapping | None = None
    strict: bool = False
    unknown_columns: str = "warn"
    batch_rows: int = DEFAULT_BATCH_ROWS
    max_field_bytes: int = 64 * 1024
    max_amount: Decimal = Decimal("1000000")
    dataset: str | None = None
    max_rejects: int | None = None

    def __post_init__(self) -> None:
        if self.unknown_columns not in UNKNOWN_COLUMN_POLICIES:
            raise IngestError(
                f"The 'unknown_columns' parameter must be one of {', '.join(UNKNOWN_COLUMN_POLICIES)}. "
                f"Got {self.unknown_columns!r} instead."
            )
        if self.event_type is not None and not isinstance(self.event_type, EventType):
            try:
                object.__setattr__(self, "event_type", EventType(self.event_type))
            except ValueError:
                raise IngestError(
                    f"Unknown record type {self.event_type!r}; expected one of "
                    f"{', '.join(t.value for t in EventType)}."
                ) from None
        if self.mapping is not None and not isinstance(self.mapping, ColumnMapping):
            object.__setattr__(self, "mapping", load_mapping(self.mapping))
        if not isinstance(self.max_amount, Decimal):
            try:
                object.__setattr__(self, "max_amount", Decimal(str(self.max_amount)))
            except InvalidOperation:
                raise IngestError(
                    f"The 'max_amount' parameter must be a decimal number. "
                    f"Got {self.max_amount!r} instead."
                ) from None
        if int(self.batch_rows) < 1:
            raise IngestError(
                f"The 'batch_rows' parameter must be at least 1. Got {self.batch_rows} instead."
            )

    @property
    def max_record_bytes(self) -> int:
        """Longest accepted record (line) of a text file: 64 fields of ``max_field_bytes``."""
        return 64 * self.max_field_bytes

    @classmethod
    def from_settings(cls, settings: Any, **overrides: Any) -> IngestOptions:
        """Options from ``KOC_*`` settings (:class:`graph.settings.Settings`), then ``overrides``.

        Overrides that are None (an option not given on the command line) keep
        the setting.
        """
        base = cls(
            unknown_columns=settings.unknown_columns,
            batch_rows=settings.ingest_batch(),
            max_field_bytes=settings.max_field_bytes,
            max_amount=settings.max_amount,
        )
        return base.replace(**{k: v for k, v in overrides.items() if v is not None})

    def replace(self, **changes: Any) -> IngestOptions:
        """A copy with some options changed (unknown names raise :class:`TypeError`)."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise TypeError(
                f"Unknown ingestion option(s) {', '.join(sorted(unknown))}; "
                f"known: {', '.join(sorted(known))}."
            )
        if isinstance(changes.get("mapping"), (str, Path)):
            changes["mapping"] = load_mapping(changes["mapping"])
        return dataclasses.replace(self, **changes)
