"""Neo4j store benchmark: statements and rows per batch, client-side cost, bulk export.

Run by hand (not part of the test suite)::

    .venv/bin/python benchmarks/bench_neo4j.py --events 1000000 --users 200000
    KOC_NEO4J_URI=neo4j://localhost:7687 KOC_NEO4J_PASSWORD=... \\
        .venv/bin/python benchmarks/bench_neo4j.py --events 1000000 --live   # wipes the database!

Without a server it measures what can be measured on the client:

* **plan**: the exact statements (and rows per statement) ``Neo4jStore.append_batch``
  sends for a load of ``--events`` view events in ingestion batches of ``--batch-rows``,
  recorded by ``tests/graph/neo4j_fake.RecordingNeo4j``, which answers like a server
  would (it tracks which users exist); the counts for 10M events scale with the batches;
* **client cost**: time spent in Python shaping Arrow batches into parameter rows
  (what limits a single writer when the server is fast);
* **read conversion**: streamed ``(src, dst, ts)`` records -> numpy arrays, per edge;
* **bulk export**: ``koc export neo4j-import`` (DuckDB COPY) rows per second.

With ``--live`` and ``KOC_NEO4J_URI`` it also loads into the server and reads back.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from graph.duckdb_store import DuckDBStore  # noqa: E402
from graph.events import EventType  # noqa: E402
from graph.neo4j_export import export_neo4j_import  # noqa: E402
from graph.neo4j_rows import edge_columns_to_arrays  # noqa: E402
from graph.neo4j_store import Neo4jStore  # noqa: E402
from graph.store import ARROW_SCHEMAS  # noqa: E402
from tests.graph.neo4j_fake import RecordingNeo4j  # noqa: E402

T0 = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp() * 1_000_000)


def synth_views(n: int, users: int, seed: int = 7) -> pa.Table:
    """``n`` view events between ``users`` users (power-law sharers), as an Arrow batch."""
    rng = np.random.default_rng(seed)
    sharer = np.minimum((rng.pareto(1.2, n) * 10).astype(np.int64), users - 1)
    viewer = rng.integers(0, users, n)
    ids = np.char.add("v", np.arange(n).astype(str))
    return pa.table(
        {
            "event_id": ids,
            "viewer": np.char.add("u", viewer.astype(str)),
            "sharer": np.char.add("u", sharer.astype(str)),
            "content_id": np.char.add("c", (sharer % 1000).astype(str)),
            "channel": pa.array(["wechat"] * n),
            "ts": pa.array(T0 + np.arange(n, dtype=np.int64) * 1000, pa.int64()).cast(
                pa.timestamp("us", tz="UTC")
            ),
        }
    ).cast(ARROW_SCHEMAS[EventType.VIEW])


def bench_plan(views: pa.Table, batch_rows: int, batch_size: int) -> dict[str, Any]:
    """Statements and rows the store sends for ``views``, recorded by a fake server."""
    driver = RecordingNeo4j(keep_params=False)  # row counts only: 10M rows of dicts won't fit
    store = Neo4jStore(driver, batch_size=batch_size)
    started, cpu = time.perf_counter(), time.process_time()
    for start in range(0, views.num_rows, batch_rows):
        store.append_batch({EventType.VIEW: views.slice(start, batch_rows)})
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    rows: dict[str, list[int]] = {}
    for name, params in driver.sent:
        n = params["n_rows"]
        if n:
            rows.setdefault(name, []).append(n)
    return {
        "transactions": driver.counts()["meta_lock"],  # one per append_batch
        "statements": dict(driver.counts()),
        "rows_per_statement": {
            k: (min(v), max(v), round(sum(v) / len(v))) for k, v in rows.items()
        },
        "returned": dict(driver.returned),
        "client_seconds": seconds,
        "client_cpu_seconds": cpu,
        "users": len(driver.users),
    }


def bench_read_conversion(n: int, fetch_size: int = 10_000) -> float:
    rng = np.random.default_rng(1)
    block = rng.integers(0, 1_000_000, (n, 3))
    chunks = [
        [col.tolist() for col in block[i : i + fetch_size].T] for i in range(0, n, fetch_size)
    ]
    started = time.process_time()
    parts = [edge_columns_to_arrays(c) for c in chunks]
    np.concatenate([p[0] for p in parts])
    return time.process_time() - started


def bench_export(views: pa.Table) -> tuple[float, dict[str, int]]:
    with tempfile.TemporaryDirectory() as tmp:
        store = DuckDBStore(Path(tmp) / "bench.duckdb")
        store.append_batch({EventType.VIEW: views})
        started = time.perf_counter()
        plan = export_neo4j_import(store, Path(tmp) / "import")
        seconds = time.perf_counter() - started
        store.close()
    return seconds, plan.rows


def bench_live(views: pa.Table, batch_rows: int) -> None:
    from graph.settings import get_settings

    store = Neo4jStore.from_settings(get_settings(store="neo4j"))
    store.wipe()
    started = time.perf_counter()
    for start in range(0, views.num_rows, batch_rows):
        store.append_batch({EventType.VIEW: views.slice(start, batch_rows)})
    load = time.perf_counter() - started
    started = time.perf_counter()
    edges = store.read_edges()
    read = time.perf_counter() - started
    print(f"live load: {views.num_rows:,} views in {load:.1f} s = {views.num_rows / load:,.0f}/s")
    print(
        f"live read_edges: {edges.n_edges:,} edges in {read:.1f} s = {edges.n_edges / read:,.0f}/s"
    )
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--batch-rows", type=int, default=500_000, help="KOC_INGEST_BATCH_ROWS")
    parser.add_argument("--batch-size", type=int, default=10_000, help="KOC_NEO4J_BATCH_SIZE")
    parser.add_argument("--live", action="store_true", help="also load into KOC_NEO4J_URI")
    parser.add_argument("--skip-export", action="store_true", help="skip the bulk export step")
    args = parser.parse_args()

    views = synth_views(args.events, args.users)
    print(f"{args.events:,} views, {args.users:,} users, ingestion batches of {args.batch_rows:,}")
    plan = bench_plan(views, args.batch_rows, args.batch_size)
    print(f"transactions: {plan['transactions']}, users created: {plan['users']:,}")
    for name, count in sorted(plan["statements"].items()):
        rows = plan["rows_per_statement"].get(name)
        print(
            f"  {name:<18} {count:>6} statements"
            + (f"  rows min/max/mean {rows}" if rows else "")
            + (f"  {plan['returned'][name]:,} records back" if plan["returned"].get(name) else "")
        )
    rate = args.events / plan["client_seconds"]
    cpu_rate = args.events / plan["client_cpu_seconds"]
    print(
        f"client-side shaping + parameters: {plan['client_seconds']:.1f} s wall = {rate:,.0f} "
        f"events/s; {plan['client_cpu_seconds']:.1f} s CPU = {cpu_rate:,.0f} events/s"
    )
    seconds = bench_read_conversion(args.events)
    print(
        f"read conversion: {args.events:,} edges in {seconds:.2f} s CPU = "
        f"{args.events / seconds:,.0f} edges/s"
    )
    if not args.skip_export:
        seconds, rows = bench_export(views)
        total = sum(rows.values())
        print(f"bulk export: {total:,} rows in {seconds:.1f} s = {total / seconds:,.0f} rows/s")
    if args.live:
        if not os.environ.get("KOC_NEO4J_URI"):
            sys.exit("--live needs KOC_NEO4J_URI")
        bench_live(views, args.batch_rows)
    else:
        print("live load: not measured (no Neo4j server; pass --live with KOC_NEO4J_URI)")


if __name__ == "__main__":
    main()
