"""The outcome of one ingestion: counts that always balance, per type and per file."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["TypeCounts", "FileSummary", "IngestSummary", "RejectSample", "REJECT_SAMPLE_SIZE"]

#: How many reject messages a summary keeps as examples.
REJECT_SAMPLE_SIZE = 20


@dataclass(frozen=True)
class RejectSample:
    """One quarantined row, as the summary shows it: where, which field, why."""

    source: str
    row: int | None
    field: str | None
    value: str | None
    reason: str

    @property
    def detail(self) -> str:
        """``field 'x' = 'v': reason`` (the value cut to 60 characters), or the reason."""
        value = self.value
        if value is not None and len(value) > 60:
            value = value[:60] + "..."
        return (f"field {self.field!r} = {value!r}: " if self.field else "") + self.reason

    @property
    def message(self) -> str:
        """``source:row: field 'x' = 'v': reason``."""
        return f"{self.source}:{self.row}: {self.detail}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "field": self.field,
            "value": self.value,
            "reason": self.reason,
            "message": self.message,
        }


@dataclass
class TypeCounts:
    """Rows of one record type: inserted, skipped as duplicates, quarantined."""

    inserted: int = 0
    duplicates: int = 0
    rejected: int = 0

    @property
    def total(self) -> int:
        return self.inserted + self.duplicates + self.rejected

    def add(self, other: TypeCounts) -> None:
        self.inserted += other.inserted
        self.duplicates += other.duplicates
        self.rejected += other.rejected

    def to_dict(self) -> dict[str, int]:
        return {"inserted": self.inserted, "duplicates": self.duplicates, "rejected": self.rejected}


@dataclass
class FileSummary:
    """Counts of one input (a file, or ``api`` for records posted over HTTP).

    ``read`` counts data rows (blank lines and the CSV header are not rows).
    ``read == inserted + duplicates + rejected`` always holds.
    """

    source: str
    read: int = 0
    inserted: int = 0
    duplicates: int = 0
    rejected: int = 0
    batches: int = 0
    seconds: float = 0.0
    by_type: dict[str, TypeCounts] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def add_type(self, event_type: str, counts: TypeCounts) -> None:
        """Add the outcome of one batch for one record type."""
        self.by_type.setdefault(event_type, TypeCounts()).add(counts)
        self.inserted += counts.inserted
        self.duplicates += counts.duplicates
        self.rejected += counts.rejected

    def check_balance(self) -> None:
        """Assert the invariant ``read == inserted + duplicates + rejected``."""
        total = self.inserted + self.duplicates + self.rejected
        assert self.read == total, (
            f"ingestion summary of {self.source} does not balance: read {self.read} != "
            f"inserted {self.inserted} + duplicates {self.duplicates} + rejected {self.rejected}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "read": self.read,
            "inserted": self.inserted,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "batches": self.batches,
            "seconds": round(self.seconds, 3),
            "by_type": {k: v.to_dict() for k, v in sorted(self.by_type.items())},
            "warnings": list(self.warnings),
        }


@dataclass
class IngestSummary:
    """What an ingestion did, over all its inputs.

    Attributes
    ----------
    files : list of FileSummary
        One entry per input, in the order they were read.
    reject_samples : list of RejectSample
        The first :data:`REJECT_SAMPLE_SIZE` quarantined rows (``to_dict`` shows
        their messages, ``source:row: field 'x' = 'v': reason``).
    strict : bool
        Whether the caller asked for strict mode (:attr:`failed` is then true
        as soon as one row was rejected).
    """

    files: list[FileSummary] = field(default_factory=list)
    reject_samples: list[RejectSample] = field(default_factory=list)
    strict: bool = False

    def _sum(self, name: str) -> int:
        return sum(getattr(f, name) for f in self.files)

    @property
    def read(self) -> int:
        return self._sum("read")

    @property
    def inserted(self) -> int:
        return self._sum("inserted")

    @property
    def duplicates(self) -> int:
        return self._sum("duplicates")

    @property
    def rejected(self) -> int:
        return self._sum("rejected")

    @property
    def seconds(self) -> float:
        return sum(f.seconds for f in self.files)

    @property
    def by_type(self) -> dict[str, TypeCounts]:
        out: dict[str, TypeCounts] = {}
        for f in self.files:
            for t, c in f.by_type.items():
                out.setdefault(t, TypeCounts()).add(c)
        return dict(sorted(out.items()))

    @property
    def warnings(self) -> list[str]:
        return [w for f in self.files for w in f.warnings]

    @property
    def all_rejected(self) -> list[str]:
        """Inputs with rows of which every one was rejected (nothing of them loaded)."""
        return [f.source for f in self.files if f.read > 0 and f.rejected == f.read]

    @property
    def failed(self) -> bool:
        """True in strict mode when at least one row was rejected."""
        return self.strict and self.rejected > 0

    def add_reject_samples(self, samples: list[RejectSample]) -> None:
        room = REJECT_SAMPLE_SIZE - len(self.reject_samples)
        if room > 0:
            self.reject_samples.extend(samples[:room])

    def check_balance(self) -> None:
        """Assert ``read == inserted + duplicates + rejected`` for every input and in total."""
        for f in self.files:
            f.check_balance()
        assert self.read == self.inserted + self.duplicates + self.rejected

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the ``--json`` output of ``koc ingest``)."""
        return {
            "read": self.read,
            "inserted": self.inserted,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "seconds": round(self.seconds, 3),
            "rows_per_second": round(self.read / self.seconds) if self.seconds > 0 else None,
            "by_type": {k: v.to_dict() for k, v in self.by_type.items()},
            "warnings": self.warnings,
            "files": [f.to_dict() for f in self.files],
            "reject_samples": [r.message for r in self.reject_samples],
            "strict": self.strict,
            "failed": self.failed,
            "all_rejected": self.all_rejected,
        }
