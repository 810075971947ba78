"""The ranking slice end to end on generated data: synth -> ingest -> rank -> top -> runs -> evaluate.

Runs the real ``koc`` commands in-process on 2,000 generated users (about ten
seconds). Expected properties, not hard-coded figures: every command succeeds, the
leaderboard leaves staff out, a second run is compared with the first, and the KOC
score finds the planted KOCs better than every baseline.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from api.cli import cli

pytestmark = pytest.mark.slow

USERS = 2_000


def _koc(runner: CliRunner, db: Path, *args: str) -> str:
    result = runner.invoke(cli, ["--db", str(db), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture(scope="module")
def slice_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("e2e")
    runner = CliRunner()
    data, db = tmp / "data", tmp / "koc.duckdb"
    _koc(runner, db, "synth", "--users", str(USERS), "--seed", "7", "--out", str(data), "--json")
    _koc(runner, db, "ingest", *sorted(str(p) for p in data.glob("*.csv.gz")))
    first = json.loads(_koc(runner, db, "rank", "--json"))
    return runner, data, db, first


def test_rank_records_a_succeeded_run(slice_run):
    _, _, _, run = slice_run
    assert run["status"] == "succeeded"
    assert run["row_counts"]["users"] >= USERS
    assert run["row_counts"]["orders_attributed"] > 0
    assert run["timings"]["total"] > 0


def test_top_excludes_staff_and_explains_scores(slice_run):
    runner, data, db, run = slice_run
    rows = json.loads(_koc(runner, db, "top", "--limit", "50", "--json"))
    assert len(rows) == 50
    assert [r["rank"] for r in rows] == list(range(1, 51))
    assert all(r["role"] not in ("employee", "kol") for r in rows)
    assert all(r["run_id"] == run["run_id"] for r in rows)
    scores = [r["score"] for r in rows]
    assert scores == sorted(scores, reverse=True)
    for r in rows:
        assert sum(r["breakdown"].values()) == pytest.approx(r["score"])
    staff = json.loads(_koc(runner, db, "top", "--role", "employee", "--json"))
    assert staff and all(r["role"] == "employee" for r in staff)
    table = _koc(runner, db, "top", "--limit", "5")
    assert rows[0]["user_id"] in table


def test_second_run_is_compared_with_the_first(slice_run):
    runner, _, db, first = slice_run
    second = json.loads(_koc(runner, db, "rank", "--json"))
    diff = json.loads(_koc(runner, db, "runs", "diff", "--json"))
    assert diff["run_id"] == second["run_id"]
    assert diff["previous_run_id"] == first["run_id"]
    # same data and config: nobody moves
    assert diff["rising"] == [] and diff["falling"] == []
    runs = json.loads(_koc(runner, db, "runs", "--json"))
    assert [r["run_id"] for r in runs[:2]] == [second["run_id"], first["run_id"]]
    assert runs[0]["config_hash"] == runs[1]["config_hash"]


def test_evaluate_beats_baselines_on_planted_kocs(slice_run):
    runner, data, db, _ = slice_run
    report = json.loads(
        _koc(runner, db, "evaluate", "--truth", str(data), "-k", "20", "-k", "50", "--json")
    )
    assert report["planted"] > 0
    for metric in ("planted precision@20", "planted ndcg@20", "planted ndcg@50"):
        assert report["beats_baselines"][metric], (metric, report["methods"])
    assert len(report["periods"]) == 3


def test_adversarial_world_keeps_staff_and_fraud_out_of_the_top_20(tmp_path):
    """On the adversarial world (undeclared staff keying codes into store orders, fraud rings,
    self-dealers, coincidental tokens) the consumer top 20 holds no true employee and no
    fraud account, and the run reports the store-code staff it found."""
    import pyarrow.parquet as pq

    runner = CliRunner()
    data, db = tmp_path / "adv", tmp_path / "adv.duckdb"
    _koc(
        runner,
        db,
        "synth",
        "--world",
        "adversarial",
        "--users",
        "4000",
        "--seed",
        "0",
        "--out",
        str(data),
        "--json",
    )
    _koc(runner, db, "ingest", *sorted(str(p) for p in data.glob("*.csv.gz")))
    run = json.loads(_koc(runner, db, "rank", "--json"))
    assert run["row_counts"]["staff_by_store_codes"] > 0
    rows = json.loads(_koc(runner, db, "top", "--limit", "20", "--json"))
    assert len(rows) == 20
    truth = pq.read_table(data / "ground_truth_users.parquet").to_pylist()
    staff = {t["user_id"] for t in truth if t["is_staff"]}
    fraud = {t["user_id"] for t in truth if t["is_fraud"]}
    top = {r["user_id"] for r in rows}
    assert not top & staff, sorted(top & staff)
    assert not top & fraud, sorted(top & fraud)
    # every row explains itself in numbers: distinct buyers by rule and the flags
    profile = rows[0]["breakdown"]
    assert set(profile) >= {"conversion", "conversion_rate"}


def test_calibrate_honours_target_and_reports_the_held_out_month(slice_run, tmp_path):
    runner, _, db, _ = slice_run
    out = {}
    for target in ("token", "attributed"):
        path = tmp_path / f"{target}.toml"
        out[target] = json.loads(
            _koc(runner, db, "calibrate", "--target", target, "--out", str(path), "--json")
        )
        assert out[target]["target"] == target
        assert f"--target {target}" in path.read_text()
        held = out[target]["holdout"]
        assert held["pair"] == "2026-09 -> 2026-10"
        if not out[target]["recommended"]:
            # never recommend weights that lose: the file keeps the current weights
            assert out[target]["weights_after"] == pytest.approx(out[target]["weights_before"])
    # a different target is a different regression: the validation figures differ
    assert [f["ndcg_baseline"] for f in out["token"]["cv"]] != [
        f["ndcg_baseline"] for f in out["attributed"]["cv"]
    ]
