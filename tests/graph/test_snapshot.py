"""Graph snapshots: arrays and CSR matrices built from the embedded store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest

from graph.errors import ConfigError
from graph.events import EDGE_TYPE_CODES, EventType
from graph.snapshot import DEFAULT_TYPE_WEIGHTS, GraphSnapshot, build_snapshot
from graph.store import ARROW_SCHEMAS, EdgeArrays

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _table(event_type: EventType, rows: list[dict]) -> pa.Table:
    schema = ARROW_SCHEMAS[event_type]
    cols = {name: [r.get(name) for r in rows] for name in schema.names}
    for i, r in enumerate(rows):
        cols["event_id"][i] = r.get("event_id", f"{event_type.value}-{i}")
    return pa.table(cols, schema=schema)


@pytest.fixture
def small_store(store):
    """alice shares c1; bob views it and forwards it; carol views bob's forward; dave
    comments on alice; alice refers erin. Times: day 0..4."""
    day = timedelta(days=1)
    store.append_batch(
        {
            EventType.VIEW: _table(
                EventType.VIEW,
                [
                    {"viewer": "bob", "sharer": "alice", "content_id": "c1", "ts": T0},
                    {"viewer": "carol", "sharer": "bob", "content_id": "c1", "ts": T0 + 2 * day},
                ],
            ),
            EventType.FORWARD: _table(
                EventType.FORWARD,
                [{"forwarder": "bob", "from_user": "alice", "content_id": "c1", "ts": T0 + day}],
            ),
            EventType.COMMENT: _table(
                EventType.COMMENT,
                [{"commenter": "dave", "on_user": "alice", "content_id": "c1", "ts": T0 + 3 * day}],
            ),
            EventType.REFERRAL: _table(
                EventType.REFERRAL, [{"referrer": "alice", "referee": "erin", "ts": T0 + 4 * day}]
            ),
        }
    )
    return store


def _edges_by_name(snap: GraphSnapshot) -> set[tuple[str, str, int]]:
    ids = snap.node_ids
    return {
        (ids[s], ids[d], int(t)) for s, d, t in zip(snap.src, snap.dst, snap.etype, strict=True)
    }


def test_build_snapshot_orients_edges_influencer_to_influenced(small_store):
    snap = build_snapshot(small_store)
    c = EDGE_TYPE_CODES
    assert _edges_by_name(snap) == {
        ("alice", "bob", c[EventType.VIEW]),
        ("bob", "carol", c[EventType.VIEW]),
        ("alice", "bob", c[EventType.FORWARD]),
        ("alice", "dave", c[EventType.COMMENT]),
        ("alice", "erin", c[EventType.REFERRAL]),
    }
    assert snap.n_nodes == 5
    assert snap.src.dtype == np.int32 and snap.etype.dtype == np.int8 and snap.ts.dtype == np.int64


def test_build_snapshot_csr_sums_duplicate_edges_with_type_weights(small_store):
    snap = build_snapshot(small_store)
    idx = {u: i for i, u in enumerate(snap.node_ids)}
    a = snap.influence_csr
    # alice -> bob: one view (1.0) + one forward (2.0)
    assert a[idx["alice"], idx["bob"]] == pytest.approx(
        DEFAULT_TYPE_WEIGHTS["view"] + DEFAULT_TYPE_WEIGHTS["forward"]
    )
    assert a[idx["alice"], idx["erin"]] == pytest.approx(DEFAULT_TYPE_WEIGHTS["referral"])
    assert a.nnz == 4
    assert (snap.reverse_csr != a.T).nnz == 0
    assert snap.reverse_csr[idx["bob"], idx["alice"]] == pytest.approx(3.0)


def test_build_snapshot_filters_types_and_window(small_store):
    snap = build_snapshot(small_store, types=["view"], start=T0 + timedelta(hours=1))
    assert _edges_by_name(snap) == {("bob", "carol", EDGE_TYPE_CODES[EventType.VIEW])}
    assert snap.n_nodes == 5  # every known user stays a node


def test_build_snapshot_time_decay_halves_weight_per_half_life(small_store):
    snap = build_snapshot(
        small_store,
        half_life_days=1.0,
        type_weights={"referral": 1.0, "comment": 1.0, "forward": 1.0},
    )
    # now = latest edge (the referral at day 4); each edge is 4 - day(edge) days old
    age = (snap.ts.max() - snap.ts) / 86_400_000_000
    assert snap.weight == pytest.approx(0.5**age)
    later = build_snapshot(
        small_store, half_life_days=2.0, now=T0 + timedelta(days=6), type_weights={"referral": 1.0}
    )
    ref = later.etype == EDGE_TYPE_CODES[EventType.REFERRAL]
    assert later.weight[ref] == pytest.approx([0.5])


def test_build_snapshot_with_content_factorises_forward_content(small_store):
    snap = build_snapshot(small_store, with_content=True)
    fwd = snap.etype == EDGE_TYPE_CODES[EventType.FORWARD]
    assert snap.content is not None and snap.content_ids is not None
    assert list(snap.content_ids[snap.content[fwd]]) == ["c1"]
    assert (snap.content[~fwd] == -1).all()
    plain = build_snapshot(small_store)
    assert _edges_by_name(snap) == _edges_by_name(plain)


def test_snapshot_adjacency_subsets_types_and_pattern(small_store):
    snap = build_snapshot(small_store)
    idx = {u: i for i, u in enumerate(snap.node_ids)}
    views = snap.adjacency(["view"])
    assert views.nnz == 2 and views[idx["alice"], idx["bob"]] == pytest.approx(1.0)
    pattern = snap.adjacency(weighted=False)
    assert set(pattern.data) == {1.0} and pattern.nnz == 4
    assert snap.adjacency() is snap.influence_csr


def test_snapshot_drops_self_loops_from_matrices_only():
    edges = EdgeArrays(
        src=np.array([0, 1], dtype=np.int32),
        dst=np.array([0, 0], dtype=np.int32),
        etype=np.zeros(2, dtype=np.int8),
        ts=np.zeros(2, dtype=np.int64),
        node_ids=np.array(["a", "b"], dtype=object),
    )
    snap = GraphSnapshot.from_edges(edges)
    assert snap.n_edges == 2
    assert snap.influence_csr.nnz == 1


@pytest.mark.parametrize(
    "kwargs",
    [{"type_weights": {"like": 1.0}}, {"type_weights": {"view": -1}}, {"half_life_days": 0}],
)
def test_snapshot_invalid_weights_raise_config_error(kwargs, small_store):
    with pytest.raises(ConfigError):
        build_snapshot(small_store, **kwargs)


def test_snapshot_index_of_maps_ids_and_marks_unknown(small_store):
    snap = build_snapshot(small_store)
    idx = snap.index_of(["carol", "nobody", "alice"])
    assert snap.node_ids[idx[0]] == "carol" and idx[1] == -1 and snap.node_ids[idx[2]] == "alice"


def test_snapshot_empty_store_has_empty_matrices(store):
    snap = build_snapshot(store)
    assert snap.n_nodes == 0 and snap.n_edges == 0
    assert snap.influence_csr.shape == (0, 0)


def test_snapshot_adjacency_is_cached_and_reuses_full_matrix(small_store):
    snap = build_snapshot(small_store, types=["view", "forward", "referral"])
    sub = snap.adjacency(["view", "forward", "referral"])
    assert sub is snap.influence_csr  # every edge has one of these types
    assert snap.adjacency(["view"], weighted=False) is snap.adjacency(["view"], weighted=False)
