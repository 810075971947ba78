"""``koc commissions run``: attribute new orders and refunds to the ledger.

One run reads the inputs through the :class:`graph.store.GraphStore` protocol, then,
in one ledger transaction:

0. re-examines the orders already attributed that a newly seen referral may
   re-bind, and appends corrections where their attribution changed
   (:mod:`referral.reattribution`);
1. picks the orders not yet in ``referral_orders`` (an order id seen twice counts
   once: the earliest event wins) and keeps the eligible ones (rules currency,
   ``amount >= min_order_amount``);
2. builds candidate rows (:mod:`referral.candidates`);
3. applies the caps in a fixed order: per order (entries served referral before
   share, level 1 first, commission before bonus; the entry that crosses the cap is
   cut to what is left), then per beneficiary and period (in order time, order id,
   same tie-break; earlier runs' entries of the period count first);
4. appends the entries, then ``held`` transitions for every unsettled entry a fraud
   check concerns (:mod:`referral.fraud`, self-referral per entry);
5. reverses refunds of attributed orders proportionally: after refunds totalling
   ``R`` of an order of amount ``A``, an entry of amount ``c`` has been reversed by
   ``round_half_up(c * min(R, A) / A)`` minor units in all, each refund adding the
   difference, so a full refund nets every entry to exactly zero.

Rerunning over the same inputs adds nothing (the run id is a hash of the rules and
the inputs' sizes and clock); new events only append.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from graph.events import EventType
from graph.referrals import first_referrals
from graph.store import ARROW_SCHEMAS
from referral.candidates import build_candidates, cap_sql
from referral.fraud import detect_flags
from referral.ledger import Ledger, refund_target_sql
from referral.periods import DEFAULT_TIMEZONE, booking_period_sql
from referral.reattribution import reattribute
from referral.rules import CommissionRules

__all__ = ["RunSummary", "read_inputs", "attribute"]

_INPUTS = {
    "_in_orders": EventType.ORDER,
    "_in_refunds": EventType.REFUND,
    "_in_refs": EventType.REFERRAL,
    "_in_users": EventType.USER,
    "_in_views": EventType.VIEW,
    "_in_fwds": EventType.FORWARD,
}


@dataclass(frozen=True)
class RunSummary:
    """What one attribution run appended."""

    run_id: str
    rule_version: str
    as_of: datetime | None
    orders_new: int = 0
    entries_new: int = 0
    refunds_new: int = 0
    reversals_new: int = 0
    holds_new: int = 0
    commission: Decimal = Decimal(0)
    reversed: Decimal = Decimal(0)
    outcomes: dict[str, int] = field(default_factory=dict)
    already_done: bool = False
    referrals_new: int = 0
    orders_reexamined: int = 0
    orders_reattributed: int = 0
    reattribution_entries: int = 0
    reattribution_reversals: int = 0
    reattributed_booked: Decimal = Decimal(0)
    reattributed_reversed: Decimal = Decimal(0)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict (amounts as strings)."""
        d = asdict(self)
        for k in ("commission", "reversed", "reattributed_booked", "reattributed_reversed"):
            d[k] = str(getattr(self, k))
        d["as_of"] = self.as_of.isoformat() if self.as_of else None
        return d


def read_inputs(store: Any, rules: CommissionRules) -> dict[str, pa.Table]:
    """Read every input table attribution needs from ``store`` (Arrow, whole history)."""
    out = {}
    for name, etype in _INPUTS.items():
        if name in ("_in_views", "_in_fwds") and not rules.share.enabled:
            out[name] = ARROW_SCHEMAS[etype].empty_table()
        else:
            out[name] = store.read_events(etype)
    return out


def _as_of(inputs: dict[str, pa.Table]) -> datetime | None:
    stamps = [
        pc.max(inputs[n].column("ts")).as_py()
        for n in ("_in_orders", "_in_refunds", "_in_refs")
        if inputs[n].num_rows
    ]
    return max(stamps) if stamps else None


def _run_id(rules: CommissionRules, inputs: dict[str, pa.Table], as_of: datetime | None) -> str:
    sizes = {k: v.num_rows for k, v in sorted(inputs.items())}
    text = json.dumps([rules.digest(), sizes, str(as_of)], sort_keys=True)
    return "run-" + hashlib.sha256(text.encode()).hexdigest()[:16]


def attribute(
    store: Any,
    ledger: Ledger,
    rules: CommissionRules,
    *,
    timezone: str = DEFAULT_TIMEZONE,
    inputs: dict[str, pa.Table] | None = None,
) -> RunSummary:
    """Attribute every order and refund not yet in the ledger.

    Parameters
    ----------
    store : GraphStore
        Source of events (read through :meth:`graph.store.GraphStore.read_events`).
    ledger : Ledger
        Where entries are appended.
    rules : CommissionRules
        The rule set; its version is stored on every new entry.
    timezone : str
        IANA zone of period boundaries.
    inputs : dict, optional
        Pre-read inputs (:func:`read_inputs`), for benchmarks and tests.

    Returns
    -------
    RunSummary

    Raises
    ------
    ConflictError
        Different rules under a version the ledger already knows.
    """
    inputs = inputs if inputs is not None else read_inputs(store, rules)
    as_of = _as_of(inputs)
    run_id = _run_id(rules, inputs, as_of)
    if ledger.scalar("SELECT count(*) FROM referral_runs WHERE run_id = ?", [run_id]):
        return RunSummary(run_id, rules.version, as_of, already_done=True)
    flags = detect_flags(inputs["_in_users"], inputs["_in_refs"], rules.fraud)
    conn = ledger.conn
    last_closed = ledger.last_closed()
    m = rules.minor_digits
    first = first_referrals(inputs["_in_refs"])  # graph.referrals: the tree's one rule
    for name, table in {**inputs, "_in_flags": flags, "_in_first": first}.items():
        conn.register(name, table)
    try:
        with ledger.transaction():
            ledger.register_rules(rules)
            # orders attributed earlier that a late referral may re-bind (before new orders,
            # which see every referral anyway)
            re = reattribute(
                ledger,
                timezone=timezone,
                last_closed=last_closed,
                run_id=run_id,
                at=as_of or datetime(1970, 1, 1, tzinfo=UTC),
                share_inputs=rules.share.enabled,
            )
            re_count = ledger.scalar(
                "SELECT count(*) FROM referral_entries WHERE run_id = ?", [run_id]
            )
            conn.execute(
                f"""CREATE OR REPLACE TEMP TABLE _new AS
                SELECT o.order_id, o.buyer, o.amount, o.currency, o.ts,
                       o.attribution_token AS token, o.store_id,
                       {booking_period_sql("o.ts", timezone, last_closed)} AS period
                FROM (SELECT * FROM _in_orders
                      QUALIFY row_number() OVER (PARTITION BY order_id ORDER BY ts, event_id) = 1) o
                WHERE NOT EXISTS (SELECT 1 FROM referral_orders r WHERE r.order_id = o.order_id)"""
            )
            conn.execute(
                f"""CREATE OR REPLACE TEMP VIEW _elig AS SELECT * FROM _new
                WHERE currency = '{rules.currency}' AND amount >= {rules.min_order_amount}"""
            )
            build_candidates(conn, rules)
            conn.execute(cap_sql(rules))
            base = ledger.scalar("SELECT coalesce(max(seq), 0) FROM referral_entries")
            hold_days = rules.effective_hold_days
            conn.execute(
                f"""INSERT INTO referral_entries
                SELECT md5(concat_ws('|', 'c', order_id, model, level::VARCHAR, kind)),
                       {base} + row_number() OVER (ORDER BY order_ts, order_id, mrank, level, krank),
                       kind, model, order_id, buyer, beneficiary, role, level, '{rules.version}',
                       basis, rate, amount, '{rules.currency}', order_ts,
                       order_ts + INTERVAL {hold_days} DAY, period, NULL, NULL,
                       CASE WHEN amount < raw THEN reason || format(' (capped from {{}})', raw)
                            ELSE reason END,
                       '{run_id}'
                FROM _capped WHERE raw > 0"""
            )
            entries_new = (
                ledger.scalar("SELECT count(*) FROM referral_entries WHERE run_id = ?", [run_id])
                - re_count
            )
            conn.execute(
                f"""INSERT INTO referral_orders
                SELECT n.order_id, n.buyer, n.ts, n.amount, n.currency, n.period,
                       CASE WHEN n.currency <> '{rules.currency}' THEN 'skipped: currency'
                            WHEN n.amount < {rules.min_order_amount} THEN 'skipped: below minimum'
                            WHEN c.total IS NULL THEN 'no beneficiary'
                            ELSE 'attributed' END,
                       coalesce(c.total, 0), '{run_id}'
                FROM _new n LEFT JOIN (SELECT order_id, sum(amount) AS total FROM _capped
                                       WHERE raw > 0 GROUP BY order_id) c USING (order_id)"""
            )
            holds_new = _apply_holds(ledger, as_of or datetime(1970, 1, 1, tzinfo=UTC))
            refunds_new, reversals_new = _reverse_refunds(
                ledger, rules, timezone, last_closed, run_id, m
            )
            conn.execute(
                "INSERT INTO referral_flags SELECT ?, kind, user_id, other_id, detail FROM _in_flags",
                [run_id],
            )
            outcomes = dict(
                conn.execute(
                    "SELECT outcome, count(*) FROM referral_orders WHERE run_id = ? GROUP BY 1 "
                    "ORDER BY 1",
                    [run_id],
                ).fetchall()
            )
            commission, reversed_ = conn.execute(
                """SELECT coalesce(sum(amount) FILTER (WHERE kind <> 'reversal'
                                  AND order_id IN (SELECT order_id FROM _new)), 0),
                          coalesce(sum(amount) FILTER (WHERE refund_event_id IS NOT NULL), 0)
                FROM referral_entries WHERE run_id = ?""",
                [run_id],
            ).fetchall()[0]
            orders_new = sum(outcomes.values())
            conn.execute(
                "INSERT INTO referral_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    run_id,
                    rules.version,
                    as_of,
                    orders_new,
                    entries_new,
                    refunds_new,
                    reversals_new,
                    holds_new,
                    json.dumps(
                        {"outcomes": outcomes, "reattribution": re.to_dict()}, sort_keys=True
                    ),
                ],
            )
    finally:
        for name in (*inputs, "_in_flags", "_in_first", "_rates"):
            conn.unregister(name)
        ledger.drop_scratch()
    return RunSummary(
        run_id,
        rules.version,
        as_of,
        orders_new,
        int(entries_new),
        refunds_new,
        reversals_new,
        holds_new,
        commission,
        reversed_,
        outcomes,
        referrals_new=re.referrals_new,
        orders_reexamined=re.orders_reexamined,
        orders_reattributed=re.orders_corrected,
        reattribution_entries=re.entries_new,
        reattribution_reversals=re.reversals_new,
        reattributed_booked=re.booked,
        reattributed_reversed=re.reversed,
    )


def _apply_holds(ledger: Ledger, at: datetime) -> int:
    """Hold every unsettled, never held or released entry that a fraud flag concerns."""
    conn = ledger.conn
    conn.execute(
        """CREATE OR REPLACE TEMP TABLE _holds AS
        WITH open_entries AS (
            SELECT e.* FROM referral_entries e
            WHERE e.kind <> 'reversal' AND NOT EXISTS (
                SELECT 1 FROM referral_status s WHERE s.entry_id = e.entry_id)
        ), reasons AS (
            SELECT e.entry_id, e.seq, 'self-referral: buyer ' || e.buyer || ' and beneficiary '
                   || e.beneficiary || ' share a '
                   || CASE WHEN ub.device_hash = ue.device_hash THEN 'device' ELSE 'phone' END
                   AS reason
            FROM open_entries e JOIN _in_users ub ON ub.user_id = e.buyer
            JOIN _in_users ue ON ue.user_id = e.beneficiary
            WHERE ub.device_hash = ue.device_hash OR ub.phone_hash = ue.phone_hash
            UNION ALL
            SELECT e.entry_id, e.seq, f.detail FROM open_entries e
            JOIN _in_flags f ON f.user_id = e.beneficiary AND f.kind IN ('cycle', 'ring')
            UNION ALL
            SELECT e.entry_id, e.seq, f.detail FROM open_entries e
            JOIN _in_flags f ON f.kind = 'velocity' AND f.user_id = e.beneficiary
                 AND f.other_id = e.buyer AND e.model = 'referral' AND e.level = 1
        )
        SELECT entry_id, min(seq) AS seq, string_agg(DISTINCT reason, '; ' ORDER BY reason) AS reason
        FROM reasons GROUP BY entry_id"""
    )
    base = ledger.scalar("SELECT coalesce(max(seq), 0) FROM referral_status")
    conn.execute(
        """INSERT INTO referral_status
        SELECT ? + row_number() OVER (ORDER BY seq), entry_id, 'held', ?, NULL, 'system', reason
        FROM _holds""",
        [base, at],
    )
    return int(ledger.scalar("SELECT count(*) FROM _holds"))


def _reverse_refunds(
    ledger: Ledger,
    rules: CommissionRules,
    tz: str,
    last_closed: str | None,
    run_id: str,
    m: int,
) -> tuple[int, int]:
    """Append reversal entries for refunds of attributed orders not yet processed."""
    conn = ledger.conn
    scale = 10**m
    conn.execute(
        f"""CREATE OR REPLACE TEMP TABLE _rf AS
        WITH new AS (
            SELECT r.* FROM (SELECT * FROM _in_refunds
                             QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY ts) = 1) r
            WHERE EXISTS (SELECT 1 FROM referral_orders o WHERE o.order_id = r.order_id)
              AND NOT EXISTS (SELECT 1 FROM referral_refunds x WHERE x.refund_event_id = r.event_id)
        ), done AS (SELECT order_id, sum(applied) AS prior FROM referral_refunds GROUP BY order_id)
        SELECT n.event_id, n.refund_id, n.order_id, n.ts, n.amount, o.amount AS order_amount,
               least(o.amount, coalesce(d.prior, 0) + sum(n.amount) OVER w - n.amount) AS before,
               least(o.amount, coalesce(d.prior, 0) + sum(n.amount) OVER w) AS after,
               {booking_period_sql("n.ts", tz, last_closed)} AS period
        FROM new n JOIN referral_orders o USING (order_id) LEFT JOIN done d USING (order_id)
        WINDOW w AS (PARTITION BY n.order_id ORDER BY n.ts, n.event_id ROWS UNBOUNDED PRECEDING)"""
    )
    before, after = (
        refund_target_sql("e.amount", f"r.{c}", "r.order_amount", m) for c in ("before", "after")
    )
    base = ledger.scalar("SELECT coalesce(max(seq), 0) FROM referral_entries")
    conn.execute(
        f"""CREATE OR REPLACE TEMP TABLE _rev AS
        SELECT e.entry_id AS orig, r.event_id, r.refund_id, r.ts, r.period, r.amount AS refund_amount,
               r.order_amount, r.after - r.before AS applied, e.seq, e.model, e.order_id, e.buyer,
               e.beneficiary, e.beneficiary_role, e.level, e.rule_version, e.rate, e.currency,
               e.payable_at, -(({after}) - ({before})) AS delta
        FROM _rf r JOIN referral_entries e ON e.order_id = r.order_id
             AND e.kind <> 'reversal' AND e.amount > 0
             AND NOT EXISTS (SELECT 1 FROM referral_superseded x WHERE x.entry_id = e.entry_id)
        WHERE r.order_amount > 0"""
    )
    conn.execute(
        f"""INSERT INTO referral_entries
        SELECT md5(concat_ws('|', 'r', orig, event_id)),
               {base} + row_number() OVER (ORDER BY ts, event_id, seq),
               'reversal', model, order_id, buyer, beneficiary, beneficiary_role, level,
               rule_version, applied::DECIMAL(20, 4), rate,
               (delta / {scale})::DECIMAL(20, 4), currency, ts, greatest(ts, payable_at), period,
               orig, event_id,
               format('refund {{}} of {{}} on order {{}} ({{}}): reverses {{}} of entry {{}}',
                      coalesce(refund_id, event_id), refund_amount, order_id, order_amount,
                      (-delta / {scale})::DECIMAL(20, 4), orig),
               '{run_id}'
        FROM _rev WHERE delta <> 0"""
    )
    reversals = int(
        ledger.scalar(
            "SELECT count(*) FROM referral_entries WHERE run_id = ? AND kind = 'reversal' "
            "AND refund_event_id IS NOT NULL",
            [run_id],
        )
    )
    conn.execute(
        f"""INSERT INTO referral_refunds
        SELECT r.event_id, r.refund_id, r.order_id, r.ts, r.amount, r.after - r.before,
               coalesce(v.total, 0), r.period, '{run_id}'
        FROM _rf r LEFT JOIN (SELECT event_id, sum(delta) / {scale} AS total FROM _rev
                              GROUP BY event_id) v USING (event_id)"""
    )
    return int(ledger.scalar("SELECT count(*) FROM _rf")), reversals
