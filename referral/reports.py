"""Statements, the role-by-level summary and the reconciliation of a period.

Everything here reads the ledger only, with timestamps taken from the ledger (the
period end for a closed period, the latest run's data time otherwise), and orders
rows deterministically, so the same ledger always yields the same report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa

from referral.ledger import Ledger
from referral.ledger_query import EntryFilter
from referral.periods import DEFAULT_TIMEZONE, check_period, period_bounds

__all__ = [
    "LINE_COLUMNS",
    "Statement",
    "statement",
    "statements",
    "balances",
    "period_lines",
    "role_level_summary",
    "reconciliation",
    "report_clock",
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
    "status",
    "reason",
    "hold_reason",
)
_ZERO = Decimal("0")


def report_clock(ledger: Ledger, period: str, tz: str = DEFAULT_TIMEZONE) -> tuple[datetime, bool]:
    """The instant a period is reported at and whether the period is closed.

    A closed period is reported at its end; an open one at the ledger's clock
    (:meth:`Ledger.as_of`), but never after the period end.
    """
    _, end = period_bounds(check_period(period), tz)
    closed = period in ledger.closed_periods()
    return (end if closed else min(end, ledger.as_of())), closed


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
    accrued: Decimal = _ZERO
    paid: Decimal = _ZERO
    closing: Decimal = _ZERO
    held: Decimal = _ZERO
    pending: Decimal = _ZERO
    lines: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict: amounts as strings, timestamps as ISO-8601."""

        def conv(v: Any) -> Any:
            if isinstance(v, Decimal):
                return str(v)
            if isinstance(v, datetime):
                return v.isoformat()
            return v

        out = {k: conv(v) for k, v in self.__dict__.items() if k != "lines"}
        out["lines"] = [{k: conv(v) for k, v in line.items()} for line in self.lines]
        return out


def _dec(v: Any) -> Decimal:
    return _ZERO if v is None else Decimal(v)


def balances(
    ledger: Ledger, period: str, *, beneficiary: str | None = None, tz: str = DEFAULT_TIMEZONE
) -> pa.Table:
    """Per-beneficiary totals of ``period``, ordered by beneficiary.

    Columns ``beneficiary``, ``currency``, ``opening``, ``commissions``, ``reversals``,
    ``accrued``, ``paid``, ``closing``, ``held``, ``pending``. Balances come from
    ``referral_balances`` for a closed period; for an open one ``accrued`` is what a
    close at the period end would settle and ``closing = opening + accrued``
    (projected, nothing paid yet).
    """
    at, closed = report_clock(ledger, period, tz)
    if not ledger.ready:
        return pa.table({})
    _, end = period_bounds(period, tz)
    who = "AND beneficiary = $b" if beneficiary is not None else ""
    params: dict[str, Any] = {"p": period, "end": end, "as_of": at}
    if beneficiary is not None:
        params["b"] = beneficiary
    money = ", ".join(
        f"{c}::DECIMAL(20, 4) AS {c}"
        for c in (
            "opening",
            "commissions",
            "reversals",
            "accrued",
            "paid",
            "closing",
            "held",
            "pending",
        )
    )
    return ledger.arrow(
        f"""{_totals_sql(closed)} SELECT beneficiary, currency, {money} FROM t
        WHERE true {who} ORDER BY beneficiary""",
        params,
    )


def period_lines(
    ledger: Ledger, period: str, *, beneficiary: str | None = None, tz: str = DEFAULT_TIMEZONE
) -> pa.Table:
    """Statement lines of ``period``: entries booked in it or settled in its close.

    Columns ``beneficiary`` then :data:`LINE_COLUMNS`, ordered by beneficiary and ``seq``.
    """
    at, _ = report_clock(ledger, period, tz)
    if not ledger.ready:
        return pa.table({})
    t = ledger.entries(
        EntryFilter(booked_or_settled=period, beneficiary=beneficiary),
        as_of=at,
        order="beneficiary",
    )
    if t.num_rows == 0 and not t.column_names:
        return t
    return t.select(["beneficiary", *LINE_COLUMNS])


def statements(
    ledger: Ledger,
    period: str,
    *,
    beneficiary: str | None = None,
    tz: str = DEFAULT_TIMEZONE,
    currency: str = "CNY",
) -> list[Statement]:
    """Statements of every beneficiary with activity or a balance in ``period``
    (totals from :func:`balances`, lines from :func:`period_lines`)."""
    at, closed = report_clock(ledger, period, tz)
    if not ledger.ready:
        return [Statement(beneficiary, period, currency, closed, at)] if beneficiary else []
    totals = balances(ledger, period, beneficiary=beneficiary, tz=tz).to_pylist()
    lines = period_lines(ledger, period, beneficiary=beneficiary, tz=tz)
    by_ben: dict[str, list[dict[str, Any]]] = {}
    for row in lines.to_pylist() if lines.num_rows else []:
        by_ben.setdefault(row.pop("beneficiary"), []).append(row)
    out = []
    for t in totals:
        st = Statement(
            beneficiary=t["beneficiary"],
            period=period,
            currency=t["currency"] or currency,
            closed=closed,
            as_of=at,
            opening=_dec(t["opening"]),
            commissions=_dec(t["commissions"]),
            reversals=_dec(t["reversals"]),
            accrued=_dec(t["accrued"]),
            paid=_dec(t["paid"]),
            closing=_dec(t["closing"]),
            held=_dec(t["held"]),
            pending=_dec(t["pending"]),
            lines=by_ben.get(t["beneficiary"], []),
        )
        out.append(st)
    if beneficiary is not None and not out:
        out.append(Statement(beneficiary, period, currency, closed, at))
    return out


def _totals_sql(closed: bool) -> str:
    if closed:
        bal = """SELECT beneficiary, currency, opening, accrued, paid, closing
                 FROM referral_balances WHERE period = $p"""
    else:
        bal = """SELECT beneficiary, currency, opening, accrued, 0 AS paid,
                        opening + accrued AS closing
                 FROM (SELECT coalesce(p.beneficiary, a.beneficiary) AS beneficiary,
                              coalesce(p.currency, a.currency) AS currency,
                              coalesce(p.opening, 0) AS opening, coalesce(a.accrued, 0) AS accrued
                       FROM (SELECT beneficiary, currency, arg_max(closing, period) AS opening
                             FROM referral_balances WHERE period < $p GROUP BY ALL) p
                       FULL JOIN (SELECT beneficiary, currency, sum(amount) AS accrued FROM ledger
                                  WHERE period <= $p AND settled_period IS NULL AND NOT is_held
                                  AND payable_at <= $end GROUP BY ALL) a
                       USING (beneficiary, currency))"""
    from referral.ledger import entries_sql

    return f"""{entries_sql()},
        bal AS ({bal}),
        act AS (
            SELECT beneficiary, any_value(currency) AS currency,
                sum(amount) FILTER (WHERE period = $p AND kind <> 'reversal') AS commissions,
                sum(amount) FILTER (WHERE period = $p AND kind = 'reversal') AS reversals,
                sum(amount) FILTER (WHERE period <= $p AND settled_period IS NULL
                                    AND is_held) AS held,
                sum(amount) FILTER (WHERE period <= $p AND settled_period IS NULL
                                    AND NOT is_held AND payable_at > $end) AS pending
            FROM ledger WHERE period = $p OR (period <= $p AND settled_period IS NULL)
            GROUP BY beneficiary
        ),
        t AS (
            SELECT coalesce(b.beneficiary, a.beneficiary) AS beneficiary,
                   coalesce(b.currency, a.currency) AS currency,
                   coalesce(b.opening, 0) AS opening, coalesce(a.commissions, 0) AS commissions,
                   coalesce(a.reversals, 0) AS reversals, coalesce(b.accrued, 0) AS accrued,
                   coalesce(b.paid, 0) AS paid, coalesce(b.closing, 0) AS closing,
                   coalesce(a.held, 0) AS held, coalesce(a.pending, 0) AS pending
            FROM bal b FULL JOIN act a USING (beneficiary)
        )"""


def statement(
    ledger: Ledger,
    beneficiary: str,
    period: str,
    *,
    tz: str = DEFAULT_TIMEZONE,
    currency: str = "CNY",
) -> Statement:
    """One beneficiary's statement (an empty one when there was no activity)."""
    return statements(ledger, period, beneficiary=beneficiary, tz=tz, currency=currency)[0]


def role_level_summary(ledger: Ledger, period: str, *, tz: str = DEFAULT_TIMEZONE) -> pa.Table:
    """Totals of ``period`` by beneficiary role, model and level.

    Columns ``role``, ``model``, ``level``, ``entries``, ``beneficiaries``,
    ``commissions`` (commissions and bonuses booked in the period), ``reversals``,
    ``net``, ``held`` (of the period's entries, still held), ``paid`` (entries of
    any period settled as paid in this period's close).
    """
    at, _ = report_clock(ledger, period, tz)
    if not ledger.ready:
        return pa.table({})
    from referral.ledger import entries_sql

    return ledger.arrow(
        f"""{entries_sql()}
        SELECT beneficiary_role AS role, model, level,
               count(*) FILTER (WHERE period = $p) AS entries,
               count(DISTINCT beneficiary) FILTER (WHERE period = $p) AS beneficiaries,
               coalesce(sum(amount) FILTER (WHERE period = $p AND kind <> 'reversal'), 0)
                   ::DECIMAL(20, 4) AS commissions,
               coalesce(sum(amount) FILTER (WHERE period = $p AND kind = 'reversal'), 0)
                   ::DECIMAL(20, 4) AS reversals,
               coalesce(sum(amount) FILTER (WHERE period = $p), 0)::DECIMAL(20, 4) AS net,
               coalesce(sum(amount) FILTER (WHERE period = $p AND status = 'held'), 0)
                   ::DECIMAL(20, 4) AS held,
               coalesce(sum(amount) FILTER (WHERE settled_period = $p AND status = 'paid'), 0)
                   ::DECIMAL(20, 4) AS paid
        FROM ledger WHERE period = $p OR settled_period = $p
        GROUP BY ALL ORDER BY role, model, level""",
        {"p": period, "as_of": at},
    )


def reconciliation(ledger: Ledger, period: str, *, tz: str = DEFAULT_TIMEZONE) -> pa.Table:
    """Checks that every cent of ``period`` is accounted for.

    Columns ``check``, ``expected``, ``actual``, ``difference``, ``ok``:

    * commissions booked = sum of per-order attributed amounts (``referral_orders``)
      plus what re-attributions booked (``referral_reattributions``);
    * reversals booked = sum of refund-driven amounts (``referral_refunds``) plus
      what re-attributions reversed;
    * re-attributions (late referrals): their recorded net = the net of the entries
      that are corrections (reversals not driven by a refund, and commissions booked
      by a later run than the one that attributed their order);
    * fully refunded orders net to zero;
    * closed periods: opening + accrued - paid = closing, and accrued = entries settled;
    * every entry up to the period is paid, in a closing balance, or still unsettled.
    """
    at, closed = report_clock(ledger, period, tz)
    if not ledger.ready:
        return pa.table({})
    from referral.ledger import entries_sql

    p = {"p": period, "as_of": at}
    # re-attribution corrections (schema v2; absent from an older read-only ledger)
    re_book, re_rev, re_net = (
        (
            f"(SELECT coalesce(sum({c}), 0) FROM referral_reattributions WHERE period = $p)"
            for c in ("booked", "reversed", "booked + reversed")
        )
        if ledger.schema_version >= 2
        else ("0", "0", "0")
    )
    q = ledger.arrow(
        f"""{entries_sql()}
        SELECT {re_book} AS re_book, {re_rev} AS re_rev, {re_net} AS re_net,
          (SELECT coalesce(sum(e.amount), 0) FROM ledger e JOIN referral_orders o USING (order_id)
              WHERE e.period = $p AND ((e.kind = 'reversal' AND e.refund_event_id IS NULL)
                                       OR (e.kind <> 'reversal' AND e.run_id <> o.run_id)))
              AS e_re,
          (SELECT coalesce(sum(commission), 0) FROM referral_orders WHERE period = $p) AS o_comm,
          (SELECT coalesce(sum(amount), 0) FROM ledger WHERE period = $p AND kind <> 'reversal')
              AS e_comm,
          (SELECT coalesce(sum(reversed), 0) FROM referral_refunds WHERE period = $p) AS r_rev,
          (SELECT coalesce(sum(amount), 0) FROM ledger WHERE period = $p AND kind = 'reversal')
              AS e_rev,
          (SELECT count(*) FROM (SELECT o.order_id FROM referral_orders o
              JOIN (SELECT order_id, sum(applied) AS a FROM referral_refunds GROUP BY 1) r
              USING (order_id) JOIN ledger e USING (order_id)
              WHERE r.a >= o.amount GROUP BY o.order_id HAVING sum(e.amount) <> 0)) AS bad_full,
          (SELECT coalesce(sum(opening + accrued - paid - closing), 0) FROM referral_balances
              WHERE period = $p) AS roll,
          (SELECT coalesce(sum(accrued), 0) FROM referral_balances WHERE period = $p) AS b_acc,
          (SELECT coalesce(sum(amount), 0) FROM ledger WHERE settled_period = $p) AS e_settled,
          (SELECT coalesce(sum(amount), 0) FROM ledger WHERE period <= $p) AS e_total,
          (SELECT coalesce(sum(paid), 0) FROM referral_balances WHERE period <= $p) AS paid_total,
          (SELECT coalesce(sum(closing), 0) FROM referral_balances
              WHERE period = (SELECT max(period) FROM referral_balances WHERE period <= $p))
              AS closing_total,
          (SELECT coalesce(sum(amount), 0) FROM ledger WHERE period <= $p AND
              (settled_period IS NULL OR settled_period > $p)) AS unsettled
        """,
        p,
    ).to_pylist()[0]
    rows = [
        (
            "commissions = per-order attributed amounts + re-attributions",
            q["o_comm"] + q["re_book"],
            q["e_comm"],
        ),
        (
            "reversals = refund-driven amounts + re-attribution reversals",
            q["r_rev"] + q["re_rev"],
            q["e_rev"],
        ),
        ("re-attributions (late referrals) = their correction entries", q["re_net"], q["e_re"]),
        ("fully refunded orders net to zero (orders off)", 0, q["bad_full"]),
    ]
    if closed:
        rows += [
            ("opening + accrued - paid - closing = 0", 0, q["roll"]),
            ("accrued = entries settled in the period", q["b_acc"], q["e_settled"]),
        ]
    rows.append(
        (
            "entries to date = paid to date + closing balances + unsettled",
            q["e_total"],
            q["paid_total"] + q["closing_total"] + q["unsettled"],
        )
    )
    money = pa.decimal128(20, 4)
    exp = [Decimal(r[1]) for r in rows]
    act = [Decimal(r[2]) for r in rows]
    return pa.table(
        {
            "check": [r[0] for r in rows],
            "expected": pa.array(exp, money),
            "actual": pa.array(act, money),
            "difference": pa.array([a - e for a, e in zip(act, exp, strict=True)], money),
            "ok": [a == e for a, e in zip(act, exp, strict=True)],
        }
    )
