"""Parity of the Spark engine with the single-node ranking on one generated store.

One adversarial ``koc synth`` world (2,000 users: staff keying codes into tills,
colluding buyers on shared devices, coupon hunters) is ranked twice, by
:func:`api.services.ranking.run_ranking` and by ``koc rank --engine spark --master
local[2]`` (:func:`api.services.spark_ranking.run_ranking_spark`); both runs are
stored, and the cluster entry point (``python -m api.cli.spark_job``) ranks the
exported lake a third time into Parquet. The contract (issue 17): PageRank within 1e-9 in L1, reach exactly
equal (same hash), every other component and signal exactly equal, the top 1000
identical with the same tie-breaks, and the run readable like any other.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pytest
from click.testing import CliRunner

from api.cli import cli
from api.services.leaderboard import leaderboard
from api.services.ranking import run_ranking
from graph.duckdb_store import DuckDBStore
from influence.config import COMPONENTS, load_score_config

pytestmark = pytest.mark.slow

USERS = 2_000


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory, spark):
    tmp = tmp_path_factory.mktemp("spark")
    runner = CliRunner()
    data, db, lake = tmp / "data", tmp / "koc.duckdb", tmp / "lake"
    synth = ["synth", "--world", "adversarial", "--users", str(USERS), "--seed", "7"]
    for args in (synth + ["--out", str(data)], ["ingest"]):
        if args[0] == "ingest":
            args += sorted(str(p) for p in data.glob("*.csv.gz"))
        result = runner.invoke(cli, ["--db", str(db), *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
    with DuckDBStore(db) as store:
        single = run_ranking(store, load_score_config(None))
    spark_rank = ["rank", "--engine", "spark", "--master", "local[2]", "--lake", str(lake)]
    result = runner.invoke(cli, ["--db", str(db), *spark_rank, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert spark.sparkContext._jsc is not None  # the CLI left the running session alone
    store = DuckDBStore(db)
    distributed = store.latest_run()
    yield store, single, distributed, lake
    store.close()


def _component(store: DuckDBStore, run_id: str, name: str) -> dict[str, np.ndarray]:
    t = store.read_components(run_id, component=name)
    order = pc.sort_indices(t, sort_keys=[("user_id", "ascending")])
    t = t.take(order)
    return {c: t.column(c).to_numpy(zero_copy_only=False) for c in t.column_names}


def test_spark_run_is_stored_like_any_run(two_runs):
    store, single, distributed, _ = two_runs
    assert distributed.run_id != single.run_id
    assert distributed.status == "succeeded"
    assert distributed.params["engine"] == "spark"
    assert distributed.params["spark_master"] == "local[2]"
    for count in (
        "users",
        "edges",
        "orders",
        "orders_attributed",
        "staff_by_store_codes",
        "collusion_flagged",
    ):
        assert distributed.row_counts[count] == single.row_counts[count], count
    # the world plants staff channels and collusion: the evidence rules are exercised
    assert single.row_counts["staff_by_store_codes"] > 0
    assert single.row_counts["collusion_flagged"] > 0
    rows = leaderboard(store, limit=10)  # the leaderboard reads the Spark run unchanged
    assert len(rows) == 10 and rows[0]["run_id"] == distributed.run_id


def test_spark_pagerank_within_1e9_l1(two_runs):
    store, single, distributed, _ = two_runs
    a = _component(store, single.run_id, "pagerank")
    b = _component(store, distributed.run_id, "pagerank")
    assert np.array_equal(a["user_id"], b["user_id"])
    assert np.abs(a["raw"] - b["raw"]).sum() < 1e-9
    assert distributed.row_counts["pagerank_iterations"] == single.row_counts["pagerank_iterations"]


@pytest.mark.parametrize("name", [c for c in COMPONENTS if c != "pagerank"])
def test_spark_component_equals_single_node_exactly(two_runs, name):
    store, single, distributed, _ = two_runs
    a = _component(store, single.run_id, name)
    b = _component(store, distributed.run_id, name)
    assert np.array_equal(a["user_id"], b["user_id"])
    assert np.array_equal(a["raw"], b["raw"]), name
    assert np.array_equal(a["normalized"], b["normalized"]), name


def test_spark_signals_equal_single_node_exactly(two_runs):
    store, single, distributed, _ = two_runs
    a = store.read_components(single.run_id).filter(pc.is_null(pc.field("normalized")))
    b = store.read_components(distributed.run_id).filter(pc.is_null(pc.field("normalized")))
    key = [("component", "ascending"), ("user_id", "ascending")]
    a, b = a.take(pc.sort_indices(a, sort_keys=key)), b.take(pc.sort_indices(b, sort_keys=key))
    assert a.num_rows > 0
    for col in ("user_id", "component", "raw"):
        assert a.column(col).equals(b.column(col)), col


def test_spark_top_1000_identical(two_runs):
    store, single, distributed, _ = two_runs
    a = store.read_scores(single.run_id, limit=1000)
    b = store.read_scores(distributed.run_id, limit=1000)
    assert a.column("user_id").equals(b.column("user_id"))
    assert a.column("rank").equals(b.column("rank"))
    assert a.column("role").equals(b.column("role"))
    assert np.abs(
        a.column("score").to_numpy() - b.column("score").to_numpy()
    ).max() == pytest.approx(0.0, abs=1e-12)


def test_spark_communities_equal_the_single_node_backbone_partition(two_runs):
    from sklearn.metrics import adjusted_rand_score

    from api.services.ranking import ranking_snapshot
    from graph.arrays import node_index
    from influence.communities import strongest_ties, ties_communities, undirected_ties

    store, single, distributed, _ = two_runs
    cfg = load_score_config(None)
    sec = cfg.communities
    snapshot = ranking_snapshot(store, cfg, now=single.watermark)
    backbone = strongest_ties(undirected_ties(snapshot), sec.backbone_ties, seed=sec.seed)
    expected = ties_communities(
        backbone, method=sec.method, resolution=sec.resolution, seed=sec.seed
    )
    scores = store.read_scores(distributed.run_id)
    rows = node_index(snapshot.node_ids, scores.column("user_id"))
    got = scores.column("community").to_numpy(zero_copy_only=False).astype(np.int64)
    assert (rows >= 0).all() and got.size == snapshot.n_nodes  # every user has a community
    sizes = np.bincount(got)
    assert sizes[0] == sizes.max()  # 0 = largest, as for the single node
    # the same method on the backbone selected on Spark: equal weights are broken by a
    # hash there and by a seeded permutation here, so allow for a few moved users
    assert adjusted_rand_score(expected[rows], got) > 0.95


def test_export_parquet_writes_the_lake_layout(two_runs):
    store, _, _, lake = two_runs
    assert (Path(lake) / "manifest.json").exists()
    for part in ("users", "events/type=view", "events/type=referral", "orders", "refunds"):
        assert any((Path(lake) / part).rglob("*.parquet")), part


def test_spark_job_writes_the_same_ranking_as_parquet(two_runs, tmp_path):
    import pyarrow.parquet as pq

    store, single, _, lake = two_runs
    out = tmp_path / "ranking"
    args = ["--input", str(lake), "--output", str(out), "--master", "local[2]"]
    result = CliRunner().invoke(cli, ["spark-job", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    written = pq.read_table(out / "scores")
    written = written.take(pc.sort_indices(written, sort_keys=[("rank", "ascending")]))
    want = store.read_scores(single.run_id, limit=1000)
    assert (
        written.slice(0, 1000).column("user_id").to_pylist() == want.column("user_id").to_pylist()
    )
    assert pq.read_table(out / "components").num_rows > written.num_rows
