"""Forward cascades: hand-made trees, networkx descendants, and real Weibo repost paths."""

from __future__ import annotations

from collections import defaultdict

import networkx as nx
import numpy as np
import pytest

from graph.errors import ParameterError
from graph.events import EDGE_TYPE_CODES, EventType
from graph.snapshot import GraphSnapshot
from graph.store import EdgeArrays
from influence.cascades import cascade_stats
from tests.conftest import shared_dataset
from tests.influence.conftest import snapshot_from_pairs

FWD = EventType.FORWARD


def test_cascade_stats_tree_by_hand():
    # content 0: 0 -> 1 -> 2 -> 3, 0 -> 4 ; content 1: 2 -> 5
    pairs = [(0, 1), (1, 2), (2, 3), (0, 4), (2, 5)]
    content = np.array([0, 0, 0, 0, 1])
    st = cascade_stats(snapshot_from_pairs(pairs, 6, etype=FWD, content=content))
    assert st.per_content
    assert st.size.tolist() == [4, 2, 2, 0, 0, 0]
    assert st.depth.tolist() == [3, 2, 1, 0, 0, 0]
    assert st.cascades.tolist() == [1, 1, 2, 0, 0, 0]


def test_cascade_stats_keeps_contents_apart():
    # 0 forwards-to 1 on content A; 1 forwards-to 2 on content B: 2 is not in 0's cascade
    pairs = [(0, 1), (1, 2)]
    apart = cascade_stats(snapshot_from_pairs(pairs, 3, etype=FWD, content=np.array([0, 1])))
    assert apart.size.tolist() == [1, 1, 0]
    merged = cascade_stats(snapshot_from_pairs(pairs, 3, etype=FWD))  # no content ids
    assert not merged.per_content
    assert merged.size.tolist() == [2, 1, 0] and merged.depth.tolist() == [2, 1, 0]


def test_cascade_stats_ignores_other_edge_types_and_survives_cycles():
    c = EDGE_TYPE_CODES
    pairs = [(0, 1), (1, 2), (2, 0), (0, 3)]
    types = np.array([c[FWD], c[FWD], c[FWD], c[EventType.VIEW]])
    st = cascade_stats(snapshot_from_pairs(pairs, 4, etype=types, content=np.zeros(4, int)))
    assert st.size.tolist() == [2, 2, 2, 0]  # the cycle reaches the two others, never oneself
    assert st.depth.tolist() == [2, 2, 2, 0]


def test_cascade_stats_max_depth_truncates():
    pairs = [(0, 1), (1, 2), (2, 3)]
    st = cascade_stats(snapshot_from_pairs(pairs, 4, etype=FWD), max_depth=2)
    assert st.size.tolist() == [2, 2, 1, 0] and st.depth.tolist() == [2, 2, 1, 0]
    with pytest.raises(ParameterError):
        cascade_stats(snapshot_from_pairs(pairs, 4, etype=FWD), max_depth=0)


def test_cascade_stats_matches_networkx_descendants(rng):
    n, m, n_content = 200, 900, 12
    pairs = rng.integers(0, n, size=(m, 2))
    content = rng.integers(0, n_content, size=m)
    st = cascade_stats(snapshot_from_pairs(pairs, n, etype=FWD, content=content))
    reached = defaultdict(set)
    depth = np.zeros(n, dtype=int)
    for c in range(n_content):
        g = nx.DiGraph()
        g.add_edges_from(
            (int(u), int(v))
            for (u, v), cc in zip(pairs, content, strict=True)
            if cc == c and u != v
        )
        for u in g:
            dist = nx.single_source_shortest_path_length(g, u)
            reached[u] |= set(dist) - {u}
            depth[u] = max(depth[u], max(dist.values()))
    assert st.size.tolist() == [len(reached[u]) for u in range(n)]
    assert st.depth.tolist() == depth.tolist()


def _casflow_paths():
    path = shared_dataset("weibo_casflow") / "dataset.txt"
    cascades = []
    for line in path.read_text().splitlines():
        cid, root, _ts, _n, paths = line.split("\t")
        chains = [p.rsplit(":", 1)[0].split("/") for p in paths.split(" ")]
        cascades.append((cid, root, chains))
    return cascades


@pytest.mark.realdata
def test_cascade_stats_weibo_casflow_matches_repost_paths():
    cascades = _casflow_paths()
    users = sorted({u for _, _, chains in cascades for ch in chains for u in ch})
    index = {u: i for i, u in enumerate(users)}
    src, dst, content = [], [], []
    for c, (_, _, chains) in enumerate(cascades):
        for ch in chains:  # a path root/u1/u2 is the chain of forwards root -> u1 -> u2
            for a, b in zip(ch, ch[1:], strict=False):
                src.append(index[a])
                dst.append(index[b])
                content.append(c)
    m = len(src)
    edges = EdgeArrays(
        src=np.array(src, dtype=np.int32),
        dst=np.array(dst, dtype=np.int32),
        etype=np.full(m, EDGE_TYPE_CODES[FWD], dtype=np.int8),
        ts=np.zeros(m, dtype=np.int64),
        node_ids=np.array(users, dtype=object),
    )
    st = cascade_stats(GraphSnapshot.from_edges(edges, content=np.array(content)))

    # expected straight from the paths, cascade by cascade: v is below u when v comes
    # after u in some path of the cascade, at depth = the smallest such gap
    after: dict[str, set[str]] = defaultdict(set)
    deepest: dict[str, int] = defaultdict(int)
    for _, root, chains in cascades:
        gap: dict[tuple[str, str], int] = {}
        for ch in chains:
            for k, u in enumerate(ch):
                for d, v in enumerate(ch[k + 1 :], start=1):
                    if v != u:
                        gap[u, v] = min(gap.get((u, v), d), d)
        below: dict[str, list[int]] = defaultdict(list)
        for (u, v), d in gap.items():
            after[u].add(v)
            below[u].append(d)
        for u, ds in below.items():
            deepest[u] = max(deepest[u], max(ds))
        # the root reaches every user of its cascade; depth = the longest shortest path
        members = {u for ch in chains for u in ch}
        assert len(after[root]) >= len(members) - 1
    expected_size = np.array([len(after[u]) for u in users])
    expected_depth = np.array([deepest[u] for u in users])
    assert expected_size.sum() > 7000  # every repost counted at least once
    assert (st.size == expected_size).all()
    assert (st.depth == expected_depth).all()
    roots = [index[root] for _, root, _ in cascades]
    assert st.cascades[roots].min() >= 1
