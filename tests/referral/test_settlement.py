"""Refunds, period closes, balances, holds and releases (hand-computed)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from graph.errors import ConflictError, NotFoundError, PolicyError
from referral.reconciliation import reconciliation
from referral.reports import statement
from referral.settlement import close_period
from tests.referral.conftest import World, day


def close(w: World, period: str) -> None:
    close_period(
        w.ledger, period, rules=w.rules, by="tester", closed_at=datetime(2026, 12, 1, tzinfo=UTC)
    )


def assert_reconciles(w: World, period: str) -> None:
    rec = reconciliation(w.ledger, period).to_pylist()
    assert rec and all(r["ok"] for r in rec), rec


def test_refund_partial_before_payout_reverses_proportionally(world: World) -> None:
    world.ev.user("a", "kol").user("b").referral("a", "b", day(0)).referral("b", "c", day(1))
    world.ev.order("O1", "c", "100.00", day(2)).refund("O1", "30.00", day(3))
    world.run()
    # b 5.00, a 2.00; refund 30% -> -1.50 and -0.60
    rev = world.amounts("reversal")
    assert rev == {("O1", "b", 1): D("-1.50"), ("O1", "a", 2): D("-0.60")}
    assert_reconciles(world, "2026-07")


def test_refund_full_in_thirds_nets_to_zero_exactly(world: World) -> None:
    world.ev.user("a", "kol").user("b").referral("a", "b", day(0)).referral("b", "c", day(1))
    world.ev.order("O1", "c", "66.60", day(2))
    world.run()
    # b: 5% of 66.60 = 3.33; a: 2% = 1.332 -> 1.33
    for i in range(3):
        world.ev.refund("O1", "22.20", day(3 + i))
        world.run()
    rev = [e for e in world.entries() if e["kind"] == "reversal" and e["beneficiary"] == "a"]
    # cumulative targets round(1.33 * k / 3) = 0.44, 0.89, 1.33 -> steps 0.44, 0.45, 0.44
    assert [e["amount"] for e in rev] == [D("-0.44"), D("-0.45"), D("-0.44")]
    net = {}
    for e in world.entries():
        net[e["beneficiary"]] = net.get(e["beneficiary"], D(0)) + e["amount"]
    assert net == {"a": D(0), "b": D(0)}
    assert {e["status"] for e in world.entries() if e["kind"] == "commission"} == {"reversed"}
    assert_reconciles(world, "2026-07")


def test_refund_above_order_amount_is_capped(world: World) -> None:
    world.ev.user("b").referral("b", "c", day(0)).order("O1", "c", "10.00", day(1))
    world.ev.refund("O1", "8.00", day(2)).refund("O1", "8.00", day(3))
    world.run()
    assert sum(e["amount"] for e in world.entries()) == D(0)


def test_refund_after_payout_carries_negative_balance(world: World) -> None:
    world.ev.user("b").referral("b", "c", day(0)).order("O1", "c", "100.00", day(2))
    world.run()
    close(world, "2026-07")
    st = statement(world.ledger, "b", "2026-07")
    assert (st.opening, st.accrued, st.paid, st.closing) == (D(0), D("5.00"), D("5.00"), D(0))
    world.ev.refund("O1", "100.00", day(40))  # 2026-08-10
    world.run()
    close(world, "2026-08")
    st = statement(world.ledger, "b", "2026-08")
    assert (st.opening, st.reversals, st.paid, st.closing) == (D(0), D("-5.00"), D(0), D("-5.00"))
    # the paid July entry is untouched
    paid = [e for e in world.entries() if e["kind"] == "commission"]
    assert paid[0]["status"] == "paid" and paid[0]["settled_period"] == "2026-07"
    world.ev.referral("b", "z", day(62)).order("O2", "z", "200.00", day(63))  # September
    world.run()
    close(world, "2026-09")
    st = statement(world.ledger, "b", "2026-09")
    # opening -5.00 + 10.00 accrued = 5.00 paid
    assert (st.opening, st.accrued, st.paid, st.closing) == (
        D("-5.00"),
        D("10.00"),
        D("5.00"),
        D(0),
    )
    for p in ("2026-07", "2026-08", "2026-09"):
        assert_reconciles(world, p)


def test_close_holding_period_defers_payment(world: World) -> None:
    world.ev.user("b").referral("b", "c", day(0)).order("O1", "c", "100.00", day(28))
    world.run()
    close(world, "2026-07")  # payable on Aug 5 (7-day refund window): not settled in July
    st = statement(world.ledger, "b", "2026-07")
    assert (st.paid, st.pending) == (D(0), D("5.00"))
    close(world, "2026-08")
    assert statement(world.ledger, "b", "2026-08").paid == D("5.00")


def test_close_min_payout_carries_small_balances(world: World) -> None:
    world.set_rules(min_payout="10")
    world.ev.user("b").referral("b", "c", day(0)).order("O1", "c", "100.00", day(1))
    world.run()
    close(world, "2026-07")
    st = statement(world.ledger, "b", "2026-07")
    assert (st.paid, st.closing) == (D(0), D("5.00"))
    world.ev.referral("b", "y", day(35)).order("O2", "y", "120.00", day(36))
    world.run()
    close(world, "2026-08")
    st = statement(world.ledger, "b", "2026-08")
    assert (st.opening, st.accrued, st.paid, st.closing) == (D("5.00"), D("6.00"), D("11.00"), D(0))


def test_close_late_events_go_to_next_open_period(world: World) -> None:
    world.ev.user("b").referral("b", "c", day(0)).order("O1", "c", "100.00", day(1))
    world.run()
    close(world, "2026-07")
    july = statement(world.ledger, "b", "2026-07")
    world.ev.order("LATE", "c", "40.00", day(5))  # a July order arriving after the close
    world.ev.refund("O1", "50.00", day(6))
    world.run()
    late = {e["order_id"] + e["kind"]: e["period"] for e in world.entries()}
    assert late == {"O1commission": "2026-07", "LATEcommission": "2026-08", "O1reversal": "2026-08"}
    assert statement(world.ledger, "b", "2026-07") == july
    with pytest.raises(ConflictError):
        close(world, "2026-07")
    close(world, "2026-08")
    # 2.00 (5% of 40) - 2.50 (half of 5.00) = -0.50 carried
    st = statement(world.ledger, "b", "2026-08")
    assert (st.accrued, st.paid, st.closing) == (D("-0.50"), D(0), D("-0.50"))
    assert_reconciles(world, "2026-08")


def test_close_skips_to_period_closing_earlier_ones(world: World) -> None:
    world.ev.user("b").referral("b", "c", day(0)).order("O1", "c", "100.00", day(1))
    world.run()
    results = close_period(world.ledger, "2026-09", rules=world.rules)
    assert [r.period for r in results] == ["2026-07", "2026-08", "2026-09"]
    assert results[0].paid == D("5.00")


def test_release_held_entry_then_paid(world: World) -> None:
    world.ev.user("e", device_hash="D1").user("f", device_hash="D1")
    world.ev.referral("e", "f", day(0)).order("O1", "f", "100.00", day(1))
    world.ev.refund("O1", "20.00", day(2))
    world.run()
    (held,) = [e for e in world.entries() if e["kind"] == "commission"]
    assert {e["status"] for e in world.entries()} == {"held"}  # the reversal follows its root
    close(world, "2026-07")
    assert statement(world.ledger, "e", "2026-07").held == D("4.00")
    with pytest.raises(NotFoundError):
        world.ledger.release(["nope"], reason="x", by="y")
    world.ledger.release([held["entry_id"]], reason="same household, checked", by="alice")
    rows = world.ledger.arrow(
        "SELECT actor, reason FROM referral_status WHERE status = 'released'"
    ).to_pylist()
    assert rows == [{"actor": "alice", "reason": "same household, checked"}]
    close(world, "2026-08")
    assert statement(world.ledger, "e", "2026-08").paid == D("4.00")


def test_rules_more_than_three_levels_refused(world: World) -> None:
    with pytest.raises(PolicyError, match="pyramid"):
        world.set_rules(levels=4)


def test_period_boundary_in_shanghai_time(world: World) -> None:
    world.ev.user("b").referral("b", "c", day(5))
    world.ev.order("JUL", "c", "100.00", datetime(2026, 7, 31, 15, 59, tzinfo=UTC))
    world.ev.order("AUG", "c", "100.00", datetime(2026, 7, 31, 16, 0, tzinfo=UTC))  # 00:00 +08
    world.run()
    assert {e["order_id"]: e["period"] for e in world.entries()} == {
        "JUL": "2026-07",
        "AUG": "2026-08",
    }


def test_period_helpers() -> None:
    from graph.errors import ConfigError
    from referral.periods import next_period, period_bounds, periods_between

    assert next_period("2026-12") == "2027-01"
    assert periods_between("2026-11", "2027-01") == ["2026-11", "2026-12", "2027-01"]
    start, end = period_bounds("2026-10", "Asia/Shanghai")
    assert (start.isoformat(), end.isoformat()) == (
        "2026-09-30T16:00:00+00:00",
        "2026-10-31T16:00:00+00:00",
    )
    with pytest.raises(ConfigError):
        next_period("2026-13")
    with pytest.raises(ConfigError):
        period_bounds("2026-10", "Mars/Olympus")


def test_ledger_rows_never_change(world: World) -> None:
    world.ev.user("e", device_hash="D1").user("f", device_hash="D1").user("b")
    world.ev.referral("e", "f", day(0)).referral("b", "c", day(0))
    world.ev.order("O1", "f", "100.00", day(1)).order("O2", "c", "80.00", day(2))
    world.run()
    tables = ("referral_entries", "referral_status", "referral_orders", "referral_balances")

    def snapshot() -> dict[str, list[dict]]:
        return {t: world.ledger.arrow(f"SELECT * FROM {t}").to_pylist() for t in tables}

    before = snapshot()
    held = [e["entry_id"] for e in world.entries() if e["status"] == "held"]
    world.ledger.release(held, reason="checked", by="alice")
    close(world, "2026-07")
    world.ev.refund("O2", "80.00", day(40))
    world.run()
    close(world, "2026-08")
    after = snapshot()
    for t in tables:
        assert after[t][: len(before[t])] == before[t], t
    scratch = world.store.conn.execute(
        "SELECT table_name FROM duckdb_tables() WHERE temporary"
    ).fetchall()
    assert scratch == []


def test_close_period_refuses_a_period_not_ended(world: World) -> None:
    from graph.errors import ConfigError

    world.ev.user("a").referral("a", "b", day(0)).order("O1", "b", "100.00", day(1))
    world.run()
    # 2026-07 ends 2026-08-01 00:00 in Shanghai = 2026-07-31 16:00 UTC
    with pytest.raises(ConfigError, match="Period 2026-07 has not ended yet"):
        close_period(
            world.ledger,
            "2026-07",
            rules=world.rules,
            now=datetime(2026, 7, 31, 15, 59, tzinfo=UTC),
        )
    assert world.ledger.closed_periods() == []
    done = close_period(
        world.ledger, "2026-07", rules=world.rules, now=datetime(2026, 7, 31, 16, 0, tzinfo=UTC)
    )
    assert [r.period for r in done] == ["2026-07"]
