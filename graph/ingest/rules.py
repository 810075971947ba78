"""Validation rules as SQL: for each record type, the checks a row must pass, in order.

Every rule is a DuckDB column expression over one batch (alias ``r``), so
:class:`graph.ingest.validate.Validator` checks half a million rows in one query.
The rules and their messages are listed in ``docs/ingestion.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import NamedTuple

from graph.events import EDGE_TYPES, RECORD_SPECS, EventType, Role
from graph.ingest.mapping import EVENT_ID_FIELD, FieldSource
from graph.money import CURRENCY_MINOR_UNITS

__all__ = [
    "type_rules",
    "Check",
    "MAX_STORABLE_AMOUNT",
    "TS_MIN",
    "TS_MAX",
    "EPOCH_MS_THRESHOLD",
    "ISO_SECONDS",
    "quote_ident",
    "quote_literal",
]


class Check(NamedTuple):
    """One validation rule of one field, as SQL expressions over the batch alias ``r``.

    A row breaks the rule when ``condition`` is true; its quarantine row then
    names ``field``, the offending value (``value``) and the reason (``reason``,
    an SQL text expression, so it can quote the row's own value).
    """

    condition: str
    field: str
    value: str
    reason: str


#: Accepted timestamp range (inclusive start, exclusive end), UTC.
TS_MIN, TS_MAX = "1970-01-01", "2100-01-01"
#: Epoch numbers below this are seconds, at or above it milliseconds (1e11 s is year 5138,
#: 1e11 ms is 1973-03-03).
EPOCH_MS_THRESHOLD = 100_000_000_000
#: Largest amount the stores hold (``DECIMAL(20, 4)``: 16 integer digits).
MAX_STORABLE_AMOUNT = Decimal("9999999999999999.9999")
_AMOUNT_INT_DIGITS = 16
_ID_MAX, _TEXT_MAX = 128, 1024
_ISO = r"\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?)?"
#: a UTC offset at the end of an ISO-8601 timestamp (``Z``, ``+08:00``, ``+0800``, ``+08``)
_OFFSET_END = r"(\d[Zz]|\d\s?[+-]\d{2}(:?\d{2})?)$"
_EPOCH = r"\d{1,15}(\.\d{1,6})?"
#: The common timestamp shape ``2026-07-06T02:54:59+08:00`` (seconds below 60, an offset
#: with minutes). For such a value the ISO branch of :func:`_ts_rules` applies, no leap
#: second, the offset is at a fixed place and the "no timezone" rule cannot fail, so a
#: batch whose column holds only these is checked without any regex.
ISO_SECONDS = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:[0-5]\d[+-]\d{2}:\d{2}$"
_VERBS = {
    EventType.VIEW: "view their own share",
    EventType.FORWARD: "forward their own content",
    EventType.COMMENT: "comment on their own content",
    EventType.REFERRAL: "refer themself",
}


def quote_ident(name: str) -> str:
    """A SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def type_rules(
    et: EventType,
    src: dict[str, FieldSource],
    columns: list[str],
    unknown: list[str],
    *,
    maxlen: dict[str, int],
    max_field_bytes: int,
    max_amount: Decimal,
    reject_unknown: bool,
    non_ascii: frozenset[str] = frozenset(),
    iso_seconds: frozenset[str] = frozenset(),
) -> tuple[dict[str, str], dict[str, str], list[Check]]:
    """SQL pieces for one record type: raw values, typed values, and the ordered checks.

    Parameters
    ----------
    et : EventType
    src : dict
        Where each canonical field comes from (:meth:`ColumnMapping.sources`).
    columns, unknown : list of str
        Input columns of the batch, and those that are no KOC field.
    maxlen : dict
        Longest value (bytes) of each input column in this batch: length checks
        that cannot fail are left out.
    max_field_bytes, max_amount, reject_unknown
        Limits and the unknown-column policy.
    non_ascii : frozenset of str
        Input columns with a non-ASCII value in this batch (the others need no
        Unicode normalisation and only an ASCII control-character check).
    iso_seconds : frozenset of str
        Input columns whose every value in this batch matches :data:`ISO_SECONDS`
        (``2026-07-06T02:54:59+08:00``): a timestamp field read from one as it is
        gets the rules that can still fail for such values, without regexes.

    Returns
    -------
    raw, typed : dict
        SQL expression of each field's raw text (alias ``r``) and typed value.
    checks : list of Check
        ``(condition, field, value expression, reason expression)`` in the order
        they apply; a row fails on the first true condition.
    """
    spec = RECORD_SPECS[et]
    kinds = {f.name: f.kind for f in spec.fields}
    kinds[EVENT_ID_FIELD] = "id"
    required = set(spec.required)
    raw: dict[str, str] = {}
    for name in (EVENT_ID_FIELD, *spec.names):
        s = src.get(name)
        if s is None:
            raw[name] = "NULL::VARCHAR"
        elif s.column is not None:  # trimmed, '' -> NULL in _prepare; mapping cleaning
            raw[name] = s.sql(f"r.{quote_ident(s.column)}", kinds[name])
        else:
            raw[name] = f"nullif({quote_literal((s.constant or '').strip())}, '')"
    checks: list[Check] = []
    mfb = max_field_bytes
    for c in columns:
        if maxlen.get(c, 0) <= mfb:
            continue  # no value of this column in the batch is that long
        cond = f"strlen(r.{quote_ident(c)}) > {mfb}"
        reason = f"'value is ' || strlen(r.{quote_ident(c)}) || ' bytes, above the limit of {mfb} (KOC_MAX_FIELD_BYTES)'"
        checks.append(Check(cond, c, f"left(r.{quote_ident(c)}, 64) || '...'", reason))
    if reject_unknown:
        for c in unknown:
            checks.append(
                Check(
                    f"r.{quote_ident(c)} IS NOT NULL",
                    c,
                    f"r.{quote_ident(c)}",
                    "'unknown column (unknown_columns=reject)'",
                )
            )
    typed: dict[str, str] = {}

    def longest(name: str) -> int:
        s = src.get(name)
        if s is None:
            return 0
        if s.column is not None:  # a value map may lengthen a value
            mapped = max((len(v.encode("utf-8")) for v in (s.values or {}).values()), default=0)
            return max(maxlen.get(s.column, 0), mapped)
        return len((s.constant or "").encode("utf-8"))

    def ascii_only(name: str) -> bool:
        s = src.get(name)
        if s is None:
            return True
        values = [s.constant or "", *(s.values or {}).values()]
        return (s.column is None or s.column not in non_ascii) and all(v.isascii() for v in values)

    def plain_iso(name: str) -> bool:
        s = src.get(name)
        return (
            s is not None
            and s.column in iso_seconds
            and raw[name] == f"r.{quote_ident(s.column or '')}"  # no cleaning or value map
        )

    for name in (EVENT_ID_FIELD, *spec.names):
        v, kind = raw[name], kinds[name]
        if name in required:
            checks.append(Check(f"{v} IS NULL", name, "NULL", "'missing required field'"))
        limits = _Limits(max_amount, longest(name), ascii_only(name), plain_iso(name))
        typed[name], rules = _KIND_RULES[kind](name, v, limits)
        checks.extend(rules)
    if et in EDGE_TYPES:
        assert spec.src is not None and spec.dst is not None
        checks.append(
            Check(
                f"{typed[spec.src]} = {typed[spec.dst]}",  # as normalised: look-alikes are equal
                spec.dst,
                raw[spec.dst],
                quote_literal(f"self-edge: a user cannot {_VERBS[et]}"),
            )
        )
    return raw, typed, checks


class _Limits(NamedTuple):
    """What a field's rules need besides its expression."""

    max_amount: Decimal
    longest: int  # longest value of the field in this batch (bytes)
    ascii: bool = True  # no value of the field in this batch is non-ASCII
    iso_seconds: bool = False  # every value of the field in this batch matches ISO_SECONDS


#: ``builder(field, raw value expression, limits) -> (typed expression, checks)``
_Builder = Callable[[str, str, _Limits], tuple[str, list[Check]]]


def _length_rules(kind: str, limit: int) -> _Builder:
    def build(name: str, v: str, lim: _Limits) -> tuple[str, list[Check]]:
        if lim.longest <= limit:  # no value in the batch is that long: skip the check
            return v, []
        return v, [
            Check(f"length({v}) > {limit}", name, v, f"'{kind} longer than {limit} characters'")
        ]

    return build


#: Characters an id may not hold: controls (NUL, ...), format characters (zero-width
#: spaces and joiners, bidi controls, BOM), line/paragraph separators and any space
#: other than U+0020 (no-break, ideographic, ...). ASCII-only batches need the first part only.
_ID_BAD_ASCII = r"[\x00-\x1f\x7f]"
_ID_BAD = r"[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]|[^\x20\PZ]"


def _id_rules(name: str, v: str, lim: _Limits) -> tuple[str, list[Check]]:
    """Ids are NFC-normalised (``e`` + U+0301 is ``\u00e9``) and may not hold invisible
    or control characters, so two ids that look the same are the same id."""
    typed = v if lim.ascii else f"nfc_normalize({v})"
    bad = _ID_BAD_ASCII if lim.ascii else _ID_BAD
    checks = [
        Check(
            f"regexp_matches({v}, '{bad}')",
            name,
            v,
            "'id contains an invisible or control character (NUL, zero-width, bidi control "
            "or a non-ASCII space); remove it'",
        )
    ]
    _, length = _length_rules("id", _ID_MAX)(name, typed, lim)
    return typed, checks + length


def _text_rules(name: str, v: str, lim: _Limits) -> tuple[str, list[Check]]:
    typed, length = _length_rules("text", _TEXT_MAX)(name, v, lim)
    nul = Check(f"contains({v}, chr(0))", name, v, "'text contains a NUL character'")
    return typed, [nul, *length]


def _one_of(kind: str, fold: str, allowed: list[str], reason: str) -> _Builder:
    def build(name: str, v: str, lim: _Limits) -> tuple[str, list[Check]]:
        values = ", ".join(quote_literal(a) for a in allowed)
        return f"{fold}({v})", [
            Check(f"{fold}({v}) NOT IN ({values})", name, v, quote_literal(reason))
        ]

    return build


def _json_rules(name: str, v: str, lim: _Limits) -> tuple[str, list[Check]]:
    return f"CASE WHEN json_valid({v}) THEN json({v})::VARCHAR END", [
        Check(f"NOT json_valid({v})", name, v, "'malformed JSON'"),
        Check(f"json_type(json({v})) <> 'OBJECT'", name, v, "'not a JSON object'"),
    ]


def _money_rules(name: str, v: str, lim: _Limits) -> tuple[str, list[Check]]:
    """Plain decimals only, at most 4 significant decimals, at most ``max_amount``.

    The checks look at the text before any cast, so an amount of any length is
    rejected with a reason (a cast of 35 digits would just give NULL).
    """
    top = min(lim.max_amount, MAX_STORABLE_AMOUNT)
    int_digits = f"length(regexp_extract({v}, '^\\+?0*(\\d*)', 1))"
    return f"TRY_CAST({v} AS DECIMAL(20, 4))", [
        Check(f"regexp_full_match({v}, '-\\s*\\d+(\\.\\d+)?')", name, v, "'negative amount'"),
        Check(
            f"NOT regexp_full_match({v}, '\\+?\\d+(\\.\\d+)?')",
            name,
            v,
            "'not a decimal amount (digits with an optional decimal point)'",
        ),
        Check(
            f"regexp_matches({v}, '\\.\\d{{4}}\\d*[1-9]')",
            name,
            v,
            "'more than 4 decimal places'",
        ),
        Check(
            f"{int_digits} > {_AMOUNT_INT_DIGITS} OR TRY_CAST({v} AS DECIMAL(20, 4)) > {top}",
            name,
            v,
            quote_literal(f"absurd amount: above the maximum of {top} (KOC_MAX_AMOUNT)"),
        ),
    ]


def _ts_rules(name: str, v: str, lim: _Limits) -> tuple[str, list[Check]]:
    """ISO-8601 with a UTC offset within -18:00 .. +18:00, or epoch seconds / milliseconds.

    A leap second (``23:59:60``) is the first instant of the next minute, as in
    POSIX time, which has no leap seconds.
    """
    t = f"r.{quote_ident('t$' + name)}"
    bad = f"{t} IS NULL AND {v} IS NOT NULL"
    not_a_ts = Check(
        bad,
        name,
        v,
        "'not a timestamp: expected ISO-8601 with a UTC offset, or epoch seconds/milliseconds'",
    )
    in_range = Check(
        f"{t} < TIMESTAMPTZ '{TS_MIN}' OR {t} >= TIMESTAMPTZ '{TS_MAX}'",
        name,
        v,
        f"'timestamp outside {TS_MIN} .. {TS_MAX}'",
    )
    offset_reason = "'UTC offset out of range: expected -18:00 .. +18:00 (minutes below 60)'"
    if lim.iso_seconds:  # the same outcome as the general rules below, for these values
        offset = Check(
            f"TRY_CAST(substr({v}, 21, 2) AS INTEGER) > 18 "
            f"OR TRY_CAST(substr({v}, 24, 2) AS INTEGER) > 59",
            name,
            v,
            offset_reason,
        )
        return f"TRY_CAST({v} AS TIMESTAMPTZ)", [offset, not_a_ts, in_range]
    num = f"TRY_CAST({v} AS DECIMAL(21, 6))"
    iso = f"length({v}) > 10 AND regexp_matches({v}, '{_OFFSET_END}')"
    leap = r"(\d{2}:\d{2}):60"
    offset_h = f"TRY_CAST(regexp_extract({v}, '[+-](\\d{{2}}):?(\\d{{2}})?$', 1) AS INTEGER)"
    offset_m = f"TRY_CAST(regexp_extract({v}, '[+-]\\d{{2}}:?(\\d{{2}})$', 1) AS INTEGER)"
    typed = f"""CASE
        WHEN {iso} AND regexp_matches({v}, '{leap}')
            THEN TRY_CAST(regexp_replace({v}, '{leap}', '\\1:59') AS TIMESTAMPTZ) + INTERVAL 1 SECOND
        WHEN {iso} THEN TRY_CAST({v} AS TIMESTAMPTZ)
        WHEN regexp_full_match({v}, '{_EPOCH}') THEN
            make_timestamp(CAST({num} * CASE WHEN {num} < {EPOCH_MS_THRESHOLD}
                THEN 1000000 ELSE 1000 END AS BIGINT))::TIMESTAMPTZ
        END"""
    return typed, [
        Check(
            f"{iso} AND regexp_matches({v}, '\\d\\s?[+-]\\d{{2}}(:?\\d{{2}})?$') "
            f"AND ({offset_h} > 18 OR coalesce({offset_m}, 0) > 59)",
            name,
            v,
            offset_reason,
        ),
        Check(
            f"{bad} AND regexp_full_match({v}, '{_ISO}')",
            name,
            v,
            "'timestamp has no timezone; add an offset such as Z or +08:00'",
        ),
        not_a_ts,
        in_range,
    ]


#: The rules of each field kind of :class:`graph.events.FieldSpec`.
_KIND_RULES: dict[str, _Builder] = {
    "id": _id_rules,
    "text": _text_rules,
    "role": _one_of(
        "role",
        "lower",
        [r.value for r in Role],
        "invalid role; expected one of " + ", ".join(r.value for r in Role),
    ),
    "currency": _one_of(
        "currency",
        "upper",
        list(CURRENCY_MINOR_UNITS),
        "unknown currency; expected an ISO-4217 code from graph/money.py (CNY, USD, EUR, ...)",
    ),
    "json": _json_rules,
    "money": _money_rules,
    "ts": _ts_rules,
}
