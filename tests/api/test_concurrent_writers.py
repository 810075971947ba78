"""Parallel writers racing on the same orders and events (issue 14, H1).

A real ``koc serve`` process takes ``POST /v1/events`` from many threads at once
while ``koc ingest`` processes load files with the same orders and events. Every
writer offers the same order ids with its *own* amounts (conflicts), the same
shared views (duplicates) and views of its own (new). Afterwards each
``order_id`` and each ``event_id`` is stored exactly once, the stored amount of an
order is the one of the writer that was told ``inserted``, and every accepted row
is present (inserted counts add up to what is stored).

On the embedded store a second process cannot open the file while the server
holds it, so the CLI writers must fail cleanly (exit 2, nothing written) and the
race is between the API's request threads. (On Neo4j, where CLI and API can write
at once, the same identity rules are checked inside the write transaction by the
store contract suite, ``tests/graph/test_store_contract.py``, against a live server.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from graph.duckdb_store import DuckDBStore
from graph.events import EventType
from tests.api.server import running_server

N_API = 6  # API writer threads
N_CLI = 2  # koc ingest processes
ROUNDS = 3  # batches per API writer
N_ORDERS = 20
TS = "2024-05-01T10:00:00Z"


def _records(writer: str, rnd: int) -> list[dict[str, Any]]:
    """One batch of writer ``writer``: shared orders (own amounts), shared and own views."""
    amount = f"{10 + sum(map(ord, writer)) % 90}.{rnd:02d}"
    orders = [
        {
            "type": "order",
            "order_id": f"race-o{k}",
            "buyer": f"race-b{k}",
            "amount": amount,
            "currency": "CNY",
            "ts": TS,
        }
        for k in range(N_ORDERS)
    ]
    shared = [
        {
            "type": "view",
            "viewer": f"race-v{k}",
            "sharer": "race-s",
            "content_id": "race-c",
            "ts": TS,
        }
        for k in range(20)
    ]
    own = [
        {
            "type": "view",
            "viewer": f"race-{writer}-{rnd}-{k}",
            "sharer": "race-s",
            "content_id": "race-c",
            "ts": TS,
        }
        for k in range(10)
    ]
    return orders + shared + own


def _post_all(base: str, token: str) -> list[tuple[str, dict[str, Any]]]:
    start = threading.Barrier(N_API)

    def work(i: int) -> list[tuple[str, dict[str, Any]]]:
        writer = f"api{i}"
        out = []
        with httpx.Client(base_url=base, headers={"X-API-Key": token}, timeout=120) as client:
            start.wait()
            for rnd in range(ROUNDS):
                r = client.post("/v1/events", json=_records(writer, rnd))
                assert r.status_code == 200, r.text
                out.append((writer, r.json()))
        return out

    with ThreadPoolExecutor(N_API) as pool:
        return [x for part in pool.map(work, range(N_API)) for x in part]


def _cli_files(tmp_path: Path) -> list[Path]:
    files = []
    for i in range(N_CLI):
        path = tmp_path / f"cli{i}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in _records(f"cli{i}", 0)))
        files.append(path)
    return files


def _koc(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    koc = Path(sys.executable).with_name("koc")
    return subprocess.Popen(
        [str(koc), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _offered() -> set[Decimal]:
    writers = [f"api{i}" for i in range(N_API)] + [f"cli{i}" for i in range(N_CLI)]
    return {Decimal(_records(w, r)[0]["amount"]) for w in writers for r in range(ROUNDS)}


def _check(store: Any, accepted: Counter[str]) -> None:
    orders = [
        o
        for o in store.read_events(EventType.ORDER).to_pylist()
        if o["order_id"].startswith("race-")
    ]
    ids = Counter(o["order_id"] for o in orders)
    assert set(ids) == {f"race-o{k}" for k in range(N_ORDERS)} and set(ids.values()) == {1}
    views = [v for v in store.read_events(EventType.VIEW).to_pylist() if v["sharer"] == "race-s"]
    assert len({v["event_id"] for v in views}) == len(views)  # each event_id once
    # every accepted row is present, and nothing else
    assert len(orders) == accepted["order"] and len(views) == accepted["view"]
    assert {o["amount"] for o in orders} <= _offered()  # one writer's content, not a mix
    spend = {r["user_id"]: r["gross"] for r in store.read_spend().to_pylist()}
    assert all(spend[o["buyer"]] == o["amount"] for o in orders)  # spend counts each order once


def test_concurrent_api_writers_one_order_each(tmp_path: Path) -> None:
    files = _cli_files(tmp_path)
    with running_server(tmp_path) as (base, tokens):
        db = str(tmp_path / "served.duckdb")
        env = {k: v for k, v in os.environ.items() if not k.startswith("KOC_")}
        clis = [_koc("--db", db, "ingest", str(f), "--json", env=env) for f in files]
        results = _post_all(base, tokens["ingest"])
        cli_out = [p.communicate(timeout=300) for p in clis]
    # the embedded store has one writer process: the CLI writers run inside the server
    accepted: Counter[str] = Counter()
    for (out, err), p in zip(cli_out, clis, strict=True):
        assert p.returncode == 0 and "through koc serve" in err and "Traceback" not in err, err
        for t, c in json.loads(out)["by_type"].items():
            accepted[t] += c["inserted"]
    conflicts = 0
    for _writer, body in results:
        assert body["read"] == body["inserted"] + body["duplicates"] + body["rejected"]
        for t, c in body["by_type"].items():
            accepted[t] += c["inserted"]
        conflicts += sum("conflict: this order_id" in e["message"] for e in body["errors"])
    # 20 orders x (6 API writers x 3 rounds + the CLI files) offers: 20 inserted, the rest
    # conflicts
    assert accepted["order"] == N_ORDERS
    total_offers = N_API * ROUNDS * N_ORDERS + N_CLI * N_ORDERS
    rejected_orders = sum(b["by_type"]["order"]["rejected"] for _, b in results) + sum(
        json.loads(out)["by_type"]["order"]["rejected"] for out, _ in cli_out
    )
    assert rejected_orders == total_offers - N_ORDERS
    assert conflicts >= min(rejected_orders, 20)  # errors list at most 20 samples per response
    with DuckDBStore(tmp_path / "served.duckdb", read_only=True) as store:
        _check(store, accepted)
        quarantined = [r for r in store.read_rejects().to_pylist() if r["field"] == "order_id"]
        assert len(quarantined) == total_offers - N_ORDERS
        assert all("conflict: this order_id" in r["reason"] for r in quarantined)
