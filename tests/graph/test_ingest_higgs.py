"""The real Higgs Twitter activity file ingests with balanced counts (skipped when absent)."""

from __future__ import annotations

import gzip

import pytest

from graph.events import EventType
from graph.ingest import ingest_files
from graph.ingest.sources.higgs import HIGGS_COLUMNS
from tests.conftest import shared_dataset


def test_higgs_sample_mapping(tmp_path, store) -> None:
    """A hand-made sample in the Higgs layout: RT -> forward, RE/MT -> comment, B influences A."""
    path = tmp_path / "sample.txt.gz"
    path.write_bytes(
        gzip.compress(
            b"1 2 1341100972 RT\n3 2 1341100972 RE\n3 2 1341100972 MT\n4 4 1341100980 MT\n"
        )
    )
    summary = ingest_files(store, [path], dataset="higgs")
    assert (summary.read, summary.inserted, summary.rejected) == (4, 3, 1)
    [fwd] = store.read_events(EventType.FORWARD).to_pylist()
    assert (fwd["forwarder"], fwd["from_user"], fwd["content_id"], fwd["channel"]) == (
        "1",
        "2",
        "higgs:2",
        "twitter-retweet",
    )
    comments = store.read_events(EventType.COMMENT).to_pylist()
    assert sorted(c["channel"] for c in comments) == ["twitter-mention", "twitter-reply"]
    assert {(c["commenter"], c["on_user"]) for c in comments} == {("3", "2")}
    edges = store.read_edges()
    ids = edges.node_ids
    # influence flows from B (user 2) to A
    assert {(ids[s], ids[d]) for s, d in zip(edges.src, edges.dst, strict=True)} == {
        ("2", "1"),
        ("2", "3"),
    }
    assert store.read_rejects().column("reason")[0].as_py().startswith("self-edge")


@pytest.mark.realdata
@pytest.mark.slow
def test_higgs_real_file_ingests_balanced(store) -> None:
    path = shared_dataset("higgs") / "higgs-activity_time.txt.gz"
    with gzip.open(path, "rt") as fh:
        first = fh.readline().split()
    assert len(first) == len(HIGGS_COLUMNS)
    summary = ingest_files(store, [path], dataset="higgs")
    assert summary.read == 563_069  # rows in the file (SNAP's description)
    assert summary.read == summary.inserted + summary.duplicates + summary.rejected
    counts = store.counts()
    assert counts["forward"] == summary.by_type["forward"].inserted
    assert counts["comment"] == summary.by_type["comment"].inserted
    # every rejected row is a self-mention/self-reply/self-retweet
    reasons = set(store.read_rejects().column("reason").to_pylist())
    assert reasons <= {
        f"self-edge: a user cannot {v}"
        for v in ("forward their own content", "comment on their own content")
    }
    assert summary.by_type["forward"].total == 354_930  # RT rows
    assert summary.by_type["comment"].total == 171_237 + 36_902  # MT + RE rows
