"""Issue 16 with ``koc serve --workers N``: the workers hold the store read-only, and the
reading ``koc`` commands still work on it (they open it read-only too)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.api.server import running_server

KOC = str(Path(sys.executable).with_name("koc"))


@pytest.mark.parametrize("workers", [2])
def test_read_commands_work_while_multiworker_serve_runs(tmp_path: Path, workers: int) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KOC_")}
    db = str(tmp_path / "served.duckdb")

    def koc(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [KOC, "--db", db, *args], capture_output=True, text=True, env=env, timeout=300
        )

    with running_server(tmp_path, workers=workers):
        status = koc("status", "--json")
        top = koc("top", "--limit", "3", "--json")
        runs = koc("runs", "--json")
        rejects = koc("rejects", "--json")
    for done in (status, top, runs, rejects):
        assert done.returncode == 0, done.stderr
    assert json.loads(status.stdout)["latest_run"] == "r2"
    assert [r["user_id"] for r in json.loads(top.stdout)] == ["u02", "u03", "u06"]
    assert [r["run_id"] for r in json.loads(runs.stdout)][:2] == ["r2", "r1"]
