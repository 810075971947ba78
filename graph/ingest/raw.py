"""Raw input batches and the base of the file readers (before validation).

Every reader (:mod:`graph.ingest.readers`, :mod:`graph.ingest.xlsx`) yields
:class:`RawBatch` objects: string columns, the input row number of each row, and the
rows that could not even be decoded (:class:`RawReject`). :class:`Reader` tracks
progress and refuses a file that changes while it is read.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from graph.errors import IngestError

__all__ = ["RawReject", "RawBatch", "Reader"]


@dataclass(frozen=True)
class RawReject:
    """A row refused before validation (it could not be decoded)."""

    row: int
    field: str | None
    value: str | None
    reason: str
    raw: str | None


@dataclass
class RawBatch:
    """One batch of input rows: string columns, their row numbers, undecodable rows."""

    table: pa.Table
    rows: np.ndarray
    bad: list[RawReject] = field(default_factory=list)

    @property
    def n_read(self) -> int:
        return self.table.num_rows + len(self.bad)


def _identity(path: Path) -> tuple[int, int, int]:
    st = path.stat()
    return (st.st_ino, st.st_size, st.st_mtime_ns)


class Reader:
    """Base of the file readers: progress in bytes (or rows) and warnings."""

    def __init__(self, path: Path, batch_rows: int) -> None:
        self.path = path
        self.batch_rows = batch_rows
        self._identity = _identity(path)
        self.total = max(self._identity[1], 1)
        self.done = 0
        self.warnings: list[str] = []

    def __iter__(self) -> Iterator[RawBatch]:  # pragma: no cover - abstract
        raise NotImplementedError

    def checked(self) -> Iterator[RawBatch]:
        """The batches, each only after checking that the file has not changed.

        A file truncated, appended to or rewritten while it is read would load a
        mix of two versions: :class:`IngestError` instead (the batches stored
        before stay; loading the finished file again completes it).
        """
        for batch in self:
            self._check_unchanged()
            yield batch
        self._check_unchanged()

    def _check_unchanged(self) -> None:
        try:
            now = _identity(self.path)
        except OSError:
            now = (-1, -1, -1)
        if now != self._identity:
            raise IngestError(
                f"{self.path} changed while it was being read (size {self._identity[1]} -> "
                f"{now[1]} bytes, or rewritten); the batches before the change are stored. "
                "Ingest it again once it is complete: stored rows count as duplicates.",
                path=str(self.path),
            )
