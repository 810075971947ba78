"""XLSX exports (Excel, WPS, SCRM tools): the first worksheet, read in streaming mode.

The workbook is opened with openpyxl's read-only mode (rows are parsed as they are read,
so a large sheet is never held in memory) and ``data_only`` (cached values, not
formulas). Row 1 is the header; every other non-empty row is a record, numbered by its
spreadsheet row. Each cell becomes text as the other readers give it: numbers in their
shortest exact form (``1299``, ``1299.5``), dates and times as ISO-8601 *without* an
offset (Excel has no time zones: give the mapping a ``[timestamps] timezone``), booleans
as ``true``/``false``. Column mapping and cleaning then apply as for CSV.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from graph.errors import IngestError
from graph.ingest.raw import RawBatch, Reader

__all__ = ["XlsxReader", "cell_text"]


def cell_text(value: Any) -> str | None:
    """A cell value as text (None for an empty cell); see the module docs."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, Decimal | int):
        return str(value)
    text = str(value)
    return text


class XlsxReader(Reader):
    """The first worksheet of an ``.xlsx`` file, ``batch_rows`` rows per batch."""

    def __init__(self, path: Path, batch_rows: int) -> None:
        super().__init__(path, batch_rows)
        self.total = 1

    def __iter__(self) -> Iterator[RawBatch]:
        from openpyxl import load_workbook

        try:
            wb = load_workbook(self.path, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises zipfile, KeyError and its own errors
            raise IngestError(
                f"{self.path} is not a readable XLSX workbook: {exc}.", path=str(self.path)
            ) from exc
        try:
            ws = wb.worksheets[0]
            self.total = max(int(ws.max_row or 1) - 1, 1)
            rows = ws.iter_rows(values_only=True)
            header = next(rows, None)
            if header is None:
                self.warnings.append(f"{self.path}: the sheet is empty (no header row).")
                return
            names = self._names(header)
            width = len(names)
            cols: list[list[str | None]] = [[] for _ in names]
            numbers: list[int] = []
            for number, row in enumerate(rows, start=2):
                self.done = number - 1
                if row is None or all(v is None or v == "" for v in row):
                    continue
                for j in range(width):
                    cols[j].append(cell_text(row[j]) if j < len(row) else None)
                numbers.append(number)
                if len(numbers) >= self.batch_rows:
                    yield self._batch(names, cols, numbers)
                    cols, numbers = [[] for _ in names], []
            if numbers:
                yield self._batch(names, cols, numbers)
            elif self.done == 0:
                self.warnings.append(f"{self.path}: the sheet has no rows below its header.")
        finally:
            wb.close()

    def _names(self, header: tuple[Any, ...]) -> list[str]:
        names = [cell_text(v) or "" for v in header]
        while names and names[-1] == "":
            names.pop()
        blank = [i + 1 for i, n in enumerate(names) if not n.strip()]
        if blank:
            raise IngestError(
                f"{self.path}: header cell(s) in column(s) {blank} are empty; every column "
                "needs a name in row 1.",
                path=str(self.path),
            )
        names = [n.strip() for n in names]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise IngestError(
                f"{self.path}: duplicate column name(s) {dupes} in row 1.", path=str(self.path)
            )
        return names

    @staticmethod
    def _batch(names: list[str], cols: list[list[str | None]], numbers: list[int]) -> RawBatch:
        table = pa.table([pa.array(c, pa.string()) for c in cols], names=names)
        return RawBatch(table, np.asarray(numbers, dtype=np.int64))
