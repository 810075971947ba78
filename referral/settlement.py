"""``koc commissions close``: settle a period into payouts and carried balances.

Closing period ``P`` (and every earlier open period, oldest first) at its end
instant ``E`` (first instant of the next month in the ledger's time zone):

* **eligible** entries: period ``<= P``, not yet settled, not held, ``payable_at <= E``
  (commissions still inside their holding period wait for a later close);
* per beneficiary: ``opening`` = the previous closing balance, ``accrued`` = sum of
  eligible amounts (reversals are negative), ``total = opening + accrued``;
  ``paid = total`` when ``total > 0`` and ``total >= min_payout``, else 0;
  ``closing = total - paid`` (a negative balance after a refund of a paid
  commission carries to the next period);
* eligible entries get a ``paid`` or ``carried`` transition; a
  ``referral_balances`` row per beneficiary and a ``referral_periods`` row are appended.

Closed periods never change: entries that arrive later for an earlier time go to the
first open period (:mod:`referral.periods`). A period is closed only after it has ended
(wall clock): closing a month in advance would settle it before its orders are in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from graph.errors import ConfigError, ConflictError
from graph.money import format_money
from referral.ledger import Ledger
from referral.periods import DEFAULT_TIMEZONE, check_period, period_bounds, periods_between
from referral.rules import CommissionRules

__all__ = ["CloseResult", "close_period", "periods_to_close"]


@dataclass(frozen=True)
class CloseResult:
    """One closed period."""

    period: str
    beneficiaries: int
    entries_settled: int
    paid: Decimal
    carried: Decimal
    currency: str = "CNY"

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict: counts as integers, amounts as text at the currency's
        decimals (:func:`graph.money.format_money`)."""
        return {
            "period": self.period,
            "beneficiaries": self.beneficiaries,
            "entries_settled": self.entries_settled,
            "paid": format_money(self.paid, self.currency),
            "carried": format_money(self.carried, self.currency),
            "currency": self.currency,
        }


def periods_to_close(
    ledger: Ledger,
    period: str,
    *,
    timezone: str = DEFAULT_TIMEZONE,
    now: datetime | None = None,
) -> list[str]:
    """The periods a close of ``period`` would close, oldest first: ``period`` and every
    open period before it (from the first period with entries, or after the last closed).

    Raises
    ------
    ConflictError
        ``period`` is already closed.
    ConfigError
        ``period`` has not ended yet at ``now`` (default: the wall clock): a month is
        closed once it is over, never in advance.
    """
    check_period(period)
    last = ledger.last_closed()
    if last is not None and period <= last:
        raise ConflictError(
            f"Period {period} is already closed (last closed: {last}); closed periods never "
            "change. Late events go to the next open period.",
            period=period,
        )
    _, end = period_bounds(period, timezone)
    now = now or datetime.now(UTC)
    if end > now:
        raise ConfigError(
            f"Period {period} has not ended yet: it ends at {end.astimezone(ZoneInfo(timezone))} "
            f"({timezone}); a period can only be closed after its end. Close an earlier one, "
            "or wait.",
            key="period",
        )
    first = ledger.scalar("SELECT min(period) FROM referral_entries WHERE period <= ?", [period])
    if last is not None:
        first = periods_between(last, period)[1]
    return periods_between(first or period, period)


def close_period(
    ledger: Ledger,
    period: str,
    *,
    rules: CommissionRules,
    by: str = "system",
    timezone: str = DEFAULT_TIMEZONE,
    closed_at: datetime | None = None,
    now: datetime | None = None,
) -> list[CloseResult]:
    """Close ``period`` and every open period before it (:func:`periods_to_close`).

    Parameters
    ----------
    ledger : Ledger
    period : str
        ``YYYY-MM``.
    rules : CommissionRules
        Supplies ``min_payout`` and the currency.
    by : str
        Who closes (kept on the period row).
    timezone : str
        Zone of the period boundaries.
    closed_at : datetime, optional
        Recorded closing time (default now, UTC).
    now : datetime, optional
        The clock periods must have ended by (default: the wall clock).

    Returns
    -------
    list of CloseResult
        One per period closed, oldest first.

    Raises
    ------
    ConflictError
        ``period`` is already closed.
    ConfigError
        ``period`` has not ended yet.
    """
    todo = periods_to_close(ledger, period, timezone=timezone, now=now)
    results = []
    # one transaction per period, oldest first: each close reads the committed result
    # of the one before (its balances, its settled entries, the status seq). Closing
    # four periods in one transaction re-settled earlier periods' entries at 1M entries
    # (the later reads did not see the earlier inserts); a failure now leaves the
    # earlier periods closed, which is a valid state.
    for p in todo:
        with ledger.transaction():
            results.append(
                _close_one(
                    ledger,
                    p,
                    rules=rules,
                    by=by,
                    timezone=timezone,
                    closed_at=closed_at or datetime.now(UTC),
                )
            )
    ledger.drop_scratch()
    return results


def _close_one(
    ledger: Ledger,
    period: str,
    *,
    rules: CommissionRules,
    by: str,
    timezone: str,
    closed_at: datetime,
) -> CloseResult:
    conn = ledger.conn
    start, end = period_bounds(period, timezone)
    conn.execute(
        """CREATE OR REPLACE TEMP TABLE _elig_close AS
        WITH hold AS (
            SELECT entry_id, arg_max(status, seq) AS st FROM referral_status
            WHERE status IN ('held', 'released', 'voided') GROUP BY entry_id
        )
        SELECT e.entry_id, e.seq, e.beneficiary, e.currency, e.amount
        FROM referral_entries e LEFT JOIN hold h ON h.entry_id = coalesce(e.orig_entry_id, e.entry_id)
        WHERE e.period <= ? AND e.payable_at <= ? AND h.st IS DISTINCT FROM 'held'
          AND NOT EXISTS (SELECT 1 FROM referral_status s WHERE s.entry_id = e.entry_id
                          AND s.status IN ('paid', 'carried'))""",
        [period, end],
    )
    conn.execute(
        """CREATE OR REPLACE TEMP TABLE _bal AS
        WITH prev AS (
            SELECT beneficiary, currency, arg_max(closing, period) AS opening
            FROM referral_balances GROUP BY ALL
        ), acc AS (
            SELECT beneficiary, currency, sum(amount) AS accrued FROM _elig_close GROUP BY ALL
        ), t AS (
            SELECT beneficiary, currency, coalesce(p.opening, 0) AS opening,
                   coalesce(a.accrued, 0) AS accrued
            FROM prev p FULL JOIN acc a USING (beneficiary, currency)
        )
        SELECT *, CASE WHEN opening + accrued > 0 AND opening + accrued >= ?
                       THEN opening + accrued ELSE 0 END AS paid
        FROM t WHERE opening <> 0 OR accrued <> 0 OR beneficiary IN (SELECT beneficiary FROM acc)""",
        [rules.min_payout],
    )
    conn.execute(
        """INSERT INTO referral_balances
        SELECT ?, beneficiary, currency, opening, accrued, paid, opening + accrued - paid
        FROM _bal ORDER BY beneficiary, currency""",
        [period],
    )
    base = ledger.scalar("SELECT coalesce(max(seq), 0) FROM referral_status")
    conn.execute(
        """INSERT INTO referral_status
        SELECT ? + row_number() OVER (ORDER BY e.seq), e.entry_id,
               CASE WHEN b.paid <> 0 THEN 'paid' ELSE 'carried' END, ?, ?, ?,
               CASE WHEN b.paid <> 0 THEN 'settled in payout' ELSE 'carried in balance' END
        FROM _elig_close e JOIN _bal b USING (beneficiary, currency)""",
        [base, end, period, by],
    )
    conn.execute(
        "INSERT INTO referral_periods VALUES (?, ?, ?, ?, ?, ?)",
        [period, start, end, timezone, closed_at, by],
    )
    # the ledger as it stands at this close: its report never changes afterwards
    conn.execute(
        """INSERT INTO referral_close_marks
        SELECT ?, (SELECT coalesce(max(seq), 0) FROM referral_entries),
                  (SELECT coalesce(max(seq), 0) FROM referral_status)""",
        [period],
    )
    n_ben, paid, carried = conn.execute(
        "SELECT count(*), coalesce(sum(paid), 0), coalesce(sum(opening + accrued - paid), 0) FROM _bal"
    ).fetchall()[0]
    settled = ledger.scalar("SELECT count(*) FROM _elig_close")
    return CloseResult(
        period, int(n_ben), int(settled), Decimal(paid), Decimal(carried), rules.currency
    )
