"""A period's figures: balances, statement lines, the role-by-level summary, the
reconciliation; all from one snapshot of the ledger.

Every figure is defined once (docs/commissions.md, "Report figures") and computed from
the **due** entries of period ``P``: entries of periods up to ``P`` not settled by an
earlier close. Each due entry is in exactly one **state** at the period end ``E``:
``settled`` (by P's close; for an open period: what a close at ``E`` would settle),
``held`` or ``pending`` (``payable_at > E``). Per beneficiary::

    commissions, reversals  = due entries booked in P (kind <> / = reversal)
    brought_forward         = due entries of earlier periods (held or pending at their close)
    held, pending, accrued  = due entries in state held / pending / settled
    gross_payable           = opening + accrued          (before the minimum payout)
    paid                    = what P's close paid out   (0 while P is open)
    closing                 = gross_payable - paid

so ``commissions + reversals + brought_forward = held + pending + accrued``. The
summary groups the same entries by role, model and level; the statements are the same
rows per beneficiary. :mod:`referral.reconciliation` checks the ledger's own identities
and the cross-table ones (summary = balances = statement lines = the close).

A **closed** period is reported as the ledger stood at its close
(:meth:`referral.ledger.Ledger.close_marks`): a release, void or refund after the
close never changes it. Rows are ordered deterministically, timestamps come from the
ledger: the same ledger always yields the same report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa

from graph.errors import NotFoundError
from graph.money import format_money
from referral.ledger import Ledger, entries_sql
from referral.periods import DEFAULT_TIMEZONE, check_period, period_bounds

__all__ = [
    "BALANCE_COLUMNS",
    "LINE_COLUMNS",
    "LINE_MONEY",
    "SUMMARY_MONEY",
    "ReportSnapshot",
    "Statement",
    "snapshot",
    "statement",
    "statements",
    "balances",
    "period_lines",
    "role_level_summary",
    "report_clock",
    "balance_table",
    "line_table",
    "summary_table",
    "column_sum",
]

#: Columns of a statement line, in report order.
LINE_COLUMNS: tuple[str, ...] = (
    "seq",
    "entry_id",
    "event_ts",
    "period",
    "kind",
    "model",
    "order_id",
    "buyer",
    "level",
    "basis",
    "rate",
    "amount",
    "state",
    "status",
    "reason",
    "hold_reason",
)
#: Money fields of a statement line (``rate`` is a rate, not money).
LINE_MONEY: tuple[str, ...] = ("basis", "amount")
#: Money columns of a balance row (after ``beneficiary``, ``currency``), in report order.
BALANCE_COLUMNS: tuple[str, ...] = (
    "opening",
    "commissions",
    "reversals",
    "brought_forward",
    "held",
    "pending",
    "accrued",
    "gross_payable",
    "paid",
    "closing",
)
#: Money columns of the role-by-level summary.
SUMMARY_MONEY: tuple[str, ...] = (
    "commissions",
    "reversals",
    "net",
    "brought_forward",
    "held",
    "pending",
    "settled",
)
_ZERO = Decimal("0")
_MONEY = pa.decimal128(20, 4)


@dataclass(frozen=True)
class ReportSnapshot:
    """The ledger state a period is reported from.

    ``at``: the report instant (the period end ``E`` when closed, else the ledger's
    clock, at most ``E``); ``marks``: ``(entry_seq, status_seq)`` of the close, or None.
    """

    period: str
    end: datetime
    at: datetime
    closed: bool
    marks: tuple[int, int] | None

    def params(self) -> dict[str, Any]:
        """Named SQL parameters of :func:`referral.ledger.entries_sql` (bounded)."""
        big = 2**62
        entry_seq, status_seq = self.marks or (big, big)
        return {
            "p": self.period,
            "end": self.end,
            "as_of": self.at,
            "entry_seq": entry_seq,
            "status_seq": status_seq,
        }


def snapshot(ledger: Ledger, period: str, tz: str = DEFAULT_TIMEZONE) -> ReportSnapshot:
    """The :class:`ReportSnapshot` of ``period``."""
    _, end = period_bounds(check_period(period), tz)
    marks = ledger.close_marks(period)
    closed = marks is not None
    at = end if closed else min(end, ledger.as_of())
    return ReportSnapshot(period, end, at, closed, marks)


def report_clock(ledger: Ledger, period: str, tz: str = DEFAULT_TIMEZONE) -> tuple[datetime, bool]:
    """The instant a period is reported at and whether the period is closed."""
    snap = snapshot(ledger, period, tz)
    return snap.at, snap.closed


def _due_sql(closed: bool) -> str:
    """``WITH`` clauses: view ``ledger`` (bounded) and ``due`` with each entry's ``state``."""
    settled = "settled_period = $p" if closed else "NOT is_held AND payable_at <= $end"
    return f"""{entries_sql(bounded=True)},
    due AS (
        SELECT *, period = $p AS booked,
            CASE WHEN {settled} THEN 'settled' WHEN is_held THEN 'held'
                 WHEN payable_at > $end THEN 'pending' ELSE 'unexplained' END AS state
        FROM ledger
        WHERE period <= $p AND (settled_period IS NULL OR settled_period >= $p)
    )"""


def _sums(prefix: str = "") -> str:
    return f"""
        coalesce(sum(amount) FILTER (WHERE booked AND kind <> 'reversal'), 0) AS {prefix}commissions,
        coalesce(sum(amount) FILTER (WHERE booked AND kind = 'reversal'), 0) AS {prefix}reversals,
        coalesce(sum(amount) FILTER (WHERE NOT booked), 0) AS {prefix}brought_forward,
        coalesce(sum(amount) FILTER (WHERE state = 'held'), 0) AS {prefix}held,
        coalesce(sum(amount) FILTER (WHERE state = 'pending'), 0) AS {prefix}pending,
        coalesce(sum(amount) FILTER (WHERE state = 'settled'), 0) AS {prefix}settled"""


def balance_table(ledger: Ledger, snap: ReportSnapshot, beneficiary: str | None) -> pa.Table:
    who = "WHERE beneficiary = $b" if beneficiary is not None else ""
    params = snap.params() | ({"b": beneficiary} if beneficiary is not None else {})
    if snap.closed:
        close = """SELECT beneficiary, currency, opening, accrued AS c_accrued, paid
                   FROM referral_balances WHERE period = $p"""
    else:
        close = """SELECT beneficiary, currency, arg_max(closing, period) AS opening,
                          NULL::DECIMAL(20, 4) AS c_accrued, 0 AS paid
                   FROM referral_balances WHERE period < $p GROUP BY ALL"""
    money = ", ".join(f"{c}::DECIMAL(20, 4) AS {c}" for c in BALANCE_COLUMNS)
    return ledger.arrow(
        f"""{_due_sql(snap.closed)},
        act AS (SELECT beneficiary, any_value(currency) AS currency, {_sums()},
                       count(*) FILTER (WHERE state = 'unexplained') AS unexplained
                FROM due GROUP BY beneficiary),
        cl AS ({close}),
        t AS (
            SELECT coalesce(c.beneficiary, a.beneficiary) AS beneficiary,
                   coalesce(c.currency, a.currency) AS currency,
                   coalesce(c.opening, 0) AS opening, coalesce(a.commissions, 0) AS commissions,
                   coalesce(a.reversals, 0) AS reversals,
                   coalesce(a.brought_forward, 0) AS brought_forward,
                   coalesce(a.held, 0) AS held, coalesce(a.pending, 0) AS pending,
                   coalesce(a.settled, 0) AS accrued,
                   coalesce(c.opening, 0) + coalesce(a.settled, 0) AS gross_payable,
                   coalesce(c.paid, 0) AS paid,
                   coalesce(c.opening, 0) + coalesce(a.settled, 0) - coalesce(c.paid, 0) AS closing,
                   c.c_accrued AS close_accrued, coalesce(a.unexplained, 0) AS unexplained
            FROM cl c FULL JOIN act a USING (beneficiary)
            WHERE a.beneficiary IS NOT NULL OR c.opening <> 0 OR c.c_accrued IS NOT NULL
        )
        SELECT beneficiary, currency, {money}, close_accrued::DECIMAL(20, 4) AS close_accrued,
               unexplained
        FROM t {who} ORDER BY beneficiary""",
        params,
    )


def line_table(ledger: Ledger, snap: ReportSnapshot, beneficiary: str | None) -> pa.Table:
    who = "WHERE beneficiary = $b" if beneficiary is not None else ""
    params = snap.params() | ({"b": beneficiary} if beneficiary is not None else {})
    cols = ", ".join(["beneficiary", *LINE_COLUMNS])
    return ledger.arrow(
        f"{_due_sql(snap.closed)} SELECT {cols} FROM due {who} ORDER BY beneficiary, seq", params
    )


def summary_table(ledger: Ledger, snap: ReportSnapshot) -> pa.Table:
    expr = {c: c for c in SUMMARY_MONEY} | {"net": "commissions + reversals"}
    money = ", ".join(f"({expr[c]})::DECIMAL(20, 4) AS {c}" for c in SUMMARY_MONEY)
    return ledger.arrow(
        f"""{_due_sql(snap.closed)},
        g AS (SELECT beneficiary_role AS role, model, level,
                     count(*) FILTER (WHERE booked) AS entries_booked,
                     count(*) AS lines, count(DISTINCT beneficiary) AS beneficiaries, {_sums()}
              FROM due GROUP BY ALL)
        SELECT role, model, level, entries_booked, lines, beneficiaries, {money}
        FROM g ORDER BY role, model, level""",
        snap.params(),
    )


def column_sum(table: pa.Table, column: str) -> Decimal:
    if not table.num_rows:
        return _ZERO
    import pyarrow.compute as pc

    value = pc.sum(table.column(column)).as_py()
    return _ZERO if value is None else Decimal(value)


def balances(
    ledger: Ledger, period: str, *, beneficiary: str | None = None, tz: str = DEFAULT_TIMEZONE
) -> pa.Table:
    """Per-beneficiary figures of ``period`` (``beneficiary``, ``currency`` and
    :data:`BALANCE_COLUMNS`), ordered by beneficiary. See the module docs."""
    if not ledger.ready:
        return pa.table({})
    t = balance_table(ledger, snapshot(ledger, period, tz), beneficiary)
    return t.drop_columns(["close_accrued", "unexplained"])


def period_lines(
    ledger: Ledger, period: str, *, beneficiary: str | None = None, tz: str = DEFAULT_TIMEZONE
) -> pa.Table:
    """Statement lines of ``period``: its due entries with their ``state``.

    Columns ``beneficiary`` then :data:`LINE_COLUMNS`, ordered by beneficiary and ``seq``.
    """
    if not ledger.ready:
        return pa.table({})
    return line_table(ledger, snapshot(ledger, period, tz), beneficiary)


def role_level_summary(ledger: Ledger, period: str, *, tz: str = DEFAULT_TIMEZONE) -> pa.Table:
    """The due entries of ``period`` by beneficiary role, model and level.

    Columns ``role``, ``model``, ``level``, ``entries_booked`` (count booked in the
    period), ``lines`` (count of due entries), ``beneficiaries`` (distinct, per row: a
    beneficiary may be in several rows), and :data:`SUMMARY_MONEY`: ``commissions``,
    ``reversals``, ``net`` (booked in the period), ``brought_forward``, ``held``,
    ``pending``, ``settled`` (by the period's close; its total is the balances' accrued).
    """
    if not ledger.ready:
        return pa.table({})
    return summary_table(ledger, snapshot(ledger, period, tz))


@dataclass
class Statement:
    """One beneficiary's statement for one period (amounts in ``currency``)."""

    beneficiary: str
    period: str
    currency: str
    closed: bool
    as_of: datetime
    opening: Decimal = _ZERO
    commissions: Decimal = _ZERO
    reversals: Decimal = _ZERO
    brought_forward: Decimal = _ZERO
    held: Decimal = _ZERO
    pending: Decimal = _ZERO
    accrued: Decimal = _ZERO
    gross_payable: Decimal = _ZERO
    paid: Decimal = _ZERO
    closing: Decimal = _ZERO
    lines: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict: money as text at the currency's decimals
        (:func:`graph.money.format_money`: ``"5.17"``, not ``"5.1700"``), rates as
        stored, timestamps as ISO-8601."""

        def conv(k: str, v: Any, money: tuple[str, ...]) -> Any:
            if isinstance(v, Decimal):
                return format_money(v, self.currency) if k in money else str(v)
            if isinstance(v, datetime):
                return v.isoformat()
            return v

        out = {k: conv(k, v, BALANCE_COLUMNS) for k, v in self.__dict__.items() if k != "lines"}
        out["lines"] = [{k: conv(k, v, LINE_MONEY) for k, v in ln.items()} for ln in self.lines]
        return out


def _known(ledger: Ledger, beneficiary: str) -> bool:
    return bool(
        ledger.scalar(
            "SELECT EXISTS (SELECT 1 FROM referral_entries WHERE beneficiary = ?) OR "
            "EXISTS (SELECT 1 FROM referral_balances WHERE beneficiary = ?)",
            [beneficiary, beneficiary],
        )
    )


def statements(
    ledger: Ledger,
    period: str,
    *,
    beneficiary: str | None = None,
    tz: str = DEFAULT_TIMEZONE,
    currency: str = "CNY",
) -> list[Statement]:
    """Statements of every beneficiary with activity or a balance in ``period``
    (figures of :func:`balances`, lines of :func:`period_lines`).

    Raises
    ------
    NotFoundError
        ``beneficiary`` is given and has never had a ledger entry or balance.
    """
    snap = snapshot(ledger, period, tz)
    if beneficiary is not None and (not ledger.ready or not _known(ledger, beneficiary)):
        raise NotFoundError(
            f"No commission ledger entry or balance for beneficiary {beneficiary!r}; check "
            "the id (`koc commissions ledger --beneficiary ID` lists their entries).",
            beneficiary=beneficiary,
        )
    if not ledger.ready:
        return []
    totals = balance_table(ledger, snap, beneficiary).to_pylist()
    lines = line_table(ledger, snap, beneficiary)
    by_ben: dict[str, list[dict[str, Any]]] = {}
    for row in lines.to_pylist():
        by_ben.setdefault(row.pop("beneficiary"), []).append(row)
    out = []
    for t in totals:
        figures = {c: Decimal(t[c]) for c in BALANCE_COLUMNS}
        out.append(
            Statement(
                beneficiary=t["beneficiary"],
                period=period,
                currency=t["currency"] or currency,
                closed=snap.closed,
                as_of=snap.at,
                lines=by_ben.get(t["beneficiary"], []),
                **figures,
            )
        )
    if beneficiary is not None and not out:  # known, but nothing in this period
        out.append(Statement(beneficiary, period, currency, snap.closed, snap.at))
    return out


def statement(
    ledger: Ledger,
    beneficiary: str,
    period: str,
    *,
    tz: str = DEFAULT_TIMEZONE,
    currency: str = "CNY",
) -> Statement:
    """One beneficiary's statement (zeros when a known beneficiary had no activity).

    Raises
    ------
    NotFoundError
        The beneficiary has never had a ledger entry or balance.
    """
    return statements(ledger, period, beneficiary=beneficiary, tz=tz, currency=currency)[0]
