"""Late referrals re-attribute already attributed orders (amounts worked out by hand)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graph.duckdb_store import DuckDBStore
from graph.migrations import migrate
from referral.ledger import Ledger
from referral.reattribution import REASON
from referral.reconciliation import reconciliation
from referral.reports import statement
from referral.schema import COMPONENT, MIGRATIONS
from referral.settlement import close_period
from tests.referral.conftest import World, day

#: Three-level rates (per role, levels 1-3).
RATES3 = {
    "employee": ["0.03", "0.01", "0.005"],
    "kol": ["0.08", "0.02", "0.015"],
    "consumer": ["0.05", "0.01", "0.004"],
}


def net_by(w: World, order_id: str) -> dict[str, D]:
    """Net of all entries of one order per beneficiary (zeros dropped)."""
    out: dict[str, D] = {}
    for e in w.entries("order_id = $o", o=order_id):
        out[e["beneficiary"]] = out.get(e["beneficiary"], D(0)) + e["amount"]
    return {k: v for k, v in out.items() if v != 0}


def assert_reconciles(w: World, *periods: str) -> None:
    for period in periods:
        rec = reconciliation(w.ledger, period).to_pylist()
        assert rec and all(r["ok"] for r in rec), rec


def corrections(w: World) -> list[dict]:
    return [e for e in w.entries() if e["reason"].startswith(REASON)]


def test_reattribute_late_referral_for_unattributed_order(world: World) -> None:
    world.ev.user("b").user("c").order("O1", "c", "100.00", day(1))
    first = world.run()
    assert first.outcomes == {"no beneficiary": 1} and world.entries() == []
    world.ev.referral("b", "c", day(0))  # ingested a day late, dated before the order
    second = world.run()
    # b consumer level 1: 5 % of 100.00 = 5.00, booked in the order's own open period
    assert net_by(world, "O1") == {"b": D("5.00")}
    (entry,) = world.entries()
    assert entry["kind"] == "commission" and entry["period"] == "2026-07"
    assert entry["reason"].startswith(f"{REASON} (was nobody): level 1 referral")
    assert (second.orders_reexamined, second.orders_reattributed) == (1, 1)
    assert (second.reattribution_entries, second.reattributed_booked) == (1, D("5.00"))
    assert second.entries_new == 0 and second.commission == D(0)
    assert_reconciles(world, "2026-07")
    rec = {r["check"]: r for r in reconciliation(world.ledger, "2026-07").to_pylist()}
    row = rec["re-attributions (late referrals) = their correction entries"]
    assert (row["expected"], row["actual"]) == (D("5.00"), D("5.00"))


def test_reattribute_earlier_referral_rebinds_buyer(world: World) -> None:
    world.ev.user("a").user("b").user("c").user("x", "kol").user("y", "employee")
    world.ev.referral("x", "b", day(-10)).referral("y", "a", day(-5))
    world.ev.referral("b", "c", day(5)).order("O1", "c", "200.00", day(10))
    world.run()
    # old: b L1 5 % of 200 = 10.00; x (kol) L2 2 % = 4.00
    assert net_by(world, "O1") == {"b": D("10.00"), "x": D("4.00")}
    world.ev.referral("a", "c", day(2))  # earlier touch: first touch, a binds c; b's is ignored
    summary = world.run()
    # new: a L1 5 % = 10.00; y (employee) L2 1 % = 2.00; b and x netted to zero
    assert net_by(world, "O1") == {"a": D("10.00"), "y": D("2.00")}
    fixes = {(e["beneficiary"], e["kind"]): e["amount"] for e in corrections(world)}
    assert fixes == {
        ("b", "reversal"): D("-10.00"),
        ("x", "reversal"): D("-4.00"),
        ("a", "commission"): D("10.00"),
        ("y", "commission"): D("2.00"),
    }
    assert summary.reattributed_reversed == D("-14.00")
    assert summary.reattributed_booked == D("12.00")
    old = {
        e["beneficiary"]: e
        for e in world.entries("kind = 'commission' AND run_id <> $r", r=summary.run_id)
    }
    assert {old["b"]["status"], old["x"]["status"]} == {"reversed"}
    assert_reconciles(world, "2026-07")


def test_reattribute_partly_refunded_order_nets_exactly(world: World) -> None:
    world.ev.user("a").user("b").referral("b", "c", day(5))
    world.ev.order("O1", "c", "33.33", day(10)).refund("O1", "10.00", day(11))
    world.run()
    # b: 5 % of 33.33 = 1.6665 -> 1.67; refund 10.00: round(167 * 10 / 33.33) = 50 -> -0.50
    assert net_by(world, "O1") == {"b": D("1.17")}
    world.ev.referral("a", "c", day(2))
    world.run()
    # b's remaining 1.17 reversed; a booked 1.67 and at once reversed by the refunded share
    # 0.50: a nets 1.17, what a would hold had it been bound from the start
    assert net_by(world, "O1") == {"a": D("1.17")}
    a_rows = sorted(e["amount"] for e in world.entries("beneficiary = 'a'"))
    assert a_rows == [D("-0.50"), D("1.67")]
    assert_reconciles(world, "2026-07")
    world.ev.refund("O1", "23.33", day(12))  # the rest: a's target 167 cents, b untouched
    summary = world.run()
    assert summary.reversals_new == 1 and summary.reversed == D("-1.17")
    assert net_by(world, "O1") == {}
    assert_reconciles(world, "2026-07")


def test_reattribute_closed_period_corrects_in_open_period(world: World) -> None:
    world.ev.user("a").user("b").referral("b", "c", day(5)).order("O1", "c", "100.00", day(10))
    world.run()
    close_period(
        world.ledger,
        "2026-07",
        rules=world.rules,
        by="t",
        closed_at=datetime(2026, 12, 1, tzinfo=UTC),
    )
    world.ev.referral("a", "c", day(2)).order("O2", "z", "10.00", day(40))  # August data
    world.run()
    rows = {(e["beneficiary"], e["kind"]): e for e in corrections(world)}
    assert {k: e["amount"] for k, e in rows.items()} == {
        ("b", "reversal"): D("-5.00"),
        ("a", "commission"): D("5.00"),
    }
    assert {e["period"] for e in rows.values()} == {"2026-08"}
    assert rows[("a", "commission")]["event_ts"] == day(10)  # the order's time
    st_b = statement(world.ledger, "b", "2026-08")
    assert (st_b.reversals, st_b.commissions) == (D("-5.00"), D(0))
    assert any(line["reason"].startswith(REASON) for line in st_b.lines)
    close_period(
        world.ledger,
        "2026-08",
        rules=world.rules,
        by="t",
        closed_at=datetime(2026, 12, 1, tzinfo=UTC),
    )
    # b was paid 5.00 in July and carries -5.00; a is paid 5.00 in August
    st_b, st_a = (statement(world.ledger, u, "2026-08") for u in ("b", "a"))
    assert (st_b.paid, st_b.closing) == (D(0), D("-5.00"))
    assert (st_a.paid, st_a.closing) == (D("5.00"), D(0))
    assert_reconciles(world, "2026-07", "2026-08")


def test_reattribute_rerun_adds_nothing(world: World) -> None:
    world.ev.user("a").user("b").referral("b", "c", day(5)).order("O1", "c", "100.00", day(10))
    world.run()
    world.ev.referral("a", "c", day(2), event_id="late-1")
    world.run()
    before = world.entries()
    assert world.run().already_done
    world.ev.referral("a", "c", day(2), event_id="late-1")  # the same file delivered again
    world.ev.order("O2", "q", "10.00", day(11))  # and something unrelated
    again = world.run()
    assert (again.orders_reexamined, again.orders_reattributed) == (0, 0)
    assert world.entries() == before
    assert_reconciles(world, "2026-07")


def test_reattribute_touch_that_changes_nothing_books_nothing(world: World) -> None:
    world.ev.user("a").user("b").referral("b", "c", day(1)).order("O1", "c", "100.00", day(10))
    world.run()
    world.ev.referral("a", "c", day(5))  # later than b's touch: b keeps c (no stealing)
    summary = world.run()
    assert (summary.orders_reexamined, summary.orders_reattributed) == (1, 0)
    assert net_by(world, "O1") == {"b": D("5.00")} and corrections(world) == []


def test_reattribute_multi_level_upline_change(world: World) -> None:
    world.set_rules(
        levels=3,
        rates=RATES3,
    )
    for u in "bcepqrs":
        world.ev.user(u)
    world.ev.referral("r", "p", day(0)).referral("p", "b", day(3))
    world.ev.referral("b", "c", day(5)).referral("c", "e", day(6))
    world.ev.order("O1", "c", "250.00", day(10)).order("O2", "e", "100.00", day(10))
    world.ev.order("O3", "p", "100.00", day(10))  # bound to r; not touched by the change
    world.run()
    # O1: L1 b 5 % = 12.50, L2 p 1 % = 2.50, L3 r 0.4 % = 1.00
    # O2: L1 c 5.00, L2 b 1.00, L3 p 0.40
    assert net_by(world, "O1") == {"b": D("12.50"), "p": D("2.50"), "r": D("1.00")}
    assert net_by(world, "O2") == {"c": D("5.00"), "b": D("1.00"), "p": D("0.40")}
    # late: q referred b on day 1 (before p did: q is b's parent now), s referred q
    world.ev.referral("q", "b", day(1)).referral("s", "q", day(0))
    summary = world.run()
    assert net_by(world, "O1") == {"b": D("12.50"), "q": D("2.50"), "s": D("1.00")}
    assert net_by(world, "O2") == {"c": D("5.00"), "b": D("1.00"), "q": D("0.40")}
    assert net_by(world, "O3") == {"r": D("5.00")}
    # only changed levels are corrected; b and c keep their entries untouched
    fixes = sorted(
        (e["order_id"], e["level"], e["beneficiary"], e["amount"]) for e in corrections(world)
    )
    assert fixes == [
        ("O1", 2, "p", D("-2.50")),
        ("O1", 2, "q", D("2.50")),
        ("O1", 3, "r", D("-1.00")),
        ("O1", 3, "s", D("1.00")),
        ("O2", 3, "p", D("-0.40")),
        ("O2", 3, "q", D("0.40")),
    ]
    assert (summary.orders_reexamined, summary.orders_reattributed) == (2, 2)
    assert_reconciles(world, "2026-07")


def test_reattribute_new_entries_are_held_by_fraud_checks(world: World) -> None:
    world.ev.user("b").user("e", device_hash="D1").user("f", device_hash="D1")
    world.ev.referral("b", "f", day(5)).order("O1", "f", "100.00", day(10))
    world.run()
    world.ev.referral("e", "f", day(1))  # e binds f, and shares f's device
    world.run()
    (new,) = [e for e in corrections(world) if e["kind"] == "commission"]
    assert new["beneficiary"] == "e" and new["status"] == "held"
    assert "self-referral: buyer f and beneficiary e share a device" in new["hold_reason"]
    assert_reconciles(world, "2026-07")


def test_reattribute_uses_the_rules_version_of_the_order(world: World) -> None:
    world.ev.user("a").user("b").referral("b", "c", day(5)).order("O1", "c", "100.00", day(10))
    world.run()
    old_version = world.rules.version
    world.set_rules(rates={"consumer": ["0.10", "0.02"]})  # new rules for new orders
    world.ev.referral("a", "c", day(2)).order("O2", "c", "100.00", day(12))
    world.run()
    # O1 keeps its rules (5 %): a 5.00; O2 is new under the new rules (10 %): a 10.00
    assert net_by(world, "O1") == {"a": D("5.00")}
    assert net_by(world, "O2") == {"a": D("10.00")}
    assert {e["rule_version"] for e in world.entries("order_id = 'O1'")} == {old_version}
    assert_reconciles(world, "2026-07")


def test_reattribute_moves_the_flat_bonus(world: World) -> None:
    world.set_rules(bonus={"consumer": "2.00"})
    world.ev.user("a").user("b").referral("b", "c", day(5))
    world.ev.order("O1", "c", "100.00", day(10)).order("O2", "c", "100.00", day(11))
    world.run()
    assert world.amounts("bonus") == {("O1", "b", 1): D("2.00")}
    world.ev.referral("a", "c", day(2))
    world.run()
    # b's bonus and commissions reversed; a earns 5.00 per order and one bonus, on O1
    assert net_by(world, "O1") == {"a": D("7.00")}
    assert net_by(world, "O2") == {"a": D("5.00")}
    assert_reconciles(world, "2026-07")


def _play(data: dict, *, late_in_second_run: bool) -> dict[tuple[str, str], D]:
    """Attribute ``data`` in two runs (late referrals in the second one, or all in the
    first); return the net per (order, beneficiary) and check the reconciliation."""
    with DuckDBStore(":memory:", threads=1) as store:
        w = World(store)
        w.set_rules(
            levels=3,
            rates=RATES3,
            bonus={"kol": "1.00"},
            binding={"mode": data["mode"], "exclusive": data["exclusive"], "window_days": 30},
        )
        for u, role in data["roles"].items():
            w.ev.user(u, role)
        late = []
        for i, (a, b, d, is_late) in enumerate(data["referrals"]):
            if is_late and late_in_second_run:
                late.append((a, b, d, i))
            else:
                w.ev.referral(a, b, day(d, i / 100), event_id=f"r{i}")
        for i, (buyer, cents, d) in enumerate(data["orders"]):
            w.ev.order(f"O{i}", buyer, str(D(cents) / 100), day(d, 0.5), event_id=f"o{i}")
        for i, (k, cents, d) in enumerate(data["refunds"]):
            if k < len(data["orders"]):
                o = data["orders"][k]
                w.ev.refund(f"O{k}", str(D(cents) / 100), day(o[2] + d, 1), event_id=f"f{i}")
        w.run()
        for a, b, d, i in late:
            w.ev.referral(a, b, day(d, i / 100), event_id=f"r{i}")
        w.run()
        assert_reconciles(w, "2026-07", "2026-08")
        out: dict[tuple[str, str], D] = {}
        for e in w.entries():
            key = (e["order_id"], e["beneficiary"])
            out[key] = out.get(key, D(0)) + e["amount"]
        return {k: v for k, v in out.items() if v != 0}


@pytest.mark.slow
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.fixed_dictionaries(
        {
            "roles": st.fixed_dictionaries(
                {f"u{i}": st.sampled_from(["consumer", "kol", "employee"]) for i in range(5)}
            ),
            "referrals": st.lists(
                st.tuples(
                    st.sampled_from([f"u{i}" for i in range(5)]),
                    st.sampled_from([f"u{i}" for i in range(5)]),
                    st.integers(0, 20),
                    st.booleans(),
                ),
                max_size=8,
            ),
            "orders": st.lists(
                st.tuples(
                    st.sampled_from([f"u{i}" for i in range(5)]),
                    st.integers(1, 500_00),
                    st.integers(0, 25),
                ),
                min_size=1,
                max_size=5,
            ),
            "refunds": st.lists(
                st.tuples(st.integers(0, 4), st.integers(1, 500_00), st.integers(0, 3)),
                max_size=3,
            ),
            "mode": st.sampled_from(["first_touch", "last_touch", "signup_only"]),
            "exclusive": st.booleans(),
        }
    )
)
def test_reattribute_late_equals_on_time(data: dict) -> None:
    """However late the referrals arrive, each order nets what it would have netted
    had they been there from the start (no per-beneficiary cap involved)."""
    assert _play(data, late_in_second_run=True) == _play(data, late_in_second_run=False)


def test_reattribute_ledger_upgraded_from_schema_v1() -> None:
    with DuckDBStore(":memory:", threads=1) as store:
        assert migrate(store.conn, COMPONENT, MIGRATIONS[:1]) == 1  # written before v2
        old = Ledger(store.conn, read_only=True)
        assert (old.ready, old.schema_version) == (True, 1)
        assert all(r["ok"] for r in reconciliation(old, "2026-07").to_pylist())
        w = World(store)  # opens the ledger for writing: upgrades it to v2
        assert w.ledger.schema_version == len(MIGRATIONS)
        w.ev.user("b").referral("b", "c", day(0)).order("O1", "c", "100.00", day(1))
        w.run()
        # an upgraded ledger has seen no referral: its next run re-examines every
        # attributed order once, and books nothing when nothing changed
        store.conn.execute("DELETE FROM referral_seen_referrals")
        w.ev.order("O2", "q", "10.00", day(2))
        summary = w.run()
        assert (summary.referrals_new, summary.orders_reexamined) == (1, 1)
        assert summary.orders_reattributed == 0 and corrections(w) == []
        assert net_by(w, "O1") == {"b": D("5.00")}
