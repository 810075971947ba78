"""Deterministic ids: derived event ids and quarantine (reject) ids.

The derived ``event_id`` of a record is the MD5 hex digest of its type and the
canonical text of its key fields (:func:`graph.events.canonical_key_fields`),
joined by the unit separator ``0x1f``; missing values are empty strings,
timestamps are UTC epoch microseconds and amounts are decimals with exactly
four places (``19.9900``). ``user`` records hash *all* their fields, so that an
identical re-ingested user is a duplicate while a changed one replaces the
stored attributes (the store upserts users by ``user_id`` and skips a record
whose ``event_id`` it already holds).

:func:`event_id_sql` (vectorised, used by ingestion) and :func:`derive_event_id`
(one record, used by tests and by code outside the ingestion path) agree.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from graph.arrays import US_PER_DAY, US_PER_SECOND
from graph.events import RECORD_SPECS, EventType, canonical_key_fields

__all__ = ["key_fields", "event_id_sql", "derive_event_id", "reject_id_sql", "derive_reject_id"]

_SEP = "\x1f"


def key_fields(event_type: EventType) -> tuple[str, ...]:
    """Fields hashed into the derived id of ``event_type`` (all fields for users)."""
    if event_type is EventType.USER:
        return RECORD_SPECS[EventType.USER].names
    return canonical_key_fields(event_type)


def _kinds(event_type: EventType) -> dict[str, str]:
    return {f.name: f.kind for f in RECORD_SPECS[event_type].fields}


def event_id_sql(event_type: EventType, exprs: Mapping[str, str]) -> str:
    """DuckDB expression of the derived id, given an expression per typed field."""
    kinds = _kinds(event_type)
    parts = [f"'{event_type.value}'"]
    for name in key_fields(event_type):
        e = exprs.get(name, "NULL")
        if kinds[name] == "ts":
            e = f"CAST(epoch_us({e}) AS VARCHAR)"
        elif kinds[name] == "money":
            e = f"CAST(CAST({e} AS DECIMAL(20, 4)) AS VARCHAR)"
        parts.append(f"coalesce({e}, '')")
    return "md5(" + " || chr(31) || ".join(parts) + ")"


def _canonical(kind: str, value: Any) -> str:
    if value is None:
        return ""
    if kind == "ts":
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError(f"timestamps must be timezone-aware datetimes, got {value!r}")
        delta = value.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
        return str(delta.days * US_PER_DAY + delta.seconds * US_PER_SECOND + delta.microseconds)
    if kind == "money":
        return str(Decimal(value).quantize(Decimal("0.0001")))
    return str(value)


def derive_event_id(event_type: EventType, record: Mapping[str, Any]) -> str:
    """The derived ``event_id`` of one *validated* record (typed values).

    Parameters
    ----------
    event_type : EventType
    record : mapping
        Field values as validation produces them: ``datetime`` (aware) for
        timestamps, ``Decimal`` or decimal strings for amounts, ``str`` otherwise.
    """
    event_type = EventType(event_type)
    kinds = _kinds(event_type)
    parts = [event_type.value] + [
        _canonical(kinds[n], record.get(n)) for n in key_fields(event_type)
    ]
    return hashlib.md5(_SEP.join(parts).encode("utf-8")).hexdigest()


def reject_id_sql(source: str, row: str, field: str, raw: str) -> str:
    """DuckDB expression of the reject id over four column expressions."""
    return (
        f"md5(coalesce({source}, '') || chr(31) || coalesce(CAST({row} AS VARCHAR), '') "
        f"|| chr(31) || coalesce({field}, '') || chr(31) || coalesce({raw}, ''))"
    )


def derive_reject_id(source: str, row: int | None, field: str | None, raw: str | None) -> str:
    """The id of a quarantined row: same source, row, field and content -> same id."""
    parts = [source or "", "" if row is None else str(row), field or "", raw or ""]
    return hashlib.md5(_SEP.join(parts).encode("utf-8")).hexdigest()
