"""graph.referrals: the first referral binds the referee, ties to the smallest event id.

The array version is checked against a brute-force reading of the definition and,
on tied timestamps, against the stores' own versions: the DuckDB SQL
(``referral_first``, ``upline``, ``downline``) and, when ``KOC_NEO4J_URI`` is set,
the Neo4j Cypher (the ``contract_store`` fixture runs every store).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from graph.arrays import micros, node_indexes
from graph.events import EventType
from graph.ingest import ingest_records
from graph.referrals import binding_rows, first_referrals, first_referrers
from graph.store import GraphStore

T0 = datetime(2026, 7, 1, tzinfo=UTC)


def _brute_force(rows: list[tuple[int, int, int, str]], n: int) -> list[int]:
    """parent[v] by the definition: min (ts, event_id) over v's non-self referrals."""
    parent = [-1] * n
    for v in range(n):
        mine = [(ts, eid, a) for a, b, ts, eid in rows if b == v and a != v]
        if mine:
            parent[v] = min(mine)[2]
    return parent


def test_first_referrers_earlier_time_beats_smaller_event_id() -> None:
    parent, _ = first_referrers(
        2, np.array([0, 1]), np.array([1, 0]), np.array([5, 5]), pa.array(["z", "a"])
    )
    # two referees, one referral each: nothing to break
    assert parent.tolist() == [1, 0]
    parent, bound = first_referrers(
        3, np.array([0, 1]), np.array([2, 2]), np.array([4, 5]), pa.array(["z", "a"])
    )
    assert parent.tolist() == [-1, -1, 0] and bound.tolist() == [0, 0, 4]


def test_binding_rows_without_event_ids_keep_input_order() -> None:
    group = np.array([5, 3, 5, 3, 5])
    ts = np.array([9, 4, 2, 4, 2])
    assert sorted(binding_rows(group, ts).tolist()) == [1, 2]


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 5), st.integers(0, 5), st.integers(0, 2), st.integers(0, 30)),
        max_size=40,
    )
)
def test_first_referrers_equals_the_definition(raw: list[tuple[int, int, int, int]]) -> None:
    # few times: many ties; ids unique (the store keeps one event per id), in random order
    rows = [(a, b, ts, f"e{k:02d}-{i:02d}") for i, (a, b, ts, k) in enumerate(raw)]
    if not rows:
        return
    a, b, ts, ids = (list(c) for c in zip(*rows, strict=True))
    parent, _ = first_referrers(6, np.array(a), np.array(b), np.array(ts), pa.array(ids))
    assert parent.tolist() == _brute_force(rows, 6)


def test_first_referrals_table_keeps_the_binding_events() -> None:
    refs = pa.table(
        {
            "event_id": ["e3", "e1", "e2", "e4"],
            "referrer": ["x", "y", "x", "z"],
            "referee": ["b", "b", "c", "z"],
            "ts": pa.array([T0, T0, T0, T0], pa.timestamp("us", tz="UTC")),
        }
    )
    got = first_referrals(refs).sort_by("referee").to_pylist()
    assert [(r["referee"], r["referrer"], r["event_id"]) for r in got] == [
        ("b", "y", "e1"),
        ("c", "x", "e2"),
    ]


def _tied_referrals(store: GraphStore, n_users: int = 40, n_refs: int = 160) -> list[str]:
    """Referrals among ``n_users`` at only three distinct instants (ties everywhere),
    with event ids in an order unrelated to the referrers' ids."""
    rng = np.random.default_rng(11)
    users = [f"u{i:02d}" for i in range(n_users)]
    records = []
    for k in rng.permutation(n_refs):
        a, b = rng.choice(n_users, 2, replace=False)
        records.append(
            {
                "type": "referral",
                "event_id": f"r{(k * 7919) % 1000:03d}-{k}",
                "referrer": users[a],
                "referee": users[b],
                "ts": (T0 + timedelta(hours=int(rng.integers(0, 3)))).isoformat(),
            }
        )
    summary = ingest_records(store, records)
    assert summary.rejected == 0
    return users


def test_first_referrers_agree_with_the_store_on_tied_timestamps(
    contract_store: GraphStore,
) -> None:
    users = _tied_referrals(contract_store)
    refs = contract_store.read_events(EventType.REFERRAL)
    shuffled = refs.take(pa.array(np.random.default_rng(3).permutation(refs.num_rows)))
    node_ids = pa.array(contract_store.node_ids(), pa.string())
    referrer, referee = node_indexes(
        node_ids, shuffled.column("referrer"), shuffled.column("referee")
    )
    parent, bound = first_referrers(
        len(node_ids), referrer, referee, micros(shuffled.column("ts")), shuffled.column("event_id")
    )
    ids = node_ids.to_pylist()
    rows = refs.to_pylist()
    bound_at = {
        ids[v]: T0 + timedelta(microseconds=int(bound[v]) - int(micros(pa.array([T0]))[0]))
        for v in np.flatnonzero(parent >= 0)
    }
    tied = 0
    for u in users:
        v = ids.index(u)
        up = contract_store.upline(u, 1).to_pylist()
        expected = [] if parent[v] < 0 else [(ids[parent[v]], int(bound[v]))]
        got = [(r["user_id"], int(micros(pa.array([r["referred_at"]]))[0])) for r in up]
        assert got == expected, u
        at_bound = [r for r in rows if r["referee"] == u and r["ts"] == bound_at.get(u)]
        tied += len(at_bound) > 1
    assert tied >= 5  # the data really exercises the tie-break
    # level-1 downline sizes: the referees each user binds
    counts = np.bincount(parent[parent >= 0], minlength=len(ids))
    for u in users:
        down = {r["level"]: r["users"] for r in contract_store.downline(u, 1).to_pylist()}
        assert down.get(1, 0) == counts[ids.index(u)], u


def test_first_referrers_agree_with_duckdb_referral_first(store) -> None:  # type: ignore[no-untyped-def]
    _tied_referrals(store)
    table = store.conn.sql(
        "SELECT u.user_id AS referee, r.user_id AS referrer, f.event_id "
        "FROM referral_first f JOIN users u ON u.idx = f.referee JOIN users r ON r.idx = f.referrer"
    ).to_arrow_table()
    got = first_referrals(store.read_events(EventType.REFERRAL))
    key = ["referee", "referrer", "event_id"]
    assert sorted(tuple(r.values()) for r in table.select(key).to_pylist()) == sorted(
        tuple(r.values()) for r in got.select(key).to_pylist()
    )
