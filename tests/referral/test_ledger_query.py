"""referral.ledger_query: typed filters and named totals over the ledger, against hand counts."""

from __future__ import annotations

from decimal import Decimal

import pytest

from graph.errors import ConfigError
from referral.ledger_query import EntryFilter, Totals
from tests.referral.conftest import World, day


@pytest.fixture
def booked(world: World) -> World:
    world.ev.referral("a", "b", day(1)).referral("b", "c", day(2))
    world.ev.order("o1", "b", "100.00", day(3)).order("o2", "c", "50.00", day(4))
    world.ev.refund("o1", "100.00", day(5))
    world.run()
    return world


def test_entry_filter_matches_raw_sql(booked: World) -> None:
    everything = booked.ledger.entries().to_pylist()
    mine = booked.ledger.entries(EntryFilter(beneficiary="a")).to_pylist()
    assert mine == [e for e in everything if e["beneficiary"] == "a"]
    roots = booked.ledger.entries(EntryFilter(roots=True)).to_pylist()
    assert roots == [e for e in everything if e["orig_entry_id"] is None]
    page = booked.ledger.entries(EntryFilter(after_seq=everything[1]["seq"]), limit=1).to_pylist()
    assert page == everything[2:3]


def test_totals_per_beneficiary_equal_hand_sums(booked: World) -> None:
    everything = booked.ledger.entries().to_pylist()
    got = booked.ledger.totals(
        Totals(
            measures={"entries": "entries", "net": "net", "reversed": "reversals"},
            by={"who": "beneficiary"},
            order=("-entries", "who"),
        )
    ).to_pylist()
    expected = {}
    for e in everything:
        row = expected.setdefault(e["beneficiary"], [0, Decimal(0), Decimal(0)])
        row[0] += 1
        row[1] += e["amount"]
        row[2] += e["amount"] if e["kind"] == "reversal" else 0
    assert {r["who"]: [r["entries"], r["net"], r["reversed"]] for r in got} == expected
    assert [r["entries"] for r in got] == sorted((r["entries"] for r in got), reverse=True)


def test_totals_refuse_unknown_names() -> None:
    with pytest.raises(ConfigError, match="measure 'sum'"):
        Totals(measures={"x": "sum"})
    with pytest.raises(ConfigError, match="group key"):
        Totals(measures={"n": "entries"}, by={"k": "amount; DROP TABLE x"})
    with pytest.raises(ConfigError, match="order column"):
        Totals(measures={"n": "entries"}, order=("-nope",))


def test_entry_filter_values_are_bound_not_formatted() -> None:
    where, params = EntryFilter(beneficiary="x' OR true --", period="2026-07").sql()
    assert "x'" not in where and params["f_beneficiary"] == "x' OR true --"
