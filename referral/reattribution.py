"""Re-attribution: correct attributed orders when a referral arrives late.

An order is attributed once, by the run that first sees it. A referral event
ingested *later* but dated before the order can change who the buyer was bound to
(level 1) or who stands above the level-1 referrer in the referral tree (levels 2
and 3). Each attribution run therefore, before attributing new orders:

1. **finds the new referral events**: those not in ``referral_seen_referrals``
   (then records them there);
2. **picks the orders they may affect**, with set operations only:

   * orders of a referee of a new referral, placed at or after that referral
     (a touch only binds orders after it; with ``exclusive`` it can only
     un-bind later touches);
   * every order of a buyer touched by a user whose *tree parent* changed (the
     new referral is now the referee's first one), or by a child of such a user:
     their level-2 or level-3 beneficiary may have changed;

3. **recomputes** those orders' candidate entries with the rules version they were
   attributed under (``referral_orders.run_id`` -> ``referral_runs.rule_version``
   -> ``referral_rules.body``), current inputs, the same SQL as a first attribution
   (:mod:`referral.candidates`) and the same caps (the order's own earlier entries
   do not use up its beneficiaries' period cap);
4. **compares** them with the order's current entries key by key ``(model, level,
   kind)``: a key whose beneficiary or amount differs is corrected, the others
   stay. A correction appends

   * a ``reversal`` of each old entry by what is left of it (its amount plus the
     reversals already booked against it, refunds included), netting it to zero;
     the old entry is recorded in ``referral_superseded`` and takes no further
     refund reversals;
   * the new entry (``commission`` or ``bonus``) at the full recomputed amount;
   * when refunds ``R`` of the order (amount ``A``) were already applied, a
     ``reversal`` of the new entry by ``round_half_up(c * min(R, A) / A)``, exactly
     what refunds would have reversed had it been booked from the start; later
     refunds continue from there, so a full refund still nets the order to zero.

   Corrections are booked in the order's own period, or in the first open period
   when that one is closed; their reason starts with ``re-attributed: referral
   arrived late``. One ``referral_reattributions`` row per corrected order records
   what was reversed and booked (the independent side of the reconciliation).

New entries get fraud holds like any other (the run's hold step follows). Rerunning
adds nothing: a referral is new only once.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from referral.candidates import apply_caps, build_candidates
from referral.inputs import Inputs, Relation
from referral.ledger import Ledger, refund_target_sql
from referral.periods import booking_period_sql
from referral.rules import CommissionRules

__all__ = ["REASON", "ReattributionResult", "reattribute"]

#: Prefix of the reason of every correction entry.
REASON = "re-attributed: referral arrived late"


@dataclass(frozen=True)
class ReattributionResult:
    """What one run's re-examination did."""

    referrals_new: int = 0
    orders_reexamined: int = 0
    orders_corrected: int = 0
    entries_new: int = 0
    reversals_new: int = 0
    booked: Decimal = Decimal(0)
    reversed: Decimal = Decimal(0)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict (amounts as strings)."""
        d = asdict(self)
        d["booked"], d["reversed"] = str(self.booked), str(self.reversed)
        return d


def _rules_of(ledger: Ledger, version: str) -> CommissionRules:
    body = ledger.scalar("SELECT body FROM referral_rules WHERE version = ?", [version])
    return CommissionRules.model_validate(json.loads(body))


def _find_orders(ledger: Ledger, rel: Inputs, tz: str, last_closed: str | None) -> int:
    """Create ``_ref_new`` (new referral events) and ``_re_orders`` (orders to re-examine)."""
    conn = ledger.conn
    conn.execute(
        f"""CREATE OR REPLACE TEMP TABLE _ref_new AS
        SELECT event_id, any_value(referee) AS referee, min(ts) AS ts FROM {rel.referrals} r
        WHERE NOT EXISTS (SELECT 1 FROM referral_seen_referrals s WHERE s.event_id = r.event_id)
        GROUP BY event_id"""
    )
    n_new = int(ledger.scalar("SELECT count(*) FROM _ref_new"))
    if n_new == 0 or not ledger.scalar("SELECT count(*) > 0 FROM referral_orders"):
        conn.execute(
            "CREATE OR REPLACE TEMP TABLE _re_orders AS SELECT NULL AS order_id WHERE false"
        )
        return n_new
    # tree parent (first referral) of the new referees and of the users they referred
    # (filtered before the window: the cost follows the new referrals, not the history)
    conn.execute(
        f"""CREATE OR REPLACE TEMP TABLE _re_parent AS
        WITH who AS (SELECT referee FROM _ref_new
                     UNION SELECT r.referee FROM {rel.referrals} r
                     WHERE r.referrer IN (SELECT referee FROM _ref_new))
        SELECT referee, referrer, event_id FROM {rel.first_referrals}
        WHERE referee IN (SELECT referee FROM who)"""
    )
    conn.execute(
        f"""CREATE OR REPLACE TEMP TABLE _re_ids AS
        WITH touched AS (SELECT referee AS buyer, min(ts) AS since FROM _ref_new GROUP BY 1),
        moved AS (  -- users whose tree parent is a new referral
            SELECT p.referee AS user_id FROM _re_parent p JOIN _ref_new n USING (event_id)),
        below AS (  -- level-1 referrers whose level 2 or 3 may have changed
            SELECT user_id FROM moved
            UNION SELECT p.referee FROM _re_parent p JOIN moved m ON p.referrer = m.user_id),
        buyers AS (SELECT DISTINCT r.referee AS buyer FROM {rel.referrals} r
                   JOIN below b ON r.referrer = b.user_id)
        SELECT o.order_id FROM referral_orders o LEFT JOIN touched t ON t.buyer = o.buyer
        WHERE o.outcome IN ('attributed', 'no beneficiary')
          AND (o.ts >= t.since OR o.buyer IN (SELECT buyer FROM buyers))"""
    )
    conn.execute(
        f"""CREATE OR REPLACE TEMP TABLE _re_orders AS
        WITH ev AS (SELECT order_id, attribution_token AS token, store_id FROM {rel.orders}
                    WHERE order_id IN (SELECT order_id FROM _re_ids)
                    QUALIFY row_number() OVER (PARTITION BY order_id ORDER BY ts, event_id) = 1)
        SELECT o.order_id, o.buyer, o.amount, o.currency, o.ts, ev.token, ev.store_id,
               {booking_period_sql("o.ts", tz, last_closed)} AS period,
               ru.rule_version
        FROM referral_orders o JOIN referral_runs ru USING (run_id) JOIN ev USING (order_id)
        WHERE o.order_id IN (SELECT order_id FROM _re_ids)"""
    )
    return n_new


def _compare(ledger: Ledger, share_inputs: bool, elig: Relation, capped: Relation) -> None:
    """Create ``_re_diff``: the changed keys of the re-examined orders of one rules version."""
    models = "" if share_inputs else "AND model = 'referral'"
    ledger.conn.execute(
        f"""CREATE OR REPLACE TEMP TABLE _re_diff AS
        WITH old AS (
            SELECT e.*, coalesce(r.rev, 0) AS rev FROM referral_entries e
            LEFT JOIN (SELECT orig_entry_id, sum(amount) AS rev FROM referral_entries
                       WHERE kind = 'reversal' AND order_id IN (SELECT order_id FROM {elig})
                       GROUP BY 1) r ON r.orig_entry_id = e.entry_id
            WHERE e.kind <> 'reversal' AND e.order_id IN (SELECT order_id FROM {elig})
              AND NOT EXISTS (SELECT 1 FROM referral_superseded s WHERE s.entry_id = e.entry_id)
              {models}
        ), new AS (SELECT * FROM {capped} WHERE raw > 0 {models})
        SELECT coalesce(n.order_id, o.order_id) AS order_id,
               coalesce(n.model, o.model) AS model, coalesce(n.level, o.level) AS level,
               coalesce(n.kind, o.kind) AS kind, n.krank, n.mrank,
               o.entry_id AS old_id, o.beneficiary AS old_ben, o.amount AS old_amount,
               o.rev AS old_rev, o.payable_at AS old_payable, o.seq AS old_seq,
               o.beneficiary_role AS old_role, o.rate AS old_rate, o.basis AS old_basis,
               n.beneficiary AS new_ben, n.role AS new_role, n.rate AS new_rate,
               n.basis AS new_basis, n.amount AS new_amount, n.raw AS new_raw,
               n.reason AS new_reason
        FROM old o FULL JOIN new n
             ON n.order_id = o.order_id AND n.model = o.model AND n.level = o.level
             AND n.kind = o.kind
        WHERE o.beneficiary IS DISTINCT FROM n.beneficiary
           OR o.amount IS DISTINCT FROM n.amount"""
    )


def _book(
    ledger: Ledger, rules: CommissionRules, elig: Relation, run_id: str, at: datetime
) -> None:
    """Append the corrections of ``_re_diff`` (see the module docstring)."""
    conn = ledger.conn
    m = rules.minor_digits
    scale = 10**m
    conn.execute(
        f"""CREATE OR REPLACE TEMP TABLE _re_fix AS
        SELECT d.*, o.buyer, o.ts AS order_ts, o.amount AS order_amount, o.period,
               coalesce(rr.n, 0) + 1 AS revision,
               least(o.amount, coalesce(rf.applied, 0)) AS refunded
        FROM _re_diff d JOIN {elig} o USING (order_id)
        LEFT JOIN (SELECT order_id, count(*) AS n FROM referral_reattributions GROUP BY 1) rr
             USING (order_id)
        LEFT JOIN (SELECT order_id, sum(applied) AS applied FROM referral_refunds GROUP BY 1) rf
             USING (order_id)"""
    )
    base = ledger.scalar("SELECT coalesce(max(seq), 0) FROM referral_entries")
    new_id = "md5(concat_ws('|', 'a', order_id, model, level::VARCHAR, kind, revision::VARCHAR))"
    catch_up = refund_target_sql("new_amount", "refunded", "order_amount", m)
    old_name = "coalesce(old_ben, 'nobody')"
    new_name = "coalesce(new_ben, 'nobody')"
    conn.execute(
        f"""CREATE OR REPLACE TEMP TABLE _re_rows AS
        SELECT 0 AS phase, md5(concat_ws('|', 'x', old_id, revision::VARCHAR)) AS entry_id,
               'reversal' AS kind, model, order_id, buyer, old_ben AS beneficiary,
               old_role AS role, level, old_basis AS basis, old_rate AS rate,
               -(old_amount + old_rev) AS amount, order_ts, old_payable AS payable_at, period,
               old_id AS orig, format('{REASON}: order {{}} level {{}} {{}} {{}} now goes to {{}}; '
                      || 'reverses {{}} left of entry {{}}', order_id, level, model, kind,
                      {new_name}, (old_amount + old_rev)::DECIMAL(20, 4), old_id) AS reason,
               order_ts AS o_ts, coalesce(mrank, 0) AS mr, coalesce(krank, 0) AS kr, revision
        FROM _re_fix WHERE old_id IS NOT NULL AND old_amount + old_rev <> 0
        UNION ALL
        SELECT 1, {new_id}, kind, model, order_id, buyer, new_ben, new_role, level, new_basis,
               new_rate, new_amount, order_ts,
               order_ts + to_days(CAST($hold_days AS INTEGER)), period, NULL,
               format('{REASON} (was {{}}): ', {old_name}) || new_reason
               || CASE WHEN new_amount < new_raw THEN format(' (capped from {{}})', new_raw)
                       ELSE '' END,
               order_ts, mrank, krank, revision
        FROM _re_fix WHERE new_ben IS NOT NULL
        UNION ALL
        SELECT 2, md5(concat_ws('|', 'xr', {new_id})), 'reversal', model, order_id, buyer,
               new_ben, new_role, level, refunded, new_rate,
               (-({catch_up}) / {scale})::DECIMAL(20, 4), order_ts,
               order_ts + to_days(CAST($hold_days AS INTEGER)), period, {new_id},
               format('{REASON}: refunds of {{}} already applied to order {{}} ({{}}) reverse '
                      || '{{}} of the new entry', refunded, order_id, order_amount,
                      (({catch_up}) / {scale})::DECIMAL(20, 4)),
               order_ts, mrank, krank, revision
        FROM _re_fix WHERE new_ben IS NOT NULL AND refunded > 0 AND new_amount > 0
             AND order_amount > 0 AND ({catch_up}) <> 0""",
        {"hold_days": rules.effective_hold_days},
    )
    conn.execute(
        """INSERT INTO referral_entries
        SELECT entry_id, $base + row_number() OVER (ORDER BY o_ts, order_id, phase, mr, level, kr),
               kind, model, order_id, buyer, beneficiary, coalesce(role, 'unknown'), level,
               $version, basis, rate, amount::DECIMAL(20, 4), $currency,
               order_ts, payable_at, period, orig, NULL, reason, $run_id
        FROM _re_rows""",
        {"base": base, "version": rules.version, "currency": rules.currency, "run_id": run_id},
    )
    conn.execute(
        "INSERT INTO referral_superseded "
        "SELECT old_id, order_id, revision, ? FROM _re_fix WHERE old_id IS NOT NULL",
        [run_id],
    )
    conn.execute(
        f"""INSERT INTO referral_reattributions
        SELECT f.order_id, f.revision, $version, f.period, $at,
               coalesce(r.reversed, 0), coalesce(r.booked, 0), coalesce(r.n, 0), f.reason,
               $run_id
        FROM (SELECT order_id, any_value(revision) AS revision, any_value(period) AS period,
                     '{REASON}: ' || string_agg(format('level {{}} {{}} {{}}: {{}} -> {{}}',
                         level, model, kind, {old_name}, {new_name}), '; '
                         ORDER BY model, level, kind) AS reason
              FROM _re_fix GROUP BY order_id) f
        LEFT JOIN (SELECT order_id, count(*) AS n,
                          sum(amount) FILTER (WHERE kind = 'reversal') AS reversed,
                          sum(amount) FILTER (WHERE kind <> 'reversal') AS booked
                   FROM _re_rows GROUP BY order_id) r USING (order_id)""",
        {"version": rules.version, "at": at, "run_id": run_id},
    )


def _drop(ledger: Ledger, name: str) -> None:
    """Drop temp table or view ``name`` if it exists (either kind)."""
    is_view = ledger.scalar(
        "SELECT count(*) FROM duckdb_views() WHERE temporary AND view_name = ?", [name]
    )
    ledger.conn.execute(f"DROP {'VIEW' if is_view else 'TABLE'} IF EXISTS {name}")


def reattribute(
    ledger: Ledger,
    inputs: Inputs,
    *,
    timezone: str,
    last_closed: str | None,
    run_id: str,
    at: datetime,
    share_inputs: bool,
) -> ReattributionResult:
    """Re-examine attributed orders a new referral may affect; append corrections.

    Runs inside the attribution transaction (see :func:`referral.attribution.attribute`).
    Records the new referral events as seen.

    Parameters
    ----------
    ledger : Ledger
    inputs : Inputs
        The run's input relations.
    timezone : str
        Zone of period boundaries.
    last_closed : str or None
        The latest closed period (corrections of its orders go to the next one).
    run_id : str
        The run (stored on every row appended).
    at : datetime
        The run's data clock (stored on the re-attribution rows).
    share_inputs : bool
        Whether views and forwards were read; when not, share-model entries are
        left as they are.

    Returns
    -------
    ReattributionResult
    """
    conn = ledger.conn
    n_new = _find_orders(ledger, inputs, timezone, last_closed)
    reexamined = int(ledger.scalar("SELECT count(*) FROM _re_orders"))
    first_seq = int(ledger.scalar("SELECT coalesce(max(seq), 0) FROM referral_entries"))
    if reexamined:
        versions = [
            r[0]
            for r in conn.execute(
                "SELECT DISTINCT rule_version FROM _re_orders ORDER BY 1"
            ).fetchall()
        ]
        for version in versions:
            rules = _rules_of(ledger, version)
            orders = Relation("_re_elig")
            conn.execute(
                f"CREATE OR REPLACE TEMP TABLE {orders} AS SELECT * EXCLUDE (rule_version) "
                "FROM _re_orders WHERE rule_version = ?",
                [version],
            )
            candidates = build_candidates(conn, rules, orders, inputs)
            capped = apply_caps(conn, rules, candidates, orders)
            _compare(ledger, share_inputs, orders, capped)
            _book(ledger, rules, orders, run_id, at)
            _drop(ledger, capped.name)  # a first attribution may recreate it as a view
    conn.execute(
        "INSERT INTO referral_seen_referrals SELECT event_id, referee, ? FROM _ref_new",
        [run_id],
    )
    corrected, booked = conn.execute(
        "SELECT count(*), coalesce(sum(booked), 0) FROM referral_reattributions WHERE run_id = ?",
        [run_id],
    ).fetchall()[0]
    entries, reversals, reversed_ = conn.execute(
        """SELECT count(*) FILTER (WHERE kind <> 'reversal'),
                  count(*) FILTER (WHERE kind = 'reversal'),
                  coalesce(sum(amount) FILTER (WHERE kind = 'reversal'), 0)
        FROM referral_entries WHERE seq > ?""",
        [first_seq],
    ).fetchall()[0]
    return ReattributionResult(
        n_new,
        reexamined,
        int(corrected),
        int(entries),
        int(reversals),
        Decimal(booked),
        Decimal(reversed_),
    )
