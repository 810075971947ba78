"""Column mapping: load a user's own export without renaming its columns first.

A mapping is a small TOML file (``koc ingest --map mapping.toml``)::

    # your column = KOC field, for every record type
    [columns]
    uid = "user_id"
    kind = "type"
    paid_at = "ts"

    # fixed values for fields the export lacks
    [constants]
    currency = "CNY"

    # values of the type column that are not KOC type names
    [type_values]
    purchase = "order"

    # per record type: these win over the global sections
    [types.order.columns]
    customer = "buyer"
    [types.order.constants]
    channel = "tmall"

    # value maps for any field, local-time formats, amount cleaning
    # (graph.ingest.cleaning: done in SQL over each batch)
    [values.currency]
    "人民币" = "CNY"
    [timestamps]
    formats = ["%Y/%m/%d %H:%M"]
    timezone = "Asia/Shanghai"
    [amounts]            # strips currency symbols and thousands separators

Column names with characters other than ``A-Z a-z 0-9 _ -`` (Chinese names, spaces)
must be quoted: ``"下单时间" = "ts"``. See ``docs/ingestion.md``.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graph.errors import IngestError
from graph.events import RECORD_SPECS, EventType
from graph.ingest.cleaning import (
    AmountCleaning,
    TimeParsing,
    clean_sql,
    parse_amounts,
    parse_timestamps,
    parse_value_maps,
)

__all__ = ["ColumnMapping", "load_mapping", "FieldSource", "TYPE_FIELD", "EVENT_ID_FIELD"]

#: Canonical name of the column holding each row's record type.
TYPE_FIELD = "type"
#: Canonical name of an optional, caller-given event id.
EVENT_ID_FIELD = "event_id"
_KNOWN_FIELDS = frozenset(
    {TYPE_FIELD, EVENT_ID_FIELD} | {n for s in RECORD_SPECS.values() for n in s.names}
)


@dataclass(frozen=True)
class FieldSource:
    """Where one canonical field comes from: an input column or a constant.

    A column may come with cleaning (:mod:`graph.ingest.cleaning`): a value map, amount
    cleaning and local-time parsing, applied by :meth:`sql`.
    """

    column: str | None = None
    constant: str | None = None
    values: dict[str, str] | None = None
    amounts: AmountCleaning | None = None
    timestamps: TimeParsing | None = None

    def sql(self, expr: str, kind: str) -> str:
        """SQL of the cleaned value of column expression ``expr`` for a field of ``kind``."""
        return clean_sql(
            expr, kind, values=self.values, amounts=self.amounts, timestamps=self.timestamps
        )


@dataclass(frozen=True)
class ColumnMapping:
    """Input column -> canonical field renames, constants and type-value aliases.

    Attributes
    ----------
    columns : dict
        ``{input column: canonical field}`` for every record type.
    constants : dict
        ``{canonical field: value}`` for every record type.
    type_values : dict
        ``{value in the type column: record type name}``.
    per_type_columns, per_type_constants : dict
        The same per record type; they take precedence over the global ones.
    values : dict
        ``{canonical field: {input value: KOC value}}`` (``[values.<field>]``).
    amounts : AmountCleaning, optional
        ``[amounts]``: clean money values (currency symbols, thousands separators).
    timestamps : TimeParsing, optional
        ``[timestamps]``: formats and time zone of naive local times.
    """

    columns: dict[str, str] = field(default_factory=dict)
    constants: dict[str, str] = field(default_factory=dict)
    type_values: dict[str, str] = field(default_factory=dict)
    per_type_columns: dict[EventType, dict[str, str]] = field(default_factory=dict)
    per_type_constants: dict[EventType, dict[str, str]] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    amounts: AmountCleaning | None = None
    timestamps: TimeParsing | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, origin: str = "mapping") -> ColumnMapping:
        """Build a mapping from parsed TOML; raises :class:`IngestError` on a bad key."""
        allowed = {
            "columns",
            "constants",
            "type_values",
            "types",
            "values",
            "amounts",
            "timestamps",
        }
        extra = set(data) - allowed
        if extra:
            raise IngestError(
                f"{origin}: unknown section(s) {sorted(extra)}; allowed: {sorted(allowed)}.",
                mapping=origin,
            )

        def table(value: Any, where: str) -> dict[str, str]:
            if not isinstance(value, Mapping):
                raise IngestError(f"{origin}: [{where}] must be a table.", mapping=origin)
            return {str(k): str(v) for k, v in value.items()}

        def fields(d: dict[str, str], where: str, *, keys: bool) -> dict[str, str]:
            names = d.keys() if keys else d.values()
            bad = sorted(n for n in names if n not in _KNOWN_FIELDS)
            if bad:
                raise IngestError(
                    f"{origin}: [{where}] names unknown KOC field(s) {bad}; "
                    "see docs/events.md for the field names.",
                    mapping=origin,
                )
            return d

        columns = fields(table(data.get("columns", {}), "columns"), "columns", keys=False)
        constants = fields(table(data.get("constants", {}), "constants"), "constants", keys=True)
        type_values = table(data.get("type_values", {}), "type_values")
        for alias, target in type_values.items():
            _event_type(target, f"{origin}: [type_values] {alias}")
        per_cols: dict[EventType, dict[str, str]] = {}
        per_consts: dict[EventType, dict[str, str]] = {}
        types = data.get("types", {})
        if not isinstance(types, Mapping):
            raise IngestError(f"{origin}: [types] must be a table.", mapping=origin)
        for name, section in types.items():
            et = _event_type(name, f"{origin}: [types.{name}]")
            if not isinstance(section, Mapping) or set(section) - {"columns", "constants"}:
                raise IngestError(
                    f"{origin}: [types.{name}] may hold only 'columns' and 'constants'.",
                    mapping=origin,
                )
            where = f"types.{name}"
            per_cols[et] = fields(table(section.get("columns", {}), where), where, keys=False)
            per_consts[et] = fields(table(section.get("constants", {}), where), where, keys=True)
        return cls(
            columns,
            constants,
            type_values,
            per_cols,
            per_consts,
            values=parse_value_maps(data.get("values"), origin, _KNOWN_FIELDS),
            amounts=parse_amounts(data.get("amounts"), origin),
            timestamps=parse_timestamps(data.get("timestamps"), origin),
        )

    def sources(
        self, event_type: EventType | None, available: Iterable[str]
    ) -> dict[str, FieldSource]:
        """Where each canonical field of ``event_type`` (or the type column) comes from.

        An input column already named like the canonical field is used unless a
        mapping names another column for that field.
        """
        available = list(available)
        if event_type is None:
            names: tuple[str, ...] = (TYPE_FIELD,)
            per_cols: dict[str, str] = {}
            per_consts: dict[str, str] = {}
        else:
            names = (EVENT_ID_FIELD, *RECORD_SPECS[event_type].names)
            per_cols = self.per_type_columns.get(event_type, {})
            per_consts = self.per_type_constants.get(event_type, {})
        out: dict[str, FieldSource] = {}
        for name in names:
            col = _column_for(name, per_cols, available) or _column_for(
                name, self.columns, available
            )
            if name in per_consts:
                out[name] = FieldSource(constant=per_consts[name])
            elif col is not None:
                out[name] = self._column_source(name, col)
            elif name in self.constants:
                out[name] = FieldSource(constant=self.constants[name])
            elif name in available and name not in self.columns:
                out[name] = self._column_source(name, name)
        return out

    def _column_source(self, name: str, column: str) -> FieldSource:
        return FieldSource(
            column=column,
            values=self.values.get(name),
            amounts=self.amounts,
            timestamps=self.timestamps,
        )

    def used_columns(self) -> set[str]:
        """Input columns the mapping renames (for any type)."""
        used = set(self.columns)
        for cols in self.per_type_columns.values():
            used |= set(cols)
        return used

    def is_known_column(self, column: str) -> bool:
        """Whether an input column maps to (or is named like) a KOC field."""
        return column in _KNOWN_FIELDS or column in self.used_columns()


def _column_for(name: str, renames: dict[str, str], available: list[str]) -> str | None:
    for column, target in renames.items():
        if target == name and column in available:
            return column
    return None


def _event_type(name: str, where: str) -> EventType:
    try:
        return EventType(name)
    except ValueError:
        raise IngestError(
            f"{where}: unknown record type {name!r}; expected one of "
            f"{', '.join(t.value for t in EventType)}.",
        ) from None


def load_mapping(path: str | Path) -> ColumnMapping:
    """Read a mapping TOML file (format in the module docstring and ``docs/ingestion.md``).

    Raises
    ------
    IngestError
        When the file is missing, not TOML, or names unknown fields or types.
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IngestError(f"Mapping file {path} does not exist.", mapping=str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise IngestError(
            f"Mapping file {path} is not valid TOML: {exc}.{_quoting_hint(path, exc)}",
            mapping=str(path),
        ) from exc
    except UnicodeDecodeError as exc:
        raise IngestError(
            f"Mapping file {path} is not UTF-8 text: {exc}.", mapping=str(path)
        ) from exc
    return ColumnMapping.from_dict(data, origin=str(path))


_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_AT_LINE = re.compile(r"line (\d+)")


def _quoting_hint(path: Path, exc: tomllib.TOMLDecodeError) -> str:
    """A hint when the failing line's key needs quotes (Chinese names, spaces, dots...)."""
    match = _AT_LINE.search(str(exc))
    if match is None:
        return ""
    lines = path.read_text(encoding="utf-8").splitlines()
    n = int(match.group(1))
    if not 1 <= n <= len(lines) or "=" not in lines[n - 1]:
        return ""
    line = lines[n - 1]
    key = line.split("=", 1)[0].strip()
    if not key or key[0] in "\"'[" or _BARE_KEY.match(key):
        return ""
    value = line.split("=", 1)[1].strip()
    return (
        f" Line {n} `{line.strip()}`: a column name with characters other than "
        f'A-Z a-z 0-9 _ - must be quoted: `"{key}" = {value}`.'
    )
