"""Ledger tables (migration component ``referral``).

The ledger is append-only: rows are inserted, never updated or deleted.

``referral_entries``
    one row per commission, bonus or reversal; amounts are ``DECIMAL(20, 4)``
    already rounded to the currency's minor unit. ``seq`` is a gapless,
    deterministic insertion order (the cursor of :func:`referral.service.list_entries`).
``referral_status``
    status transitions (``held``, ``released``, ``paid``, ``carried``) with who,
    when and why; ``pending``/``payable`` are derived from ``payable_at``.
``referral_orders`` / ``referral_refunds``
    every order and refund attribution has processed, with its total attributed
    (reversed) amount: the independent side of the reconciliation.
``referral_periods`` / ``referral_balances``
    closed periods and each beneficiary's opening, accrued, paid and closing balance.
``referral_rules`` / ``referral_runs`` / ``referral_flags``
    rule versions seen, attribution runs, fraud findings per run.
``referral_seen_referrals`` (v2)
    every referral event an attribution run has seen: a referral not in it is new,
    and the orders it may re-bind are re-examined (:mod:`referral.reattribution`).
``referral_hold_checks`` (v4)
    the fraud checks (``self-referral``, ``cycle``, ``ring``, ``velocity``) behind each
    hold, one row per hold and check (:data:`referral.ledger_query.HOLD_CHECKS`).
``referral_reattributions`` / ``referral_superseded`` (v2)
    one row per correction of an already attributed order (what it reversed and
    booked, where and why), and the entries a correction netted to zero (they take
    no further refund reversals).
``referral_close_marks`` (v3)
    the last entry and status ``seq`` of each close: a closed period is reported as
    the ledger stood then (a release after the close does not change its report).
``referral_voids`` (v3)
    held commissions voided (rejected) by a person: the reversal entry booked, who,
    when and why. The void is an entry like any other; the commission takes no
    further refund reversals.
"""

from __future__ import annotations

from graph.migrations import Migration

__all__ = ["MIGRATIONS", "COMPONENT"]

COMPONENT = "referral"

#: How holds before v3 named their checks in the reason text (read once by migration 3).
_LEGACY_CHECKS = ", ".join(
    f"('{kind}', '{words}')"
    for kind, words in (
        ("self-referral", "self-referral"),
        ("cycle", "referral cycle"),
        ("ring", "ring of"),
        ("velocity", "velocity"),
    )
)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "commission ledger: entries, status transitions, orders, refunds, periods, balances",
        (
            """CREATE TABLE referral_rules (
                version    VARCHAR NOT NULL,
                digest     VARCHAR NOT NULL,
                body       VARCHAR NOT NULL
            )""",
            """CREATE TABLE referral_runs (
                run_id        VARCHAR NOT NULL,
                rule_version  VARCHAR NOT NULL,
                as_of         TIMESTAMPTZ,
                orders_new    BIGINT NOT NULL,
                entries_new   BIGINT NOT NULL,
                refunds_new   BIGINT NOT NULL,
                reversals_new BIGINT NOT NULL,
                holds_new     BIGINT NOT NULL,
                details       VARCHAR
            )""",
            """CREATE TABLE referral_entries (
                entry_id         VARCHAR NOT NULL,
                seq              BIGINT NOT NULL,
                kind             VARCHAR NOT NULL,
                model            VARCHAR NOT NULL,
                order_id         VARCHAR NOT NULL,
                buyer            VARCHAR NOT NULL,
                beneficiary      VARCHAR NOT NULL,
                beneficiary_role VARCHAR NOT NULL,
                level            INTEGER NOT NULL,
                rule_version     VARCHAR NOT NULL,
                basis            DECIMAL(20, 4) NOT NULL,
                rate             DECIMAL(9, 6),
                amount           DECIMAL(20, 4) NOT NULL,
                currency         VARCHAR NOT NULL,
                event_ts         TIMESTAMPTZ NOT NULL,
                payable_at       TIMESTAMPTZ NOT NULL,
                period           VARCHAR NOT NULL,
                orig_entry_id    VARCHAR,
                refund_event_id  VARCHAR,
                reason           VARCHAR NOT NULL,
                run_id           VARCHAR NOT NULL
            )""",
            """CREATE TABLE referral_status (
                seq      BIGINT NOT NULL,
                entry_id VARCHAR NOT NULL,
                status   VARCHAR NOT NULL,
                ts       TIMESTAMPTZ NOT NULL,
                period   VARCHAR,
                actor    VARCHAR NOT NULL,
                reason   VARCHAR
            )""",
            """CREATE TABLE referral_orders (
                order_id   VARCHAR NOT NULL,
                buyer      VARCHAR NOT NULL,
                ts         TIMESTAMPTZ NOT NULL,
                amount     DECIMAL(20, 4) NOT NULL,
                currency   VARCHAR NOT NULL,
                period     VARCHAR NOT NULL,
                outcome    VARCHAR NOT NULL,
                commission DECIMAL(20, 4) NOT NULL,
                run_id     VARCHAR NOT NULL
            )""",
            """CREATE TABLE referral_refunds (
                refund_event_id VARCHAR NOT NULL,
                refund_id       VARCHAR,
                order_id        VARCHAR NOT NULL,
                ts              TIMESTAMPTZ NOT NULL,
                amount          DECIMAL(20, 4) NOT NULL,
                applied         DECIMAL(20, 4) NOT NULL,
                reversed        DECIMAL(20, 4) NOT NULL,
                period          VARCHAR NOT NULL,
                run_id          VARCHAR NOT NULL
            )""",
            """CREATE TABLE referral_periods (
                period    VARCHAR NOT NULL,
                start_ts  TIMESTAMPTZ NOT NULL,
                end_ts    TIMESTAMPTZ NOT NULL,
                timezone  VARCHAR NOT NULL,
                closed_at TIMESTAMPTZ NOT NULL,
                closed_by VARCHAR NOT NULL
            )""",
            """CREATE TABLE referral_balances (
                period      VARCHAR NOT NULL,
                beneficiary VARCHAR NOT NULL,
                currency    VARCHAR NOT NULL,
                opening     DECIMAL(20, 4) NOT NULL,
                accrued     DECIMAL(20, 4) NOT NULL,
                paid        DECIMAL(20, 4) NOT NULL,
                closing     DECIMAL(20, 4) NOT NULL
            )""",
            """CREATE TABLE referral_flags (
                run_id  VARCHAR NOT NULL,
                kind    VARCHAR NOT NULL,
                user_id VARCHAR NOT NULL,
                other_id VARCHAR,
                detail  VARCHAR NOT NULL
            )""",
        ),
    ),
    Migration(
        2,
        "re-attribution: referral events seen, corrections of attributed orders",
        (
            """CREATE TABLE referral_seen_referrals (
                event_id VARCHAR NOT NULL,
                referee  VARCHAR NOT NULL,
                run_id   VARCHAR NOT NULL
            )""",
            """CREATE TABLE referral_reattributions (
                order_id     VARCHAR NOT NULL,
                revision     INTEGER NOT NULL,
                rule_version VARCHAR NOT NULL,
                period       VARCHAR NOT NULL,
                ts           TIMESTAMPTZ NOT NULL,
                reversed     DECIMAL(20, 4) NOT NULL,
                booked       DECIMAL(20, 4) NOT NULL,
                entries      BIGINT NOT NULL,
                reason       VARCHAR NOT NULL,
                run_id       VARCHAR NOT NULL
            )""",
            """CREATE TABLE referral_superseded (
                entry_id VARCHAR NOT NULL,
                order_id VARCHAR NOT NULL,
                revision INTEGER NOT NULL,
                run_id   VARCHAR NOT NULL
            )""",
        ),
    ),
    Migration(
        3,
        "finance: as-of marks of each close, voided holds",
        (
            """CREATE TABLE referral_close_marks (
                period     VARCHAR NOT NULL,
                entry_seq  BIGINT NOT NULL,
                status_seq BIGINT NOT NULL
            )""",
            """CREATE TABLE referral_voids (
                entry_id      VARCHAR NOT NULL,
                void_entry_id VARCHAR NOT NULL,
                amount        DECIMAL(20, 4) NOT NULL,
                ts            TIMESTAMPTZ NOT NULL,
                actor         VARCHAR NOT NULL,
                reason        VARCHAR NOT NULL
            )""",
        ),
    ),
    Migration(
        4,
        "hold checks: the fraud checks behind each hold, as kinds",
        (
            """CREATE TABLE referral_hold_checks (
                status_seq BIGINT NOT NULL,
                entry_id   VARCHAR NOT NULL,
                kind       VARCHAR NOT NULL
            )""",
            # holds booked before v4 keep their checks as named in their reason (once, here)
            f"""INSERT INTO referral_hold_checks
            SELECT s.seq, s.entry_id, c.kind FROM referral_status s
            JOIN (VALUES {_LEGACY_CHECKS}) c(kind, words) ON strpos(s.reason, c.words) > 0
            WHERE s.status = 'held'""",
        ),
    ),
)
