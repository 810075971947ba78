"""Candidate commission rows for new orders, before caps and holds (all in DuckDB SQL).

Inputs: the relation of the orders to attribute (eligible new orders from
:mod:`referral.attribution`, or the orders :mod:`referral.reattribution`
re-examines) and the run's :class:`referral.inputs.Inputs` (referral events, the
binding referral of each referee, users, views, forwards). Output: the relation of
candidate rows, one per (order, model, level, kind), which :func:`cap_sql` caps.

Referral model
    Level 1 is the referrer the buyer is *bound* to at the order time
    (:class:`referral.rules.BindingRule`): among the buyer's referral touches
    (``referral`` events naming the buyer as referee, self-referrals dropped) made
    at most ``window_days`` before the order, ``first_touch`` takes the earliest,
    ``last_touch`` the latest, ``signup_only`` only ever considers the buyer's first
    referral. With ``exclusive`` a touch is ignored when another referrer touched the
    same buyer in the ``window_days`` before it (or at any time before it when the
    window is 0 = unlimited): a bound referee is not stolen. Levels 2 and 3 walk up
    the referral tree from the level-1 referrer (the first referral of each user
    defines the tree, as :meth:`graph.store.GraphStore.upline`); a user already on
    the path (the buyer included) stops the walk.
Share model
    The order credits the sharer of the share the buyer viewed last within
    ``share.window_days`` before the order (only views of the order's
    ``attribution_token`` when it has one, or always with ``require_token``). The
    commission is ``amount * rate(sharer role)``; with a split it is divided over
    the forward chain (the sharer, who got the content from ``from_user`` of their
    latest earlier forward of it, and so on, at most ``chain_depth`` people) by
    :func:`referral.split.split_minor`, exactly.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa

from referral.inputs import Inputs, Relation
from referral.rules import ROLES, CommissionRules
from referral.split import split_minor, time_decay_weights

__all__ = ["CAND_COLUMNS", "build_candidates", "cap_sql", "apply_caps"]

#: The capped candidate rows (:func:`apply_caps`).
_CAPPED = Relation("_capped")

#: Columns of the candidate rows.
CAND_COLUMNS = (
    "order_id, buyer, order_ts, period, basis, model, mrank, level, kind, krank, "
    "beneficiary, role, rate, raw, reason"
)
_ROLE_SQL = "CASE WHEN u.role IN ({}) THEN u.role ELSE 'consumer' END".format(
    ", ".join(f"'{r}'" for r in ROLES)
)


def _within(col: str, ref: str, days: int) -> str:
    return f"{col} <= {ref}" + (f" AND {col} >= {ref} - INTERVAL {int(days)} DAY" if days else "")


def _rate_tables(conn: duckdb.DuckDBPyConnection, rules: CommissionRules) -> None:
    roles, levels, rates, bonus, share = [], [], [], [], []
    for role in ROLES:
        for level in range(1, rules.levels + 1):
            roles.append(role)
            levels.append(level)
            rates.append(rules.rate(role, level))
            bonus.append(rules.bonus_for(role) if level == 1 else 0)
            share.append(rules.share_rate(role))
    conn.register(
        "_rates",
        pa.table(
            {
                "role": roles,
                "level": pa.array(levels, pa.int32()),
                "rate": pa.array(rates, pa.decimal128(9, 6)),
                "bonus": pa.array(bonus, pa.decimal128(20, 4)),
                "share_rate": pa.array(share, pa.decimal128(9, 6)),
            }
        ),
    )


def _referral(
    conn: duckdb.DuckDBPyConnection, rules: CommissionRules, elig: Relation, rel: Inputs
) -> None:
    b, m = rules.binding, rules.minor_digits
    touches = rel.first_referrals if b.mode == "signup_only" else rel.referrals
    conn.execute(
        f"""CREATE OR REPLACE TEMP TABLE _touch AS
        SELECT referrer, referee, ts, event_id FROM {touches} WHERE referrer <> referee"""
    )
    if b.exclusive and b.mode != "signup_only":
        back = f"AND o.ts >= t.ts - INTERVAL {b.window_days} DAY" if b.window_days else ""
        conn.execute(
            f"""DELETE FROM _touch t WHERE EXISTS (
                SELECT 1 FROM _touch o WHERE o.referee = t.referee AND o.referrer <> t.referrer
                AND (o.ts < t.ts OR (o.ts = t.ts AND o.event_id < t.event_id)) {back})"""
        )
    direction = "DESC" if b.mode == "last_touch" else "ASC"
    conn.execute(
        f"""CREATE OR REPLACE TEMP TABLE _bind AS
        SELECT o.order_id, t.referrer AS b1, t.ts AS bound_at
        FROM {elig} o JOIN _touch t ON t.referee = o.buyer AND {_within("t.ts", "o.ts", b.window_days)}
        QUALIFY row_number() OVER (PARTITION BY o.order_id ORDER BY t.ts {direction},
                                   t.event_id {direction}) = 1"""
    )
    conn.execute(
        "CREATE OR REPLACE TEMP TABLE _parent AS "
        f"SELECT referee AS child, referrer AS parent FROM {rel.first_referrals}"
    )
    # walk up to `levels` beneficiaries; a user already on the path stops the walk
    joins, cols, path = [], ["b.b1 AS b1"], ["buyer", "b1"]
    for k in range(2, rules.levels + 1):
        prev = "b.b1" if k == 2 else f"p{k - 1}.parent"
        joins.append(f"LEFT JOIN _parent p{k} ON p{k}.child = {prev}")
        cols.append(f"p{k}.parent AS r{k}")
    conn.execute(
        f"""CREATE OR REPLACE TEMP TABLE _walk AS
        SELECT o.*, b.bound_at, {", ".join(cols)}
        FROM {elig} o JOIN _bind b USING (order_id) {" ".join(joins)}"""
    )
    for k in range(2, rules.levels + 1):
        stop = f"b{k - 1} IS NULL OR r{k} IN ({', '.join(path)})"
        conn.execute(f"ALTER TABLE _walk ADD COLUMN b{k} VARCHAR")
        conn.execute(f"UPDATE _walk SET b{k} = CASE WHEN {stop} THEN NULL ELSE r{k} END")
        path.append(f"b{k}")
    rows = " UNION ALL ".join(
        f"SELECT *, {k} AS level, b{k} AS beneficiary FROM _walk WHERE b{k} IS NOT NULL"
        for k in range(1, rules.levels + 1)
    )
    excl = (
        "AND NOT (u.role = 'employee' AND r.store_id IS NOT NULL AND r.store_id = u.store_id)"
        if rules.exclude_employee_own_store
        else ""
    )
    conn.execute(
        f"""CREATE OR REPLACE TEMP TABLE _cand_ref AS
        SELECT r.order_id, r.buyer, r.ts AS order_ts, r.period, r.amount AS basis,
               'referral' AS model, 0 AS mrank, r.level::INTEGER AS level,
               'commission' AS kind, 0 AS krank, r.beneficiary,
               coalesce(u.role, 'unknown') AS role, rt.rate,
               round(r.amount * rt.rate, {m})::DECIMAL(20, 4) AS raw,
               CASE WHEN r.level = 1
                    THEN format('level 1 referral: buyer {{}} bound to {{}} ({b.mode}, referral of {{}})',
                                r.buyer, r.beneficiary, strftime(r.bound_at, '%Y-%m-%d'))
                    ELSE format('level {{}} referral: {{}} is level {{}} upline of buyer {{}}',
                                r.level, r.beneficiary, r.level, r.buyer) END AS reason,
               rt.bonus
        FROM (SELECT * FROM ({rows})) r
        LEFT JOIN {rel.users} u ON u.user_id = r.beneficiary
        JOIN _rates rt ON rt.role = {_ROLE_SQL} AND rt.level = r.level
        WHERE true {excl}"""
    )
    # flat bonus: the referee's first new commissioned order per level-1 referrer
    conn.execute(
        f"""INSERT INTO _cand_ref
        SELECT order_id, buyer, order_ts, period, basis, model, mrank, level, 'bonus', 1,
               beneficiary, role, NULL, bonus,
               format('bonus: {{}} converted referee {{}}', beneficiary, buyer), bonus
        FROM _cand_ref c
        WHERE level = 1 AND kind = 'commission' AND bonus > 0
          AND NOT EXISTS (SELECT 1 FROM referral_entries e WHERE e.kind = 'bonus'
                          AND e.beneficiary = c.beneficiary AND e.buyer = c.buyer
                          AND NOT EXISTS (SELECT 1 FROM {elig} x WHERE x.order_id = e.order_id)
                          AND NOT EXISTS (SELECT 1 FROM referral_superseded s
                                          WHERE s.entry_id = e.entry_id))
        QUALIFY row_number() OVER (PARTITION BY beneficiary, buyer ORDER BY order_ts, order_id) = 1"""
    )


def _share(
    conn: duckdb.DuckDBPyConnection, rules: CommissionRules, elig: Relation, rel: Inputs
) -> None:
    s, m = rules.share, rules.minor_digits
    token = (
        "v.content_id = o.token"
        if s.require_token
        else "(o.token IS NULL OR v.content_id = o.token)"
    )
    conn.execute(
        f"""CREATE OR REPLACE TEMP TABLE _chain AS
        SELECT o.order_id, o.buyer, o.ts, o.amount, o.period, v.content_id AS content,
               0 AS k, v.sharer AS member, v.ts AS touch_ts, v.sharer AS m0, v.ts AS viewed_at
        FROM {elig} o JOIN {rel.views} v ON v.viewer = o.buyer AND {_within("v.ts", "o.ts", s.window_days)}
             AND v.sharer <> o.buyer AND {token}
        QUALIFY row_number() OVER (PARTITION BY o.order_id ORDER BY v.ts DESC, v.event_id DESC) = 1"""
    )
    depth = s.chain_depth if s.split != "none" else 1
    for k in range(1, depth):
        conn.execute(
            f"""INSERT INTO _chain
            SELECT * FROM (
                SELECT c.order_id, c.buyer, c.ts, c.amount, c.period, c.content, {k},
                       f.from_user, f.ts, c.m0, c.viewed_at
                FROM _chain c JOIN {rel.forwards} f ON f.forwarder = c.member
                     AND f.content_id = c.content AND f.ts <= c.touch_ts
                WHERE c.k = {k - 1}
                QUALIFY row_number() OVER (PARTITION BY c.order_id
                                           ORDER BY f.ts DESC, f.event_id DESC) = 1
            ) n
            WHERE n.from_user <> n.buyer AND NOT EXISTS (
                SELECT 1 FROM _chain x WHERE x.order_id = n.order_id AND x.member = n.from_user)"""
        )
    arrays = conn.sql(
        f"""SELECT dense_rank() OVER (ORDER BY c.order_id) AS g, c.k,
                   (epoch_us(c.ts) - epoch_us(c.touch_ts))::BIGINT AS age,
                   (round(c.amount * rt.share_rate, {m}) * {10**m})::BIGINT AS total
            FROM _chain c LEFT JOIN {rel.users} u ON u.user_id = c.m0
            JOIN _rates rt ON rt.role = {_ROLE_SQL} AND rt.level = 1
            ORDER BY c.order_id, c.k"""
    ).fetchnumpy()
    g = np.asarray(arrays["g"], dtype=np.int64)
    weights = (
        time_decay_weights(arrays["age"], s.half_life_days) if s.split == "time_decay" else None
    )
    parts = split_minor(np.asarray(arrays["total"], dtype=np.int64), g, weights)
    conn.register(
        "_parts",
        pa.table({"g": g, "k": np.asarray(arrays["k"], dtype=np.int32), "part": parts}),
    )
    conn.execute(
        f"""CREATE OR REPLACE TEMP TABLE _cand_share AS
        WITH c AS (SELECT dense_rank() OVER (ORDER BY order_id) AS g, count(*) OVER
                          (PARTITION BY order_id) AS n, * FROM _chain)
        SELECT c.order_id, c.buyer, c.ts AS order_ts, c.period, c.amount AS basis,
               'share' AS model, 1 AS mrank, (c.k + 1)::INTEGER AS level, 'commission' AS kind,
               0 AS krank, c.member AS beneficiary, coalesce(u.role, 'unknown') AS role,
               rt.share_rate AS rate, (p.part / {10**m})::DECIMAL(20, 4) AS raw,
               format('share-to-buy: buyer {{}} viewed {{}}''s share of {{}} on {{}}; '
                      || 'chain member {{}} of {{}} ({s.split})', c.buyer, c.m0, c.content,
                      strftime(c.viewed_at, '%Y-%m-%d'), c.k + 1, c.n) AS reason
        FROM c JOIN _parts p ON p.g = c.g AND p.k = c.k
        LEFT JOIN {rel.users} u0 ON u0.user_id = c.m0
        JOIN _rates rt ON rt.role = (CASE WHEN u0.role IN ({", ".join(f"'{r}'" for r in ROLES)})
                                     THEN u0.role ELSE 'consumer' END) AND rt.level = 1
        LEFT JOIN {rel.users} u ON u.user_id = c.member"""
    )
    conn.unregister("_parts")


def build_candidates(
    conn: duckdb.DuckDBPyConnection, rules: CommissionRules, orders: Relation, inputs: Inputs
) -> Relation:
    """The candidate rows (see the module docstring) of ``orders``, a relation like the
    eligible new orders, over the run's ``inputs``."""
    _rate_tables(conn, rules)
    parts = []
    if rules.levels >= 1 and any(rules.rate(r, 1) > 0 or rules.bonus_for(r) > 0 for r in ROLES):
        _referral(conn, rules, orders, inputs)
        parts.append(f"SELECT {CAND_COLUMNS} FROM _cand_ref")
    if rules.share.enabled:
        _share(conn, rules, orders, inputs)
        parts.append(f"SELECT {CAND_COLUMNS} FROM _cand_share")
    if not parts:
        parts.append(
            f"SELECT {CAND_COLUMNS} FROM (SELECT NULL::VARCHAR AS order_id, NULL::VARCHAR AS buyer, "
            "NULL::TIMESTAMPTZ AS order_ts, NULL::VARCHAR AS period, NULL::DECIMAL(20,4) AS basis, "
            "NULL::VARCHAR AS model, 0 AS mrank, 0 AS level, NULL::VARCHAR AS kind, 0 AS krank, "
            "NULL::VARCHAR AS beneficiary, NULL::VARCHAR AS role, NULL::DECIMAL(9,6) AS rate, "
            "NULL::DECIMAL(20,4) AS raw, NULL::VARCHAR AS reason) WHERE false"
        )
    cand = Relation("_cand")
    conn.execute(f"CREATE OR REPLACE TEMP VIEW {cand} AS {' UNION ALL '.join(parts)}")
    return cand


def cap_sql(rules: CommissionRules, candidates: Relation, orders: Relation) -> str:
    """SQL creating relation ``_capped`` (``candidates`` plus the capped ``amount``).

    Caps apply in this order, each to what the previous one left: per order per
    beneficiary (``cap_per_order_per_beneficiary``: the most one beneficiary earns from one
    order, over all their entries), per order (``cap_per_order``: the most an order pays
    out in total), per beneficiary and period. Within an order entries are served in
    the order of service (referral before share, level 1 first, commission before
    bonus). Window sums are only computed for the caps that are configured. The
    per-beneficiary cap counts the period's earlier entries except those of the
    orders being (re-)attributed (``orders``): a re-examined order does not compete
    with its own earlier entries.
    """
    serve = "ORDER BY mrank, level, krank ROWS UNBOUNDED PRECEDING"  # order of service
    steps = []
    if rules.cap_per_order_per_beneficiary is not None:
        cap_b = rules.cap_per_order_per_beneficiary
        steps.append(
            f"""cb AS (
            SELECT * EXCLUDE (cumb),
                   greatest(0, least(raw, {cap_b} - (cumb - raw)))::DECIMAL(20, 4) AS amt0
            FROM (SELECT *, sum(raw) OVER (PARTITION BY order_id, beneficiary {serve}) AS cumb
                  FROM {candidates}))"""
        )
    else:
        steps.append(f"cb AS (SELECT *, raw AS amt0 FROM {candidates})")
    steps.append("c0 AS (SELECT *, amt0 AS amt1 FROM cb)")
    if rules.cap_per_order is not None:
        steps[-1] = f"""c0 AS (
            SELECT * EXCLUDE (cum1),
                   greatest(0, least(amt0, {rules.cap_per_order} - (cum1 - amt0)))::DECIMAL(20, 4)
                   AS amt1
            FROM (SELECT *, sum(amt0) OVER (PARTITION BY order_id {serve}) AS cum1 FROM cb))"""
    if rules.cap_per_beneficiary_period is None:
        final = "SELECT *, amt1 AS amount FROM c0"
    else:
        steps.append(
            f"""prior AS (
            SELECT beneficiary, period, sum(amount) AS prior FROM referral_entries e
            WHERE kind <> 'reversal'
              AND NOT EXISTS (SELECT 1 FROM {orders} x WHERE x.order_id = e.order_id)
            GROUP BY ALL)"""
        )
        steps.append(
            """c1 AS (
            SELECT c0.*, coalesce(p.prior, 0) AS prior,
                   sum(amt1) OVER (PARTITION BY c0.beneficiary, c0.period
                                   ORDER BY order_ts, order_id, mrank, level, krank
                                   ROWS UNBOUNDED PRECEDING) AS cum2
            FROM c0 LEFT JOIN prior p USING (beneficiary, period))"""
        )
        cap = rules.cap_per_beneficiary_period
        final = f"""SELECT * EXCLUDE (prior, cum2),
            greatest(0, least(amt1, {cap} - prior - (cum2 - amt1)))::DECIMAL(20, 4) AS amount
            FROM c1"""
    # materialize when windows are involved (the result is read twice); a view otherwise
    windows = (
        rules.cap_per_order,
        rules.cap_per_order_per_beneficiary,
        rules.cap_per_beneficiary_period,
    )
    kind = "VIEW" if all(c is None for c in windows) else "TABLE"
    return f"CREATE OR REPLACE TEMP {kind} {_CAPPED} AS WITH {', '.join(steps)} {final}"


def apply_caps(
    conn: duckdb.DuckDBPyConnection, rules: CommissionRules, candidates: Relation, orders: Relation
) -> Relation:
    """The capped candidate rows (:func:`cap_sql`) as a relation."""
    conn.execute(cap_sql(rules, candidates, orders))
    return _CAPPED
