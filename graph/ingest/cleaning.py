"""Value cleaning of a column mapping, as DuckDB SQL over a whole batch (no per-row Python).

A mapping file (:mod:`graph.ingest.mapping`) may ask for three kinds of cleaning, applied
to a field's raw text before validation (:mod:`graph.ingest.rules`):

``[values.<field>]``
    Value maps for any field: ``"人民币" = "CNY"`` under ``[values.currency]``, ``"导购" =
    "employee"`` under ``[values.role]``. Exact match on the trimmed text; unmapped values
    pass through unchanged (and are validated as usual).
``[timestamps]``
    ``formats`` (strptime formats, tried in order, for example ``"%Y/%m/%d %H:%M"``) and
    ``timezone`` (IANA name) for *naive* local times: a value read by one of the formats,
    or a naive ISO-8601 value, is taken as local time in ``timezone`` and converted to
    UTC. Values with a UTC offset and epoch numbers are read as before.
``[amounts]``
    For money fields: removes the ``strip`` strings (currency symbols and codes; default
    :data:`DEFAULT_AMOUNT_STRIP`) and spaces, then the ``thousands`` separator (default
    ``","``) where it groups digits by three, so ``¥1,299.00`` reads as ``1299.00`` while
    ``1,29`` stays as it is (and is rejected: not a decimal amount).

A value the cleaning cannot read is left as it is, so the usual check rejects it with the
original text (``not a timestamp ...``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from graph.errors import IngestError

__all__ = [
    "AmountCleaning",
    "TimeParsing",
    "DEFAULT_AMOUNT_STRIP",
    "parse_amounts",
    "parse_timestamps",
    "parse_value_maps",
    "clean_sql",
]

#: What ``[amounts]`` removes from money values by default.
DEFAULT_AMOUNT_STRIP: tuple[str, ...] = ("¥", "￥", "$", "€", "£", "元", "RMB", "CNY", "人民币")
_ISO_NAIVE = r"\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)?"


@dataclass(frozen=True)
class AmountCleaning:
    """``[amounts]``: strings to strip and the thousands separator."""

    strip: tuple[str, ...] = DEFAULT_AMOUNT_STRIP
    thousands: str = ","


@dataclass(frozen=True)
class TimeParsing:
    """``[timestamps]``: strptime formats for local times and their time zone."""

    timezone: str
    formats: tuple[str, ...] = field(default_factory=tuple)


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _strings(value: Any, where: str, origin: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise IngestError(f"{origin}: {where} must be a list of strings.", mapping=origin)
    return tuple(value)


def parse_amounts(section: Any, origin: str) -> AmountCleaning | None:
    """The ``[amounts]`` section (None when absent)."""
    if section is None:
        return None
    if not isinstance(section, Mapping) or set(section) - {"strip", "thousands"}:
        raise IngestError(
            f"{origin}: [amounts] may hold only 'strip' (a list of strings) and "
            "'thousands' (the separator).",
            mapping=origin,
        )
    strip = _strings(section.get("strip", list(DEFAULT_AMOUNT_STRIP)), "[amounts] strip", origin)
    thousands = section.get("thousands", ",")
    if not isinstance(thousands, str) or thousands in (".", ""):
        raise IngestError(
            f"{origin}: [amounts] thousands must be a separator other than '.' "
            f"(got {thousands!r}).",
            mapping=origin,
        )
    return AmountCleaning(strip, thousands)


def parse_timestamps(section: Any, origin: str) -> TimeParsing | None:
    """The ``[timestamps]`` section (None when absent); checks the zone and formats."""
    if section is None:
        return None
    if not isinstance(section, Mapping) or set(section) - {"formats", "timezone"}:
        raise IngestError(
            f"{origin}: [timestamps] may hold only 'formats' and 'timezone'.", mapping=origin
        )
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    tz = section.get("timezone")
    if not isinstance(tz, str):
        raise IngestError(
            f'{origin}: [timestamps] needs timezone = "Asia/Shanghai" (an IANA name): '
            "local times mean nothing without it.",
            mapping=origin,
        )
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise IngestError(
            f"{origin}: [timestamps] timezone {tz!r} is not an IANA time zone name "
            "(for example 'Asia/Shanghai').",
            mapping=origin,
        ) from None
    formats = _strings(section.get("formats", []), "[timestamps] formats", origin)
    for f in formats:
        if "%z" in f or "%Z" in f:
            raise IngestError(
                f"{origin}: [timestamps] format {f!r} reads an offset; values with a UTC "
                "offset are read without a format, list only formats of local times.",
                mapping=origin,
            )
        if not re.search(r"%[Yy]", f):
            raise IngestError(
                f"{origin}: [timestamps] format {f!r} has no year (%Y); see strftime formats.",
                mapping=origin,
            )
    return TimeParsing(tz, formats)


def parse_value_maps(
    section: Any, origin: str, known_fields: frozenset[str]
) -> dict[str, dict[str, str]]:
    """The ``[values.<field>]`` tables: ``{field: {input value: KOC value}}``."""
    if section is None:
        return {}
    if not isinstance(section, Mapping):
        raise IngestError(f"{origin}: [values] must hold one table per field.", mapping=origin)
    out: dict[str, dict[str, str]] = {}
    for name, table in section.items():
        if name not in known_fields:
            raise IngestError(
                f"{origin}: [values.{name}] names an unknown KOC field; see docs/events.md.",
                mapping=origin,
            )
        if not isinstance(table, Mapping):
            raise IngestError(
                f'{origin}: [values.{name}] must be a table of "input value" = "KOC value".',
                mapping=origin,
            )
        out[name] = {str(k).strip(): str(v) for k, v in table.items()}
    return out


def clean_sql(
    expr: str,
    kind: str,
    *,
    values: Mapping[str, str] | None = None,
    amounts: AmountCleaning | None = None,
    timestamps: TimeParsing | None = None,
) -> str:
    """SQL cleaning the raw text ``expr`` of a field of ``kind`` (see the module docs).

    Value maps apply first, then amount cleaning (``kind == "money"``) or time parsing
    (``kind == "ts"``). Returns ``expr`` itself when nothing applies.
    """
    out = expr
    if values:
        whens = " ".join(f"WHEN {_lit(k)} THEN {_lit(v)}" for k, v in sorted(values.items()))
        out = f"(CASE {out} {whens} ELSE {out} END)"
    if kind == "money" and amounts is not None:
        parts = sorted(set(amounts.strip), key=len, reverse=True)
        pattern = "|".join(re.escape(p) for p in parts if p) + r"|\s"
        bare = f"regexp_replace({out}, {_lit(pattern)}, '', 'g')"
        sep = re.escape(amounts.thousands)
        grouped = _lit(rf"[+-]?\d{{1,3}}({sep}\d{{3}})+(\.\d+)?")
        # separators only where they group thousands: "1 299,00" is left to be rejected
        out = (
            f"nullif(CASE WHEN regexp_full_match({bare}, {grouped}) "
            f"THEN replace({bare}, {_lit(amounts.thousands)}, '') ELSE {bare} END, '')"
        )
    elif kind == "ts" and timestamps is not None:
        fmts = ", ".join(_lit(f) for f in timestamps.formats)
        local = (
            f"coalesce(try_strptime({out}, [{fmts}]), "
            f"CASE WHEN regexp_full_match({out}, {_lit(_ISO_NAIVE)}) "
            f"THEN TRY_CAST({out} AS TIMESTAMP) END)"
            if fmts
            else f"CASE WHEN regexp_full_match({out}, {_lit(_ISO_NAIVE)}) "
            f"THEN TRY_CAST({out} AS TIMESTAMP) END"
        )
        utc = f"timezone('UTC', timezone({_lit(timestamps.timezone)}, {local}))"
        out = f"coalesce(strftime({utc}, '%Y-%m-%dT%H:%M:%S.%fZ'), {out})"
    return out
