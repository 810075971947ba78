"""Ingestion: validate -> quarantine bad rows -> idempotent load into a GraphStore.

Public entry points:

* :func:`ingest_files` -- CSV / JSON Lines / Parquet files (also ``.gz``), the
  ``koc ingest`` command;
* :func:`ingest_records` -- in-memory records, the HTTP ``POST /events`` route;
* :class:`IngestSummary` -- counts that always balance
  (``read == inserted + duplicates + rejected``).

See ``docs/ingestion.md``.
"""

from __future__ import annotations

from graph.ingest.keys import derive_event_id, derive_reject_id
from graph.ingest.loader import DEFAULT_BATCH_ROWS, ingest_batches, ingest_files, ingest_records
from graph.ingest.mapping import ColumnMapping, load_mapping
from graph.ingest.options import IngestOptions
from graph.ingest.summary import FileSummary, IngestSummary, RejectSample, TypeCounts

__all__ = [
    "ingest_files",
    "ingest_records",
    "ingest_batches",
    "IngestOptions",
    "IngestSummary",
    "RejectSample",
    "FileSummary",
    "TypeCounts",
    "ColumnMapping",
    "load_mapping",
    "derive_event_id",
    "derive_reject_id",
    "DEFAULT_BATCH_ROWS",
]
