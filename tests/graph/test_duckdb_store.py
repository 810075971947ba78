"""Embedded-store specifics beyond the shared contract: the maintained referral tree, migrations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa

from graph.duckdb_store import MIGRATIONS, DuckDBStore
from graph.events import EventType
from graph.migrations import migrate
from graph.store import ARROW_SCHEMAS

T0 = datetime(2026, 9, 1, tzinfo=UTC)


def _referrals(rows: list[tuple[str, str, int]]) -> pa.Table:
    return pa.Table.from_pylist(
        [
            {
                "event_id": f"r-{a}-{b}-{day}",
                "referrer": a,
                "referee": b,
                "campaign": None,
                "ts": T0 + timedelta(days=day),
            }
            for a, b, day in rows
        ],
        schema=ARROW_SCHEMAS[EventType.REFERRAL],
    )


def test_upline_late_earlier_referral_rebinds_referee(store: DuckDBStore) -> None:
    store.append_batch({EventType.REFERRAL: _referrals([("a", "c", 5), ("c", "d", 6)])})
    assert store.upline("d", 3).column("user_id").to_pylist() == ["c", "a"]
    # a referral of c by b that happened *earlier* arrives in a later batch: b becomes c's referrer
    store.append_batch({EventType.REFERRAL: _referrals([("b", "c", 1)])})
    assert store.upline("d", 3).column("user_id").to_pylist() == ["c", "b"]
    assert store.downline("a", 3).num_rows == 0
    assert store.downline("b", 3).column("users").to_pylist() == [1, 1]


def test_upline_matches_recomputation_from_all_batches(store: DuckDBStore) -> None:
    rows = [(f"u{i % 7}", f"u{(i * 3 + 1) % 11}", i) for i in range(40)]
    rows = [r for r in rows if r[0] != r[1]]
    for lo in range(0, len(rows), 9):  # many small batches
        store.append_batch({EventType.REFERRAL: _referrals(rows[lo : lo + 9])})
    first: dict[str, str] = {}
    for a, b, _day in sorted(rows, key=lambda r: r[2]):
        first.setdefault(b, a)
    for user in sorted(first):
        expected, seen, cur = [], {user}, user
        while cur in first and len(expected) < 5 and first[cur] not in seen:
            cur = first[cur]
            seen.add(cur)
            expected.append(cur)
        assert store.upline(user, 5).column("user_id").to_pylist() == expected, user


def test_migration_v2_builds_tree_from_existing_events(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    conn = duckdb.connect(str(path))
    migrate(conn, "graph", MIGRATIONS[:1])  # a store written before referral_first existed
    conn.execute("INSERT INTO users (idx, user_id) VALUES (0, 'a'), (1, 'b'), (2, 'c')")
    conn.execute(
        """INSERT INTO events VALUES
        ('e1', 3, 0, 1, NULL, NULL, NULL, TIMESTAMPTZ '2026-09-01 00:00:00+00'),
        ('e2', 3, 2, 1, NULL, NULL, NULL, TIMESTAMPTZ '2026-09-02 00:00:00+00'),
        ('e3', 3, 1, 2, NULL, NULL, NULL, TIMESTAMPTZ '2026-09-03 00:00:00+00')"""
    )
    conn.close()
    with DuckDBStore(path) as store:
        assert store.schema_version() == len(MIGRATIONS)
        assert store.upline("b", 3).column("user_id").to_pylist() == ["a"]
        assert store.upline("c", 3).column("user_id").to_pylist() == ["b", "a"]


def test_revision_changes_on_each_append_not_on_reads_or_runs(store: DuckDBStore) -> None:
    from graph.store import RunRecord

    before = store.revision()
    store.append_batch({EventType.REFERRAL: _referrals([("a", "b", 1)])})
    after_one = store.revision()
    assert after_one > before
    store.upline("b", 3), store.counts(), store.read_events(EventType.REFERRAL)
    store.save_run(RunRecord(run_id="r1", created_at=T0))
    assert store.revision() == after_one
    store.append_batch({EventType.REFERRAL: _referrals([("a", "c", 2)])})
    assert store.revision() > after_one


def test_revision_bumped_by_role_writes(store: DuckDBStore, tmp_path: Path) -> None:
    from graph.roles import ModelRecord, import_declarations, save_inferences, save_model

    roster = tmp_path / "staff.csv"
    roster.write_text("user_id,store_id,since\ne1,S1,2026-07-01\n", encoding="utf-8")
    seen = [store.revision()]
    import_declarations(store.conn, roster, kind="employee")
    seen.append(store.revision())
    save_model(store.conn, ModelRecord("m1", T0, 0.5))
    seen.append(store.revision())
    inferences = pa.table(
        {"user_id": ["x"], "predicted_role": ["kol"], "role": ["kol"], "confidence": [0.9]}
    )
    save_inferences(store.conn, "m1", inferences)
    seen.append(store.revision())
    assert seen == sorted(set(seen))  # strictly increasing: every write moved it


def test_read_only_open_of_older_schema_says_how_to_upgrade(tmp_path: Path) -> None:
    import pytest

    from graph.errors import StoreError

    path = tmp_path / "old.duckdb"
    conn = duckdb.connect(str(path))
    migrate(conn, "graph", MIGRATIONS[:2])  # written before store_revision existed
    conn.close()
    with pytest.raises(StoreError, match="schema v2.*open it once for writing"):
        DuckDBStore(path, read_only=True)
    with DuckDBStore(path) as store:  # a writable open upgrades it
        assert store.schema_version() == len(MIGRATIONS) and store.revision() == 1
    with DuckDBStore(path, read_only=True) as store:
        assert store.revision() == 1
