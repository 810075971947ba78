"""Property-based tests of attribution over random small worlds (hypothesis)."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal as D

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graph.duckdb_store import DuckDBStore
from referral.reconciliation import reconciliation
from referral.settlement import close_period
from tests.referral.conftest import World, day

ROLES = ("employee", "kol", "consumer", "unknown")
CENT = D("0.01")


@st.composite
def worlds(draw: st.DrawFn) -> dict:
    n = draw(st.integers(2, 7))
    users = [f"u{i}" for i in range(n)]
    return {
        "roles": {u: draw(st.sampled_from(ROLES)) for u in users},
        "devices": {u: draw(st.sampled_from([None, None, "D1", "D2"])) for u in users},
        "referrals": draw(
            st.lists(
                st.tuples(st.sampled_from(users), st.sampled_from(users), st.integers(0, 40)),
                max_size=10,
            )
        ),
        "views": draw(
            st.lists(
                st.tuples(st.sampled_from(users), st.sampled_from(users), st.integers(0, 60)),
                max_size=6,
            )
        ),
        "orders": draw(
            st.lists(
                st.tuples(st.sampled_from(users), st.integers(1, 5_000_00), st.integers(0, 60)),
                min_size=1,
                max_size=8,
            )
        ),
        "refunds": draw(
            st.lists(
                st.tuples(st.integers(0, 7), st.integers(1, 5_000_00), st.integers(0, 20)),
                max_size=6,
            )
        ),
        "levels": draw(st.integers(1, 3)),
        "cap_order": draw(st.sampled_from(["", "3.00", "25.00"])),
        "cap_period": draw(st.sampled_from(["", "10.00", "40.00"])),
        "split": draw(st.sampled_from(["none", "linear", "time_decay"])),
        "mode": draw(st.sampled_from(["first_touch", "last_touch", "signup_only"])),
        "exclusive": draw(st.booleans()),
    }


def build(spec: dict) -> tuple[World, DuckDBStore]:
    store = DuckDBStore(":memory:", threads=1)
    w = World(store)
    w.set_rules(
        levels=spec["levels"],
        rates={
            "employee": ["0.03", "0.01", "0.005"],
            "kol": ["0.08", "0.02", "0.01"],
            "consumer": ["0.05", "0.01", "0.005"],
        },
        bonus={"consumer": "1.00"},
        cap_per_order=spec["cap_order"],
        cap_per_beneficiary_period=spec["cap_period"],
        binding={"mode": spec["mode"], "exclusive": spec["exclusive"]},
        share={"split": spec["split"]},
    )
    for u, role in spec["roles"].items():
        w.ev.user(u, role, device_hash=spec["devices"][u])
    for a, b, d in spec["referrals"]:
        w.ev.referral(a, b, day(d))
    for viewer, sharer, d in spec["views"]:
        w.ev.share(sharer, "C", day(d)).view(viewer, sharer, "C", day(d))
    orders = []
    for i, (buyer, cents, d) in enumerate(spec["orders"]):
        w.ev.order(f"O{i}", buyer, str(D(cents) / 100), day(d, 1), attribution_token="C")
        orders.append((f"O{i}", D(cents) / 100, d))
    for k, (i, cents, after) in enumerate(spec["refunds"]):
        if i < len(orders):
            oid, amount, d = orders[i]
            w.ev.refund(oid, str(min(D(cents) / 100, amount)), day(d + after, 2), refund_id=f"R{k}")
    return w, store


@pytest.mark.slow
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds())
def test_attribution_invariants(spec: dict) -> None:
    w, store = build(spec)
    try:
        w.run()
        entries = w.entries()
        rules = w.rules
        # amounts are whole cents; commissions >= 0, reversals <= 0
        for e in entries:
            assert e["amount"] == e["amount"].quantize(CENT)
            assert (e["amount"] >= 0) == (e["kind"] != "reversal") or e["amount"] == 0
        # caps: per order, per beneficiary and period
        per_order, per_ben = defaultdict(D), defaultdict(D)
        for e in entries:
            if e["kind"] != "reversal":
                per_order[e["order_id"]] += e["amount"]
                per_ben[(e["beneficiary"], e["period"])] += e["amount"]
        if rules.cap_per_order is not None:
            assert all(v <= rules.cap_per_order for v in per_order.values())
        if rules.cap_per_beneficiary_period is not None:
            assert all(v <= rules.cap_per_beneficiary_period for v in per_ben.values())
        # reversals never exceed their entry; a full refund nets the order to zero
        reversed_ = defaultdict(D)
        for e in entries:
            if e["kind"] == "reversal":
                reversed_[e["orig_entry_id"]] += e["amount"]
        for e in entries:
            if e["kind"] != "reversal":
                assert -reversed_[e["entry_id"]] <= e["amount"]
        refunded = w.ledger.arrow(
            """SELECT o.order_id, o.amount, sum(r.applied) AS applied FROM referral_orders o
            JOIN referral_refunds r USING (order_id) GROUP BY ALL"""
        ).to_pylist()
        for r in refunded:
            if r["applied"] >= r["amount"]:
                assert sum(e["amount"] for e in entries if e["order_id"] == r["order_id"]) == 0
        # money is conserved: the reconciliation balances in every period, before and after closing
        periods = sorted({e["period"] for e in entries}) or ["2026-07"]
        for p in periods:
            assert all(reconciliation(w.ledger, p).column("ok").to_pylist())
        close_period(w.ledger, periods[-1], rules=rules)
        for p in periods:
            assert all(reconciliation(w.ledger, p).column("ok").to_pylist())
        paid = w.ledger.scalar("SELECT coalesce(sum(paid), 0) FROM referral_balances")
        assert paid <= sum(per_order.values())
        # rerunning changes nothing
        before = w.entries()
        assert w.run().already_done
        assert w.entries() == before
    finally:
        store.close()
