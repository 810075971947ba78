"""The README's main job: `koc demo` end to end on the embedded store, as a real process."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_demo_command_runs_twice_and_writes_reports(tmp_path: Path) -> None:
    db, out, reports = tmp_path / "koc.duckdb", tmp_path / "demo", tmp_path / "reports"
    cmd = [
        sys.executable,
        "-c",
        "from api.cli import main; main()",
        "--db",
        str(db),
        "demo",
        "--users",
        "1000",
        "--out",
        str(out),
        "--reports",
        str(reports),
    ]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "infer the roles" in first.stdout  # the demo runs role inference before ranking
    for name in (
        "leaderboard.csv",
        "rejects.csv",
        "commissions-2026-10.html",
        "commissions-2026-10.xlsx",
        "commissions-2026-10-summary.csv",
    ):
        assert (reports / name).stat().st_size > 0, name
    with (reports / "leaderboard.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["rank"]) for r in rows] == list(range(1, len(rows) + 1))
    overall = [int(r["overall_rank"]) for r in rows]  # the run's rank, staff left out in between
    assert overall == sorted(overall)
    assert all(int(r["overall_rank"]) >= int(r["rank"]) for r in rows)
    scores = [float(r["score"]) for r in rows]
    assert scores == sorted(scores, reverse=True)
    # the deliberately broken rows were quarantined, not lost and not loaded
    with (reports / "rejects.csv").open(encoding="utf-8") as fh:
        assert sum(1 for _ in csv.DictReader(fh)) > 0

    # idempotent ingestion and an append-only ledger make a second run safe
    second = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "already closed" in second.stdout
