"""Holds record the kinds of the checks behind them; the notebook groups by those kinds."""

from __future__ import annotations

import duckdb

from graph.migrations import migrate
from referral.ledger import Ledger
from referral.ledger_query import EntryFilter, Totals
from referral.schema import COMPONENT, MIGRATIONS
from tests.referral.conftest import World, day

_BY_CHECKS = Totals(measures={"entries": "entries"}, by={"checks": "hold_checks"})


def _kinds(world: World) -> list[tuple[str, str]]:
    rows = world.ledger.arrow(
        "SELECT e.beneficiary, c.kind FROM referral_hold_checks c "
        "JOIN referral_entries e USING (entry_id) ORDER BY 1, 2"
    )
    return [tuple(r.values()) for r in rows.to_pylist()]


def test_hold_records_self_referral_and_ring_kinds(world: World) -> None:
    world.ev.user("e", device_hash="D1").user("f", device_hash="D1")
    world.ev.referral("e", "f", day(0)).order("O1", "f", "100.00", day(1))
    world.run()
    assert _kinds(world) == [("e", "ring"), ("e", "self-referral")]
    got = world.ledger.totals(_BY_CHECKS, EntryFilter(held=True)).to_pylist()
    assert got == [{"checks": "self-referral+ring", "entries": 1}]


def test_hold_records_cycle_kind(world: World) -> None:
    for u in "abcd":
        world.ev.user(u)
    world.ev.referral("a", "b", day(0)).referral("b", "c", day(1)).referral("c", "a", day(2))
    world.ev.referral("a", "d", day(3)).order("O1", "d", "100.00", day(4))
    world.run()
    assert _kinds(world) == [("a", "cycle"), ("c", "cycle")]


def test_released_then_unheld_entries_have_no_checks_group(world: World) -> None:
    world.ev.user("e", device_hash="D1").user("f", device_hash="D1")
    world.ev.referral("e", "f", day(0)).order("O1", "f", "100.00", day(1))
    world.run()
    (entry,) = world.entries()
    world.ledger.release([entry["entry_id"]], reason="checked", by="alice")
    assert world.ledger.totals(_BY_CHECKS, EntryFilter(held=True)).num_rows == 0


def test_migration_4_reads_old_hold_reasons_once(tmp_path) -> None:
    conn = duckdb.connect(str(tmp_path / "l.duckdb"))
    migrate(conn, COMPONENT, MIGRATIONS[:2])
    conn.execute(
        "INSERT INTO referral_status VALUES (1, 'E1', 'held', now(), NULL, 'system', "
        "'ring of 2 accounts: a, b; velocity: referrer a gained 9 referees')"
    )
    ledger = Ledger(conn)  # upgrades to the current schema
    kinds = ledger.arrow(
        "SELECT status_seq, entry_id, kind FROM referral_hold_checks ORDER BY kind"
    )
    assert [tuple(r.values()) for r in kinds.to_pylist()] == [
        (1, "E1", "ring"),
        (1, "E1", "velocity"),
    ]
    conn.close()
