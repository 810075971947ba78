"""The whole product on a real Neo4j server, compared with the same pipeline on DuckDB.

Generated data (1,500 users) goes through the real ``koc`` commands, as separate
processes, twice: once on the embedded store, once on the Neo4j server named by
``KOC_NEO4J_URI`` with its tables (keys, ledger, role history) in a DuckDB file
(``KOC_LEDGER_PATH``): ingest -> rank -> top -> commissions run -> keys create ->
``koc serve`` -> ``GET /readyz``, ``/v1/leaderboard``, a profile and the ledger over
real HTTP. Both must give the same leaderboard, the same profile and the same
commission entries. Skips with a reason without ``KOC_NEO4J_URI`` (`bash
scripts/test.sh` starts a server from ../shared/neo4j when it can). The Neo4j
database is WIPED.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from graph.synth._params import SynthParams
from graph.synth.generator import generate
from tests.api.server import koc_serve

pytestmark = [pytest.mark.slow, pytest.mark.neo4j]

LIVE_URI = os.environ.get("KOC_NEO4J_URI")
ROOT = Path(__file__).resolve().parents[1]
KOC = str(Path(sys.executable).with_name("koc"))
USERS = 1_500


def _env(**koc: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KOC_")}
    return {**env, **koc}


def _koc(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [KOC, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, f"koc {' '.join(args)}: {done.stdout[-2000:]}{done.stderr[-3000:]}"
    return done.stdout


def _pipeline(env: dict[str, str], files: list[str]) -> dict[str, Any]:
    ingest = json.loads(_koc(env, "ingest", *files, "--json"))
    assert ingest["read"] == ingest["inserted"] + ingest["duplicates"] + ingest["rejected"]
    run = json.loads(_koc(env, "rank", "--json"))
    assert run["status"] == "succeeded"
    top = json.loads(_koc(env, "top", "--limit", "30", "--json"))
    _koc(env, "commissions", "run", "--json")
    key = json.loads(
        _koc(env, "keys", "create", "--name", "e2e", "--scopes", "read,finance", "--json")
    )
    headers = {"X-API-Key": key["token"]}
    with koc_serve(["serve", "--private"], env) as base:
        ready = httpx.get(f"{base}/readyz", timeout=120)
        assert ready.status_code == 200, ready.text
        board = httpx.get(
            f"{base}/v1/leaderboard", params={"limit": 30}, headers=headers, timeout=120
        )
        assert board.status_code == 200, board.text
        first = board.json()["data"][0]["user_id"]
        profile = httpx.get(f"{base}/v1/users/{first}", headers=headers, timeout=120)
        assert profile.status_code == 200, profile.text
        ledger = httpx.get(
            f"{base}/v1/commissions", params={"limit": 1000}, headers=headers, timeout=120
        )
        assert ledger.status_code == 200, ledger.text
    return {
        "ingest": {k: ingest[k] for k in ("read", "inserted", "duplicates", "rejected")},
        "top": top,
        "board": board.json()["data"],
        "profile": profile.json(),
        "ledger": ledger.json()["data"],
    }


def _ranked(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(r["user_id"], r["rank"], round(r["score"], 9)) for r in rows]


def _entries(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    keep = ("order_id", "beneficiary", "level", "amount", "status", "period")
    return sorted(tuple(str(r.get(k)) for k in keep) for r in rows)


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Any]]:
    if not LIVE_URI:
        pytest.skip("KOC_NEO4J_URI is not set: no Neo4j server for the end-to-end test")
    tmp = tmp_path_factory.mktemp("neo4j_e2e")
    generate(tmp / "data", SynthParams(users=USERS, seed=7))
    files = sorted(str(p) for p in (tmp / "data").glob("*.csv.gz"))
    embedded = _pipeline(_env(KOC_DB_PATH=str(tmp / "koc.duckdb")), files)
    neo = _env(
        KOC_STORE="neo4j",
        KOC_NEO4J_URI=LIVE_URI,
        KOC_NEO4J_USER=os.environ.get("KOC_NEO4J_USER", "neo4j"),
        KOC_NEO4J_PASSWORD=os.environ.get("KOC_NEO4J_PASSWORD", "neo4j"),
        KOC_LEDGER_PATH=str(tmp / "ledger.duckdb"),
        KOC_DB_PATH=str(tmp / "unused.duckdb"),
    )
    from graph.factory import open_store
    from graph.settings import get_settings

    store = open_store(get_settings(store="neo4j", neo4j_uri=LIVE_URI))
    store.wipe()  # type: ignore[attr-defined]
    store.close()
    on_neo4j = _pipeline(neo, files)
    assert not (tmp / "unused.duckdb").exists()  # nothing went to the embedded file
    return embedded, on_neo4j


def test_neo4j_pipeline_loads_the_same_rows(both):
    embedded, on_neo4j = both
    assert on_neo4j["ingest"] == embedded["ingest"]


def test_neo4j_pipeline_ranks_identically(both):
    embedded, on_neo4j = both
    assert len(embedded["top"]) == 30
    assert _ranked(on_neo4j["top"]) == _ranked(embedded["top"])
    assert _ranked(on_neo4j["board"]) == _ranked(embedded["board"])


def test_neo4j_pipeline_serves_the_same_profile(both):
    embedded, on_neo4j = both
    mine, ref = on_neo4j["profile"], embedded["profile"]
    assert mine["user_id"] == ref["user_id"]
    for key in ("rank", "role", "spend", "referrals"):
        assert mine.get(key) == ref.get(key), key


def test_neo4j_pipeline_books_the_same_commissions(both):
    embedded, on_neo4j = both
    assert embedded["ledger"], "the generated data should earn some commission"
    assert _entries(on_neo4j["ledger"]) == _entries(embedded["ledger"])
