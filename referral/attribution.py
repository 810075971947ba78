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

Each step is one stage function below, run in that order by :func:`attribute`
(:func:`referral.reattribution.reattribute`, ``_new_orders``, ``_eligible``,
``_capped_candidates``, ``_book_entries``, ``_record_orders``, ``_apply_holds``,
``_reverse_refunds``, ``_record_flags``, ``_run_totals``, ``_record_run``); stages
hand each other :class:`referral.inputs.Relation` values and pass values to SQL as
bound parameters.

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

import pyarrow.compute as pc

from graph.money import format_money
from graph.referrals import first_referrals
from graph.store import GraphStore
from referral.candidates import apply_caps, build_candidates
from referral.fraud import detect_flags
from referral.inputs import Inputs, InputTables, Relation, read_inputs, registered
from referral.ledger import Ledger, refund_target_sql
from referral.periods import DEFAULT_TIMEZONE, booking_period_sql
from referral.reattribution import ReattributionResult, reattribute
from referral.rules import CommissionRules

__all__ = ["RunSummary", "read_inputs", "attribute"]

#: The data clock of a run over inputs without any timestamp.
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


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
    currency: str = "CNY"

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict: amounts as text at the currency's decimals
        (:func:`graph.money.format_money`), counts as integers."""
        d = asdict(self)
        for k in ("commission", "reversed", "reattributed_booked", "reattributed_reversed"):
            d[k] = format_money(getattr(self, k), self.currency)
        d["as_of"] = self.as_of.isoformat() if self.as_of else None
        return d


def _as_of(tables: InputTables) -> datetime | None:
    stamps = [
        pc.max(t.column("ts")).as_py()
        for t in (tables.orders, tables.refunds, tables.referrals)
        if t.num_rows
    ]
    return max(stamps) if stamps else None


def _run_id(rules: CommissionRules, tables: InputTables, as_of: datetime | None) -> str:
    sizes = dict(sorted(tables.sizes().items()))
    text = json.dumps([rules.digest(), sizes, str(as_of)], sort_keys=True)
    return "run-" + hashlib.sha256(text.encode()).hexdigest()[:16]


def attribute(
    store: GraphStore,
    ledger: Ledger,
    rules: CommissionRules,
    *,
    timezone: str = DEFAULT_TIMEZONE,
    inputs: InputTables | None = None,
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
    inputs : InputTables, optional
        Pre-read inputs (:func:`read_inputs`), for benchmarks and tests.

    Returns
    -------
    RunSummary

    Raises
    ------
    ConflictError
        Different rules under a version the ledger already knows.
    """
    tables = inputs if inputs is not None else read_inputs(store, rules)
    as_of = _as_of(tables)
    run = _Run(_run_id(rules, tables, as_of), as_of, ledger.last_closed(), timezone)
    if ledger.scalar("SELECT count(*) FROM referral_runs WHERE run_id = ?", [run.run_id]):
        return RunSummary(
            run.run_id, rules.version, as_of, already_done=True, currency=rules.currency
        )
    flags = detect_flags(tables.users, tables.referrals, rules.fraud)
    first = first_referrals(tables.referrals)  # graph.referrals: the tree's one rule
    try:
        with (
            registered(ledger.conn, tables, first_referrals=first, flags=flags) as rel,
            ledger.transaction(),
        ):
            ledger.register_rules(rules)
            # orders attributed earlier that a late referral may re-bind (before new
            # orders, which see every referral anyway)
            re = reattribute(
                ledger,
                rel,
                timezone=timezone,
                last_closed=run.last_closed,
                run_id=run.run_id,
                at=run.at,
                share_inputs=rules.share.enabled,
            )
            before = _entries_of(ledger, run)
            new = _new_orders(ledger, rel, run)
            capped = _capped_candidates(ledger, rel, _eligible(ledger, new, rules), rules)
            _book_entries(ledger, capped, rules, run)
            entries_new = _entries_of(ledger, run) - before
            _record_orders(ledger, new, capped, rules, run)
            holds_new = _apply_holds(ledger, rel, run.at)
            refunds_new, reversals_new = _reverse_refunds(ledger, rel, rules, run)
            _record_flags(ledger, rel, run)
            outcomes, commission, reversed_ = _run_totals(ledger, new, run)
            counts = _Counts(
                sum(outcomes.values()), entries_new, refunds_new, reversals_new, holds_new
            )
            summary = _summary(run, rules, counts, commission, reversed_, outcomes, re)
            _record_run(ledger, summary, re)
    finally:
        ledger.drop_scratch()
    return summary


def _summary(
    run: _Run,
    rules: CommissionRules,
    counts: _Counts,
    commission: Decimal,
    reversed_: Decimal,
    outcomes: dict[str, int],
    re: ReattributionResult,
) -> RunSummary:
    return RunSummary(
        run.run_id,
        rules.version,
        run.as_of,
        counts.orders,
        counts.entries,
        counts.refunds,
        counts.reversals,
        counts.holds,
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
        currency=rules.currency,
    )


# --- the stages, in run order ------------------------------------------------------------


@dataclass(frozen=True)
class _Run:
    """One run's identity and clock."""

    run_id: str
    as_of: datetime | None
    last_closed: str | None
    timezone: str

    @property
    def at(self) -> datetime:
        """The data clock (1970 for inputs without timestamps)."""
        return self.as_of or _EPOCH


@dataclass(frozen=True)
class _Counts:
    orders: int
    entries: int
    refunds: int
    reversals: int
    holds: int


def _entries_of(ledger: Ledger, run: _Run) -> int:
    return int(
        ledger.scalar("SELECT count(*) FROM referral_entries WHERE run_id = ?", [run.run_id])
    )


def _new_orders(ledger: Ledger, rel: Inputs, run: _Run) -> Relation:
    """Orders not yet in ``referral_orders``, each once (its earliest event), with their period."""
    new = Relation("_new")
    ledger.conn.execute(
        f"""CREATE OR REPLACE TEMP TABLE {new} AS
        SELECT o.order_id, o.buyer, o.amount, o.currency, o.ts,
               o.attribution_token AS token, o.store_id,
               {booking_period_sql("o.ts", run.timezone, run.last_closed)} AS period
        FROM (SELECT * FROM {rel.orders}
              QUALIFY row_number() OVER (PARTITION BY order_id ORDER BY ts, event_id) = 1) o
        WHERE NOT EXISTS (SELECT 1 FROM referral_orders r WHERE r.order_id = o.order_id)"""
    )
    return new


def _eligible(ledger: Ledger, new: Relation, rules: CommissionRules) -> Relation:
    """The new orders in the rules' currency and at least their minimum amount."""
    eligible = Relation("_elig")
    ledger.conn.execute(
        f"""CREATE OR REPLACE TEMP TABLE {eligible} AS SELECT * FROM {new}
        WHERE currency = $currency AND amount >= $min_amount""",
        {"currency": rules.currency, "min_amount": rules.min_order_amount},
    )
    return eligible


def _capped_candidates(
    ledger: Ledger, rel: Inputs, eligible: Relation, rules: CommissionRules
) -> Relation:
    """Candidate rows of the eligible orders (:mod:`referral.candidates`), capped."""
    candidates = build_candidates(ledger.conn, rules, eligible, rel)
    return apply_caps(ledger.conn, rules, candidates, eligible)


def _book_entries(ledger: Ledger, capped: Relation, rules: CommissionRules, run: _Run) -> None:
    """Append one entry per capped candidate with a positive raw amount, in order time."""
    ledger.conn.execute(
        f"""INSERT INTO referral_entries
        SELECT md5(concat_ws('|', 'c', order_id, model, level::VARCHAR, kind)),
               $base + row_number() OVER (ORDER BY order_ts, order_id, mrank, level, krank),
               kind, model, order_id, buyer, beneficiary, role, level, $version,
               basis, rate, amount, $currency, order_ts,
               order_ts + to_days(CAST($hold_days AS INTEGER)), period, NULL, NULL,
               CASE WHEN amount < raw THEN reason || format(' (capped from {{}})', raw)
                    ELSE reason END,
               $run_id
        FROM {capped} WHERE raw > 0""",
        {
            "base": _max_seq(ledger, "referral_entries"),
            "version": rules.version,
            "currency": rules.currency,
            "hold_days": rules.effective_hold_days,
            "run_id": run.run_id,
        },
    )


def _record_orders(
    ledger: Ledger, new: Relation, capped: Relation, rules: CommissionRules, run: _Run
) -> None:
    """One ``referral_orders`` row per new order, with its outcome and attributed total."""
    ledger.conn.execute(
        f"""INSERT INTO referral_orders
        SELECT n.order_id, n.buyer, n.ts, n.amount, n.currency, n.period,
               CASE WHEN n.currency <> $currency THEN 'skipped: currency'
                    WHEN n.amount < $min_amount THEN 'skipped: below minimum'
                    WHEN c.total IS NULL THEN 'no beneficiary'
                    ELSE 'attributed' END,
               coalesce(c.total, 0), $run_id
        FROM {new} n LEFT JOIN (SELECT order_id, sum(amount) AS total FROM {capped}
                                WHERE raw > 0 GROUP BY order_id) c USING (order_id)""",
        {"currency": rules.currency, "min_amount": rules.min_order_amount, "run_id": run.run_id},
    )


def _record_flags(ledger: Ledger, rel: Inputs, run: _Run) -> None:
    """The run's fraud findings, kept with the run id."""
    ledger.conn.execute(
        f"INSERT INTO referral_flags SELECT ?, kind, user_id, other_id, detail FROM {rel.flags}",
        [run.run_id],
    )


def _max_seq(ledger: Ledger, table: str) -> int:
    return int(ledger.scalar(f"SELECT coalesce(max(seq), 0) FROM {table}"))


def _run_totals(
    ledger: Ledger, new: Relation, run: _Run
) -> tuple[dict[str, int], Decimal, Decimal]:
    """Orders per outcome, the commission booked on new orders, and the refunds' reversals."""
    outcomes = dict(
        ledger.conn.execute(
            "SELECT outcome, count(*) FROM referral_orders WHERE run_id = ? GROUP BY 1 ORDER BY 1",
            [run.run_id],
        ).fetchall()
    )
    commission, reversed_ = ledger.conn.execute(
        f"""SELECT coalesce(sum(amount) FILTER (WHERE kind <> 'reversal'
                          AND order_id IN (SELECT order_id FROM {new})), 0),
                  coalesce(sum(amount) FILTER (WHERE refund_event_id IS NOT NULL), 0)
        FROM referral_entries WHERE run_id = ?""",
        [run.run_id],
    ).fetchall()[0]
    return outcomes, commission, reversed_


def _record_run(ledger: Ledger, summary: RunSummary, re: ReattributionResult) -> None:
    """The run's row in ``referral_runs`` (its id makes a rerun over the same inputs a no-op)."""
    ledger.conn.execute(
        "INSERT INTO referral_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            summary.run_id,
            summary.rule_version,
            summary.as_of,
            summary.orders_new,
            summary.entries_new,
            summary.refunds_new,
            summary.reversals_new,
            summary.holds_new,
            json.dumps(
                {"outcomes": summary.outcomes, "reattribution": re.to_dict()}, sort_keys=True
            ),
        ],
    )


def _apply_holds(ledger: Ledger, rel: Inputs, at: datetime) -> int:
    """Hold every unsettled, never held or released entry that a fraud flag concerns.

    Each hold records its reason for people and, in ``referral_hold_checks``, the
    kind of every check behind it (``self-referral``, ``cycle``, ``ring``, ``velocity``).
    """
    conn = ledger.conn
    conn.execute(
        f"""CREATE OR REPLACE TEMP TABLE _hold_reasons AS
        WITH open_entries AS (
            SELECT e.* FROM referral_entries e
            WHERE e.kind <> 'reversal' AND NOT EXISTS (
                SELECT 1 FROM referral_status s WHERE s.entry_id = e.entry_id)
        ), reasons AS (
            SELECT e.entry_id, e.seq, 'self-referral' AS kind,
                   'self-referral: buyer ' || e.buyer || ' and beneficiary '
                   || e.beneficiary || ' share a '
                   || CASE WHEN ub.device_hash = ue.device_hash THEN 'device' ELSE 'phone' END
                   AS reason
            FROM open_entries e JOIN {rel.users} ub ON ub.user_id = e.buyer
            JOIN {rel.users} ue ON ue.user_id = e.beneficiary
            WHERE ub.device_hash = ue.device_hash OR ub.phone_hash = ue.phone_hash
            UNION ALL
            SELECT e.entry_id, e.seq, f.kind, f.detail FROM open_entries e
            JOIN {rel.flags} f ON f.user_id = e.beneficiary AND f.kind IN ('cycle', 'ring')
            UNION ALL
            SELECT e.entry_id, e.seq, f.kind, f.detail FROM open_entries e
            JOIN {rel.flags} f ON f.kind = 'velocity' AND f.user_id = e.beneficiary
                 AND f.other_id = e.buyer AND e.model = 'referral' AND e.level = 1
        )
        SELECT * FROM reasons"""
    )
    base = _max_seq(ledger, "referral_status")
    conn.execute(
        """CREATE OR REPLACE TEMP TABLE _holds AS
        SELECT $base + row_number() OVER (ORDER BY seq) AS status_seq, *
        FROM (SELECT entry_id, min(seq) AS seq,
                     string_agg(DISTINCT reason, '; ' ORDER BY reason) AS reason
              FROM _hold_reasons GROUP BY entry_id)""",
        {"base": base},
    )
    conn.execute(
        """INSERT INTO referral_status
        SELECT status_seq, entry_id, 'held', ?, NULL, 'system', reason FROM _holds""",
        [at],
    )
    conn.execute(
        """INSERT INTO referral_hold_checks
        SELECT DISTINCT h.status_seq, h.entry_id, r.kind
        FROM _holds h JOIN _hold_reasons r USING (entry_id)"""
    )
    return int(ledger.scalar("SELECT count(*) FROM _holds"))


def _reverse_refunds(
    ledger: Ledger, rel: Inputs, rules: CommissionRules, run: _Run
) -> tuple[int, int]:
    """Append reversal entries for refunds of attributed orders not yet processed."""
    conn = ledger.conn
    m = rules.minor_digits
    scale = 10**m
    conn.execute(
        f"""CREATE OR REPLACE TEMP TABLE _rf AS
        WITH new AS (
            SELECT r.* FROM (SELECT * FROM {rel.refunds}
                             QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY ts) = 1) r
            WHERE EXISTS (SELECT 1 FROM referral_orders o WHERE o.order_id = r.order_id)
              AND NOT EXISTS (SELECT 1 FROM referral_refunds x WHERE x.refund_event_id = r.event_id)
        ), done AS (SELECT order_id, sum(applied) AS prior FROM referral_refunds GROUP BY order_id)
        SELECT n.event_id, n.refund_id, n.order_id, n.ts, n.amount, o.amount AS order_amount,
               least(o.amount, coalesce(d.prior, 0) + sum(n.amount) OVER w - n.amount) AS before,
               least(o.amount, coalesce(d.prior, 0) + sum(n.amount) OVER w) AS after,
               {booking_period_sql("n.ts", run.timezone, run.last_closed)} AS period
        FROM new n JOIN referral_orders o USING (order_id) LEFT JOIN done d USING (order_id)
        WINDOW w AS (PARTITION BY n.order_id ORDER BY n.ts, n.event_id ROWS UNBOUNDED PRECEDING)"""
    )
    before, after = (
        refund_target_sql("e.amount", f"r.{c}", "r.order_amount", m) for c in ("before", "after")
    )
    base = _max_seq(ledger, "referral_entries")
    conn.execute(
        f"""CREATE OR REPLACE TEMP TABLE _rev AS
        SELECT e.entry_id AS orig, r.event_id, r.refund_id, r.ts, r.period, r.amount AS refund_amount,
               r.order_amount, r.after - r.before AS applied, e.seq, e.model, e.order_id, e.buyer,
               e.beneficiary, e.beneficiary_role, e.level, e.rule_version, e.rate, e.currency,
               e.payable_at, -(({after}) - ({before})) AS delta
        FROM _rf r JOIN referral_entries e ON e.order_id = r.order_id
             AND e.kind <> 'reversal' AND e.amount > 0
             AND NOT EXISTS (SELECT 1 FROM referral_superseded x WHERE x.entry_id = e.entry_id)
             AND NOT EXISTS (SELECT 1 FROM referral_voids x WHERE x.entry_id = e.entry_id)
        WHERE r.order_amount > 0"""
    )
    conn.execute(
        f"""INSERT INTO referral_entries
        SELECT md5(concat_ws('|', 'r', orig, event_id)),
               $base + row_number() OVER (ORDER BY ts, event_id, seq),
               'reversal', model, order_id, buyer, beneficiary, beneficiary_role, level,
               rule_version, applied::DECIMAL(20, 4), rate,
               (delta / {scale})::DECIMAL(20, 4), currency, ts, greatest(ts, payable_at), period,
               orig, event_id,
               format('refund {{}} of {{}} on order {{}} ({{}}): reverses {{}} of entry {{}}',
                      coalesce(refund_id, event_id), refund_amount, order_id, order_amount,
                      (-delta / {scale})::DECIMAL(20, 4), orig),
               $run_id
        FROM _rev WHERE delta <> 0""",
        {"base": base, "run_id": run.run_id},
    )
    reversals = int(
        ledger.scalar(
            "SELECT count(*) FROM referral_entries WHERE run_id = ? AND kind = 'reversal' "
            "AND refund_event_id IS NOT NULL",
            [run.run_id],
        )
    )
    conn.execute(
        f"""INSERT INTO referral_refunds
        SELECT r.event_id, r.refund_id, r.order_id, r.ts, r.amount, r.after - r.before,
               coalesce(v.total, 0), r.period, $run_id
        FROM _rf r LEFT JOIN (SELECT event_id, sum(delta) / {scale} AS total FROM _rev
                              GROUP BY event_id) v USING (event_id)""",
        {"run_id": run.run_id},
    )
    return int(ledger.scalar("SELECT count(*) FROM _rf")), reversals
