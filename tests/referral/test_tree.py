"""Tests of referral.tree.downline_graph: hand-built trees and the store's downline counts."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from graph.errors import ConfigError
from referral.tree import downline_graph

T0 = datetime(2026, 7, 1, tzinfo=UTC)


def _refs(rows: list[tuple[str, str, int]]) -> pa.Table:
    return pa.table(
        {
            "referrer": [r for r, _, _ in rows],
            "referee": [e for _, e, _ in rows],
            "ts": pa.array([T0 + timedelta(days=d) for _, _, d in rows], pa.timestamp("us", "UTC")),
        }
    )


def test_downline_graph_first_referral_defines_parent() -> None:
    # a -> b, a -> c, b -> d; later x -> b does not re-parent b; d -> a (cycle) stops
    refs = _refs([("a", "b", 0), ("a", "c", 1), ("b", "d", 2), ("x", "b", 3), ("d", "a", 4)])
    g = downline_graph(refs, "a", levels=3, buyers=["d", "zz"])
    assert {u: g.nodes[u]["level"] for u in g} == {"a": 0, "b": 1, "c": 1, "d": 2}
    assert set(g.edges) == {("a", "b"), ("a", "c"), ("b", "d")}
    assert g.nodes["d"]["bought"] is True and g.nodes["b"]["bought"] is False
    assert g.edges["b", "d"]["referred_at"] == T0 + timedelta(days=2)
    assert g.graph["truncated"] is False


def test_downline_graph_levels_and_budget() -> None:
    refs = _refs([("a", "b", 0), ("a", "c", 1), ("b", "d", 2), ("c", "e", 3)])
    assert set(downline_graph(refs, "a", levels=1)) == {"a", "b", "c"}
    small = downline_graph(refs, "a", levels=3, max_nodes=2)
    assert set(small) == {"a", "b"}  # b was referred first
    assert small.graph["truncated"] is True


def test_downline_graph_unknown_root_is_alone() -> None:
    g = downline_graph(_refs([("a", "b", 0)]), "nobody")
    assert list(g) == ["nobody"]


@pytest.mark.parametrize("kwargs", [{"levels": 0}, {"max_nodes": 0}])
def test_downline_graph_bad_arguments_raise(kwargs: dict) -> None:
    with pytest.raises(ConfigError):
        downline_graph(_refs([("a", "b", 0)]), "a", **kwargs)


def test_downline_graph_level_counts_match_store_downline(tmp_path) -> None:
    from graph.duckdb_store import DuckDBStore
    from graph.events import EventType
    from graph.ingest import ingest_records

    rows = [
        ("r", "a", 0),
        ("a", "b", 1),
        ("a", "c", 2),
        ("b", "d", 3),
        ("c", "e", 4),
        ("e", "f", 5),
        ("q", "c", 6),
        ("f", "r", 7),
    ]
    with DuckDBStore(tmp_path / "t.duckdb") as store:
        ingest_records(
            store,
            [
                {
                    "type": "referral",
                    "referrer": r,
                    "referee": e,
                    "ts": (T0 + timedelta(days=d)).isoformat(),
                }
                for r, e, d in rows
            ],
        )
        expected = {row["level"]: row["users"] for row in store.downline("r", levels=4).to_pylist()}
        g = downline_graph(store.read_events(EventType.REFERRAL), "r", levels=4)
    got = Counter(g.nodes[u]["level"] for u in g if u != "r")
    assert dict(got) == expected
