"""The reconciliation of a period, and the whole report built from one snapshot.

:func:`reconciliation` checks the ledger's own identities (commissions and reversals
against the orders, refunds, re-attributions and voids that drove them; fully refunded
orders net to zero; entries to date = paid + closing + unsettled) and the cross-table
identities of the report's own tables (:mod:`referral.reports`): summary = balances =
statement lines = the close. :func:`period_report` builds every table of a report and
its reconciliation from one :class:`referral.reports.ReportSnapshot`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from referral.ledger import Ledger, entries_sql
from referral.periods import DEFAULT_TIMEZONE
from referral.reports import (
    BALANCE_COLUMNS,
    SUMMARY_MONEY,
    ReportSnapshot,
    balance_table,
    column_sum,
    line_table,
    snapshot,
    summary_table,
)

__all__ = ["PeriodReport", "period_report", "reconciliation"]

_ZERO = Decimal("0")
_MONEY = pa.decimal128(20, 4)


@dataclass
class PeriodReport:
    """Every table of a period's report, from one :class:`ReportSnapshot`."""

    snap: ReportSnapshot
    balances: pa.Table
    lines: pa.Table
    summary: pa.Table
    reconciliation: pa.Table
    totals: dict[str, Any]

    @property
    def ok(self) -> bool:
        """Whether every reconciliation check holds."""
        return all(self.reconciliation.column("ok").to_pylist())


def period_report(
    ledger: Ledger, period: str, *, tz: str = DEFAULT_TIMEZONE, min_payout: Decimal | None = None
) -> PeriodReport:
    """Balances, statement lines, summary, totals and reconciliation of ``period``."""
    snap = snapshot(ledger, period, tz)
    if not ledger.ready:
        empty = pa.table({})
        return PeriodReport(snap, empty, empty, empty, _checks_table([]), {})
    bal = balance_table(ledger, snap, None)
    lines = line_table(ledger, snap, None)
    summ = summary_table(ledger, snap)
    totals: dict[str, Any] = {
        "beneficiaries": bal.num_rows,
        "entries_booked": int(column_sum(summ, "entries_booked")),
        "lines": lines.num_rows,
        "entries_settled": _by_state(lines).get("settled", (_ZERO, 0))[1],
        **{c: column_sum(bal, c) for c in BALANCE_COLUMNS},
        "net": column_sum(bal, "commissions") + column_sum(bal, "reversals"),
    }
    rec = reconciliation(ledger, period, tz=tz, tables=(snap, bal, lines, summ))
    return PeriodReport(
        snap, bal.drop_columns(["close_accrued", "unexplained"]), lines, summ, rec, totals
    )


def _checks_table(rows: list[tuple[str, Any, Any]]) -> pa.Table:
    """The checks as a table; a check whose two sides are integers counts things
    (``unit`` ``count``: shown without decimals), any other compares money."""
    exp = [Decimal(r[1]) for r in rows]
    act = [Decimal(r[2]) for r in rows]
    units = ["count" if isinstance(r[1], int) and isinstance(r[2], int) else "money" for r in rows]
    return pa.table(
        {
            "check": pa.array([r[0] for r in rows], pa.string()),
            "unit": pa.array(units, pa.string()),
            "expected": pa.array(exp, _MONEY),
            "actual": pa.array(act, _MONEY),
            "difference": pa.array([a - e for a, e in zip(act, exp, strict=True)], _MONEY),
            "ok": pa.array([a == e for a, e in zip(act, exp, strict=True)], pa.bool_()),
        }
    )


def reconciliation(
    ledger: Ledger,
    period: str,
    *,
    tz: str = DEFAULT_TIMEZONE,
    tables: tuple[ReportSnapshot, pa.Table, pa.Table, pa.Table] | None = None,
) -> pa.Table:
    """Checks that every cent of ``period`` is accounted for.

    Columns ``check``, ``unit`` (``money`` or ``count``), ``expected``, ``actual``,
    ``difference``, ``ok``. The ledger's
    own identities (as of the snapshot):

    * commissions booked = per-order attributed amounts (``referral_orders``) plus what
      re-attributions booked;
    * reversals booked = refund-driven amounts (``referral_refunds``) plus what
      re-attributions reversed plus voids (``referral_voids``);
    * re-attributions: their recorded net = the net of their correction entries;
    * fully refunded orders net to zero;
    * entries to date = paid to date + closing balances + unsettled.

    The cross-table identities, over the report's own tables (``tables``: snapshot,
    balances, lines, summary; built here when not given):

    * summary = balances for commissions, reversals, brought forward, held, pending
      and settled = accrued; summary lines = statement lines;
    * statement lines = balances: their amounts sum to commissions + reversals +
      brought forward, and their held / pending / settled parts to the balances';
    * every statement line is settled, held or pending (none unexplained);
    * gross payable = opening + accrued; closing = gross payable - paid;
    * closed periods, against the close itself (``referral_balances`` and the settled
      transitions): accrued = the close's accrued (total and per beneficiary),
      paid and closing = the close's, accrued = entries settled in the period.
    """
    snap, bal, lines, summ = tables or (None, None, None, None)
    if snap is None:
        snap = snapshot(ledger, period, tz)
    if not ledger.ready:
        return _checks_table([])
    if bal is None or lines is None or summ is None:
        bal = balance_table(ledger, snap, None)
        lines = line_table(ledger, snap, None)
        summ = summary_table(ledger, snap)
    rows = _ledger_checks(ledger, snap) + _cross_checks(ledger, snap, bal, lines, summ)
    return _checks_table(rows)


def _ledger_checks(ledger: Ledger, snap: ReportSnapshot) -> list[tuple[str, Any, Any]]:
    # re-attribution corrections (schema v2) and voids (v3) are absent from older ledgers
    v2, v3 = ledger.schema_version >= 2, ledger.schema_version >= 3
    re_book, re_rev, re_net = (
        (
            f"(SELECT coalesce(sum({c}), 0) FROM referral_reattributions WHERE period = $p)"
            for c in ("booked", "reversed", "booked + reversed")
        )
        if v2
        else ("0", "0", "0")
    )
    voids = (
        "(SELECT coalesce(sum(v.amount), 0) FROM referral_voids v JOIN ledger e "
        "ON e.entry_id = v.void_entry_id WHERE e.period = $p)"
        if v3
        else "0"
    )
    not_void = (
        "AND NOT EXISTS (SELECT 1 FROM referral_voids v WHERE v.void_entry_id = e.entry_id)"
        if v3
        else ""
    )
    q = ledger.arrow(
        f"""{entries_sql(bounded=True)}
        SELECT {re_book} AS re_book, {re_rev} AS re_rev, {re_net} AS re_net, {voids} AS voids,
          (SELECT coalesce(sum(e.amount), 0) FROM ledger e JOIN referral_orders o USING (order_id)
              WHERE e.period = $p AND ((e.kind = 'reversal' AND e.refund_event_id IS NULL {not_void})
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
              USING (order_id) JOIN referral_entries e USING (order_id)
              WHERE r.a >= o.amount GROUP BY o.order_id HAVING sum(e.amount) <> 0)) AS bad_full,
          (SELECT coalesce(sum(amount), 0) FROM ledger WHERE period <= $p) AS e_total,
          (SELECT coalesce(sum(paid), 0) FROM referral_balances WHERE period <= $p) AS paid_total,
          (SELECT coalesce(sum(closing), 0) FROM referral_balances
              WHERE period = (SELECT max(period) FROM referral_balances WHERE period <= $p))
              AS closing_total,
          (SELECT coalesce(sum(amount), 0) FROM ledger WHERE period <= $p AND
              (settled_period IS NULL OR settled_period > $p)) AS unsettled
        """,
        {k: v for k, v in snap.params().items() if k != "end"},
    ).to_pylist()[0]
    return [
        (
            "commissions = per-order attributed amounts + re-attributions",
            q["o_comm"] + q["re_book"],
            q["e_comm"],
        ),
        (
            "reversals = refund-driven amounts + re-attribution reversals + voids",
            q["r_rev"] + q["re_rev"] + q["voids"],
            q["e_rev"],
        ),
        ("re-attributions (late referrals) = their correction entries", q["re_net"], q["e_re"]),
        ("fully refunded orders net to zero (orders off)", 0, q["bad_full"]),
        (
            "entries to date = paid to date + closing balances + unsettled",
            q["e_total"],
            q["paid_total"] + q["closing_total"] + q["unsettled"],
        ),
    ]


def _by_state(lines: pa.Table) -> dict[str, tuple[Decimal, int]]:
    """``{state: (amount, lines)}`` of the statement lines (vectorised)."""
    if not lines.num_rows:
        return {}
    g = lines.group_by("state").aggregate([("amount", "sum"), ("amount", "count")])
    return {
        r["state"]: (Decimal(r["amount_sum"] or 0), int(r["amount_count"])) for r in g.to_pylist()
    }


def _cross_checks(
    ledger: Ledger, snap: ReportSnapshot, bal: pa.Table, lines: pa.Table, summ: pa.Table
) -> list[tuple[str, Any, Any]]:
    b = {c: column_sum(bal, c) for c in BALANCE_COLUMNS}
    s = {c: column_sum(summ, c) for c in SUMMARY_MONEY}
    parts = _by_state(lines)
    by_state = {k: v[0] for k, v in parts.items()}
    rows: list[tuple[str, Any, Any]] = [
        ("summary commissions = balances commissions", b["commissions"], s["commissions"]),
        ("summary reversals = balances reversals", b["reversals"], s["reversals"]),
        (
            "summary brought forward = balances brought forward",
            b["brought_forward"],
            s["brought_forward"],
        ),
        ("summary held = balances held", b["held"], s["held"]),
        ("summary pending = balances pending", b["pending"], s["pending"]),
        ("summary settled = balances accrued", b["accrued"], s["settled"]),
        (
            "summary lines (count) = statement lines (count)",
            lines.num_rows,
            int(column_sum(summ, "lines")),
        ),
        (
            "statement lines = commissions + reversals + brought forward",
            b["commissions"] + b["reversals"] + b["brought_forward"],
            sum(by_state.values(), _ZERO),
        ),
        ("statement lines held = balances held", b["held"], by_state.get("held", _ZERO)),
        (
            "statement lines pending = balances pending",
            b["pending"],
            by_state.get("pending", _ZERO),
        ),
        (
            "statement lines settled = balances accrued",
            b["accrued"],
            by_state.get("settled", _ZERO),
        ),
        (
            "statement lines neither settled, held nor pending (count)",
            0,
            parts.get("unexplained", (_ZERO, 0))[1],
        ),
        ("gross payable = opening + accrued", b["opening"] + b["accrued"], b["gross_payable"]),
        ("closing = gross payable - paid", b["gross_payable"] - b["paid"], b["closing"]),
    ]
    if snap.closed:
        close = ledger.arrow(
            """SELECT coalesce(sum(accrued), 0) AS accrued, coalesce(sum(paid), 0) AS paid,
                      coalesce(sum(closing), 0) AS closing,
                      coalesce(sum(opening + accrued - paid - closing), 0) AS roll
               FROM referral_balances WHERE period = $p""",
            {"p": snap.period},
        ).to_pylist()[0]
        settled = ledger.scalar(
            """SELECT coalesce(sum(e.amount), 0) FROM referral_entries e
               WHERE e.entry_id IN (SELECT entry_id FROM referral_status
                                    WHERE period = ? AND status IN ('paid', 'carried'))""",
            [snap.period],
        )
        # no close row: nothing settled (0)
        close_acc = pc.fill_null(bal.column("close_accrued"), pa.scalar(_ZERO, _MONEY))
        per_ben = pc.sum(pc.not_equal(bal.column("accrued"), close_acc)).as_py() or 0
        rows += [
            ("balances accrued = the close's accrued", close["accrued"], b["accrued"]),
            ("beneficiaries whose accrued differs from the close's (count)", 0, per_ben),
            ("balances paid = the close's paid", close["paid"], b["paid"]),
            ("balances closing = the close's closing", close["closing"], b["closing"]),
            ("the close: opening + accrued - paid - closing = 0", 0, close["roll"]),
            ("the close: accrued = entries settled in the period", close["accrued"], settled),
        ]
    return rows
