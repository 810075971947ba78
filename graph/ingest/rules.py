"""Validation rules as SQL: for each record type, the checks a row must pass, in order.

Every rule is a DuckDB column expression over one batch (alias ``r``), so
:class:`graph.ingest.validate.Validator` checks half a million rows in one query.
The rules and their messages are listed in ``docs/ingestion.md``.
"""

from __future__ import annotations

from decimal import Decimal

from graph.events import EDGE_TYPES, RECORD_SPECS, EventType, Role
from graph.ingest.mapping import EVENT_ID_FIELD, FieldSource
from graph.money import CURRENCY_MINOR_UNITS

__all__ = [
    "type_rules",
    "Check",
    "TS_MIN",
    "TS_MAX",
    "EPOCH_MS_THRESHOLD",
    "quote_ident",
    "quote_literal",
]

#: ``(condition, field, value expression, reason expression)``
Check = tuple[str, str, str, str]

#: Accepted timestamp range (inclusive start, exclusive end), UTC.
TS_MIN, TS_MAX = "1970-01-01", "2100-01-01"
#: Epoch numbers below this are seconds, at or above it milliseconds (1e11 s is year 5138,
#: 1e11 ms is 1973-03-03).
EPOCH_MS_THRESHOLD = 100_000_000_000
_ID_MAX, _TEXT_MAX = 128, 1024
_ISO = r"\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?)?"
#: a UTC offset at the end of an ISO-8601 timestamp (``Z``, ``+08:00``, ``+0800``, ``+08``)
_OFFSET_END = r"(\d[Zz]|\d\s?[+-]\d{2}(:?\d{2})?)$"
_EPOCH = r"\d{1,15}(\.\d{1,6})?"
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
        checks.append((cond, c, f"left(r.{quote_ident(c)}, 64) || '...'", reason))
    if reject_unknown:
        for c in unknown:
            checks.append(
                (
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

    for name in (EVENT_ID_FIELD, *spec.names):
        v, kind = raw[name], kinds[name]
        if name in required:
            checks.append((f"{v} IS NULL", name, "NULL", "'missing required field'"))
        if kind in ("id", "text"):
            typed[name] = v
            limit = _ID_MAX if kind == "id" else _TEXT_MAX
            if longest(name) > limit:  # skipped when no value in the batch is that long
                checks.append(
                    (
                        f"length({v}) > {limit}",
                        name,
                        v,
                        f"'{kind} longer than {limit} characters'",
                    )
                )
        elif kind == "role":
            typed[name] = f"lower({v})"
            roles = ", ".join(quote_literal(r.value) for r in Role)
            checks.append(
                (
                    f"lower({v}) NOT IN ({roles})",
                    name,
                    v,
                    quote_literal(
                        "invalid role; expected one of " + ", ".join(r.value for r in Role)
                    ),
                )
            )
        elif kind == "currency":
            typed[name] = f"upper({v})"
            cur = ", ".join(quote_literal(c) for c in CURRENCY_MINOR_UNITS)
            checks.append(
                (
                    f"upper({v}) NOT IN ({cur})",
                    name,
                    v,
                    quote_literal(
                        "unknown currency; expected an ISO-4217 code from graph/money.py (CNY, USD, EUR, ...)"
                    ),
                )
            )
        elif kind == "json":
            typed[name] = f"CASE WHEN json_valid({v}) THEN json({v})::VARCHAR END"
            checks.append((f"NOT json_valid({v})", name, v, "'malformed JSON'"))
            checks.append((f"json_type(json({v})) <> 'OBJECT'", name, v, "'not a JSON object'"))
        elif kind == "money":
            dec = f"TRY_CAST({v} AS DECIMAL(38, 4))"
            typed[name] = f"TRY_CAST({v} AS DECIMAL(20, 4))"
            checks.append(
                (f"regexp_full_match({v}, '-\\s*\\d+(\\.\\d+)?')", name, v, "'negative amount'")
            )
            checks.append(
                (
                    f"NOT regexp_full_match({v}, '\\+?\\d+(\\.\\d+)?')",
                    name,
                    v,
                    "'not a decimal amount (digits with an optional decimal point)'",
                )
            )
            checks.append(
                (
                    f"TRY_CAST({v} AS DECIMAL(38, 10)) IS DISTINCT FROM {dec}",
                    name,
                    v,
                    "'more than 4 decimal places'",
                )
            )
            checks.append(
                (
                    f"{dec} > {max_amount}",
                    name,
                    v,
                    quote_literal(
                        f"absurd amount: above the maximum of {max_amount} (KOC_MAX_AMOUNT)"
                    ),
                )
            )
        elif kind == "ts":
            num = f"TRY_CAST({v} AS DECIMAL(21, 6))"
            typed[name] = f"""CASE
                WHEN length({v}) > 10 AND regexp_matches({v}, '{_OFFSET_END}')
                    THEN TRY_CAST({v} AS TIMESTAMPTZ)
                WHEN regexp_full_match({v}, '{_EPOCH}') THEN
                    make_timestamp(CAST({num} * CASE WHEN {num} < {EPOCH_MS_THRESHOLD}
                        THEN 1000000 ELSE 1000 END AS BIGINT))::TIMESTAMPTZ
                END"""
            t = f"r.{quote_ident('t$' + name)}"
            bad = f"{t} IS NULL AND {v} IS NOT NULL"
            checks.append(
                (
                    f"{bad} AND regexp_full_match({v}, '{_ISO}')",
                    name,
                    v,
                    "'timestamp has no timezone; add an offset such as Z or +08:00'",
                )
            )
            checks.append(
                (
                    bad,
                    name,
                    v,
                    "'not a timestamp: expected ISO-8601 with a UTC offset, "
                    "or epoch seconds/milliseconds'",
                )
            )
            checks.append(
                (
                    f"{t} < TIMESTAMPTZ '{TS_MIN}' OR {t} >= TIMESTAMPTZ '{TS_MAX}'",
                    name,
                    v,
                    f"'timestamp outside {TS_MIN} .. {TS_MAX}'",
                )
            )
    if et in EDGE_TYPES:
        assert spec.src is not None and spec.dst is not None
        checks.append(
            (
                f"{raw[spec.src]} = {raw[spec.dst]}",
                spec.dst,
                raw[spec.dst],
                quote_literal(f"self-edge: a user cannot {_VERBS[et]}"),
            )
        )
    return raw, typed, checks
