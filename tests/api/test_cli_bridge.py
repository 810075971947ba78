"""``koc`` commands while ``koc serve`` holds the store: run by the server (real processes)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from api.cli._server_link import find_link, link_path
from api.services.local_commands import CLI_PATH, TOKEN_HEADER
from tests.api.server import running_server

pytestmark = pytest.mark.slow

KOC = str(Path(sys.executable).with_name("koc"))


def _koc(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KOC_")}
    return subprocess.run(
        [KOC, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300
    )


def test_cli_commands_run_through_the_server_holding_the_store(tmp_path: Path) -> None:
    db = tmp_path / "served.duckdb"
    with running_server(tmp_path) as (base, tokens):
        link = find_link(db)
        assert link is not None and link.url == base
        assert stat.S_IMODE(link_path(db).stat().st_mode) == 0o600

        # a read: the leaderboard, with --db after the subcommand
        top = _koc("top", "-n", "2", "--json", "--db", str(db), cwd=tmp_path)
        assert top.returncode == 0, top.stderr
        assert [r["user_id"] for r in json.loads(top.stdout)] == ["u02", "u03"]
        assert "through koc serve" in top.stderr

        # a write with a path relative to the client's working directory
        (tmp_path / "more.csv").write_text("type,user_id\nuser,fresh1\nuser,fresh2\n")
        ingest = _koc("--db", str(db), "ingest", "more.csv", "--json", cwd=tmp_path)
        assert ingest.returncode == 0, ingest.stderr
        assert json.loads(ingest.stdout)["inserted"] == 2

        # a key created and revoked from the CLI; the revoke is honoured within 10 s
        made = _koc(
            "keys",
            "create",
            "--name",
            "m",
            "--scopes",
            "read",
            "--json",
            "--db",
            str(db),
            cwd=tmp_path,
        )
        assert made.returncode == 0, made.stderr
        key = json.loads(made.stdout)
        headers = {"X-API-Key": key["token"]}
        assert httpx.get(f"{base}/v1/leaderboard?limit=1", headers=headers).status_code == 200
        revoked = _koc("keys", "revoke", key["key_id"], "--db", str(db), cwd=tmp_path)
        assert revoked.returncode == 0, revoked.stderr
        start = time.monotonic()
        while httpx.get(f"{base}/v1/leaderboard?limit=1", headers=headers).status_code != 401:
            assert time.monotonic() - start < 10, "revoked key still accepted after 10 s"
            time.sleep(0.2)

        # the revoke endpoint (scope admin): effective at once
        second = json.loads(
            _koc("keys", "create", "--name", "m2", "--json", "--db", str(db), cwd=tmp_path).stdout
        )
        admin = {"X-API-Key": tokens["admin"]}
        listed = httpx.get(f"{base}/v1/keys?active=true", headers=admin).json()
        assert second["key_id"] in {k["key_id"] for k in listed["data"]}
        assert "token" not in listed["data"][0]
        as_second = {"X-API-Key": second["token"]}
        assert httpx.get(f"{base}/v1/leaderboard?limit=1", headers=as_second).status_code == 200
        read_only = {"X-API-Key": tokens["read"]}
        url = f"{base}/v1/keys/{second['key_id']}"
        assert httpx.delete(url, headers=read_only).status_code == 403
        gone = httpx.delete(url, headers=admin)
        assert gone.status_code == 200 and gone.json()["revoked_at"] is not None
        assert httpx.get(f"{base}/v1/leaderboard?limit=1", headers=as_second).status_code == 401
        assert httpx.delete(f"{base}/v1/keys/00000000", headers=admin).status_code == 404

        # a command's error and exit status come back as they are
        missing = _koc("runs", "show", "no-such-run", "--db", str(db), cwd=tmp_path)
        assert missing.returncode == 2 and "no-such-run" in missing.stderr

        # without the link file's token the endpoint refuses
        forged = httpx.post(
            f"{base}{CLI_PATH}", json={"argv": ["status"], "cwd": "/"}, headers={TOKEN_HEADER: "x"}
        )
        assert forged.status_code == 403
        assert tokens["read"]  # the server's own keys are untouched
    assert not link_path(db).exists()  # removed when the server stops
