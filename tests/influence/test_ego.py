"""Tests of influence.ego: node sets against networkx.ego_graph, truncation, buyers."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from graph.errors import NotFoundError, ParameterError
from graph.events import EDGE_TYPE_CODES, EventType
from influence.ego import ego_network
from tests.influence.conftest import snapshot_from_pairs


def _random_pairs(n: int, m: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, n, size=(m, 2))


@pytest.mark.parametrize("radius", [1, 2, 3])
@pytest.mark.parametrize("seed", [0, 1])
def test_ego_network_matches_networkx_ego_graph(radius: int, seed: int) -> None:
    n = 60
    pairs = _random_pairs(n, 150, seed)
    snap = snapshot_from_pairs(pairs, n)
    ref = nx.DiGraph()
    ref.add_nodes_from(range(n))
    ref.add_edges_from((int(a), int(b)) for a, b in pairs if a != b)
    ego = int(pairs[0, 0])
    expected = nx.ego_graph(ref, ego, radius=radius)
    dist = nx.single_source_shortest_path_length(ref, ego, cutoff=radius)

    got = ego_network(snap, ego, radius=radius, max_nodes=10_000)

    assert set(got.nodes) == {f"u{i}" for i in expected.nodes}
    assert {u: got.nodes[u]["hop"] for u in got} == {f"u{k}": v for k, v in dist.items()}
    assert set(got.edges) == {(f"u{a}", f"u{b}") for a, b in expected.edges}
    assert got.graph["truncated"] is False


def test_ego_network_truncation_keeps_strongest_ties() -> None:
    # ego 0 -> 1 three times, 0 -> 3 twice, 0 -> 2 once; budget of 3 nodes keeps 0, 1, 3
    pairs = [(0, 1), (0, 1), (0, 1), (0, 3), (0, 3), (0, 2), (1, 4)]
    snap = snapshot_from_pairs(pairs, 5)
    got = ego_network(snap, "u0", radius=2, max_nodes=3)
    assert set(got.nodes) == {"u0", "u1", "u3"}
    assert got.graph["truncated"] is True
    assert got.edges["u0", "u1"]["count"] == 3
    assert got.edges["u0", "u1"]["weight"] == pytest.approx(3.0)  # 3 views of weight 1


def test_ego_network_edge_aggregation_types_and_self_loops() -> None:
    pairs = [(0, 1), (0, 1), (1, 0), (0, 0)]
    etype = np.array(
        [
            EDGE_TYPE_CODES[t]
            for t in (EventType.VIEW, EventType.REFERRAL, EventType.VIEW, EventType.VIEW)
        ],
        dtype=np.int8,
    )
    snap = snapshot_from_pairs(pairs, 2, etype=etype)
    got = ego_network(snap, 0)
    assert got.edges["u0", "u1"]["types"] == ["referral", "view"]
    assert got.edges["u0", "u1"]["weight"] == pytest.approx(1.0 + 3.0)
    assert got.has_edge("u1", "u0")  # edges between kept users in either direction
    assert not got.has_edge("u0", "u0")
    only_views = ego_network(snap, 0, types=["view"])
    assert only_views.edges["u0", "u1"]["count"] == 1


def test_ego_network_marks_buyers_after_first_reach() -> None:
    # 0 reaches 1 at t=10 and 2 at t=20; 1 orders at t=15 (after), 2 at t=5 (before)
    snap = snapshot_from_pairs([(0, 1), (0, 2)], 4, ts=np.array([10, 20]))
    got = ego_network(
        snap, 0, order_buyer=np.array([1, 2, 3, 0]), order_ts=np.array([15, 5, 30, 40])
    )
    assert {u: got.nodes[u]["bought"] for u in got} == {"u0": False, "u1": True, "u2": False}
    assert got.nodes["u1"]["reached_at"] == 10
    assert got.nodes["u0"]["reached_at"] is None


def test_ego_network_isolated_ego_is_alone() -> None:
    snap = snapshot_from_pairs([(1, 2)], 3)
    got = ego_network(snap, "u0", radius=2)
    assert list(got.nodes) == ["u0"] and got.number_of_edges() == 0


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"node": "nobody"}, NotFoundError),
        ({"node": 7}, NotFoundError),
        ({"node": 0, "radius": 0}, ParameterError),
        ({"node": 0, "max_nodes": 0}, ParameterError),
        ({"node": 0, "order_buyer": np.array([1])}, ParameterError),
    ],
)
def test_ego_network_bad_arguments_raise(kwargs: dict, error: type[Exception]) -> None:
    snap = snapshot_from_pairs([(0, 1)], 2)
    with pytest.raises(error):
        ego_network(snap, **kwargs)
