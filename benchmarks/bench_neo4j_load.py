"""Loading events into a real Neo4j server: online batches and the offline bulk import.

Run by hand against a throw-away server (it WIPES the database)::

    eval "$(bash ../shared/neo4j/start-neo4j.sh /tmp/koc-neo4j)"
    .venv/bin/python benchmarks/bench_neo4j_load.py online --events 200000 --batch-rows 50000
    .venv/bin/python benchmarks/bench_neo4j_load.py bulk --events 1000000 \\
        --neo4j-home /tmp/koc-neo4j/neo4j          # stops, imports, restarts the server

``online``
    ``Neo4jStore.append_batch`` of ``--events`` view events (``--users`` users,
    power-law sharers, the same generator as ``bench_neo4j.py``) in ingestion batches
    of ``--batch-rows`` (one transaction each): wall seconds, rows/s, and the server
    process's CPU seconds (from ``/proc``, when ``--neo4j-home`` names a local server)
    so a busy machine's figure can be judged.
``bulk``
    the first-load path: the same events into a DuckDB file, ``koc export
    neo4j-import`` (DuckDB COPY), then ``neo4j-admin database import full`` into the
    stopped server, then start it and open the store (creates the constraints and
    indexes, which validates the data); each step timed, rows/s over the whole.

Prints one line per figure and the load average before and after.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_neo4j import synth_views  # noqa: E402

from graph.duckdb_store import DuckDBStore  # noqa: E402
from graph.events import EventType  # noqa: E402
from graph.neo4j_export import export_neo4j_import  # noqa: E402
from graph.neo4j_store import Neo4jStore  # noqa: E402
from graph.settings import get_settings  # noqa: E402


def _server_cpu(home: Path | None) -> float | None:
    """User + system CPU seconds of the local Neo4j server process (None if unknown)."""
    if home is None:
        return None
    try:
        pid = int((home / "run" / "neo4j.pid").read_text().strip())
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, ValueError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def online(args: argparse.Namespace) -> None:
    views = synth_views(args.events, args.users)
    store = Neo4jStore.from_settings(get_settings(store="neo4j"))
    store.wipe()
    cpu0, started = _server_cpu(args.neo4j_home), time.perf_counter()
    for start in range(0, views.num_rows, args.batch_rows):
        store.append_batch({EventType.VIEW: views.slice(start, args.batch_rows)})
    seconds = time.perf_counter() - started
    cpu1 = _server_cpu(args.neo4j_home)
    counts = store.counts()
    store.close()
    assert counts["view"] == args.events, counts
    print(f"online: {args.events:,} views in batches of {args.batch_rows:,}: {seconds:.1f} s")
    print(f"online: {args.events / seconds:,.0f} rows/s wall")
    if cpu0 is not None and cpu1 is not None:
        server = cpu1 - cpu0
        print(
            f"online: server CPU {server:.1f} s = {args.events / server:,.0f} rows per CPU second"
        )


def _admin(home: Path, *argv: str) -> None:
    env = {**os.environ, "NEO4J_HOME": str(home)}
    subprocess.run([str(home / "bin" / argv[0]), *argv[1:]], env=env, check=True)


def bulk(args: argparse.Namespace) -> None:
    if args.neo4j_home is None:
        sys.exit("bulk needs --neo4j-home (the server's folder: it is stopped and restarted)")
    home = args.neo4j_home
    views = synth_views(args.events, args.users)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        duck = DuckDBStore(Path(tmp) / "bulk.duckdb")
        duck.append_batch({EventType.VIEW: views})
        t1 = time.perf_counter()
        plan = export_neo4j_import(duck, Path(tmp) / "import")
        duck.close()
        t2 = time.perf_counter()
        _admin(home, "neo4j", "stop")
        t3 = time.perf_counter()
        subprocess.run(
            shlex.split(
                plan.command.replace("\\\n", " ").replace(
                    "neo4j-admin", str(home / "bin" / "neo4j-admin"), 1
                )
            ),
            env={**os.environ, "NEO4J_HOME": str(home)},
            check=True,
            stdout=subprocess.DEVNULL,
            cwd=tmp,  # neo4j-admin writes import.report into its working directory
        )
        t4 = time.perf_counter()
        _admin(home, "neo4j", "start")
        deadline = time.monotonic() + 300
        while True:
            try:
                store = Neo4jStore.from_settings(get_settings(store="neo4j"))  # creates the schema
                break
            except Exception:  # noqa: BLE001 - the server is still starting
                if time.monotonic() > deadline:
                    raise
                time.sleep(2)
        t5 = time.perf_counter()
        counts = store.counts()
        store.close()
    assert counts["view"] == args.events, counts
    print(f"bulk: {args.events:,} views, {counts['users']:,} users")
    print(f"bulk: load into DuckDB {t1 - t0:.1f} s, export (COPY) {t2 - t1:.1f} s")
    print(
        f"bulk: stop {t3 - t2:.1f} s, neo4j-admin import {t4 - t3:.1f} s, "
        f"start + constraints/indexes {t5 - t4:.1f} s"
    )
    exported = t2 - t1 + t4 - t3
    print(
        f"bulk: export + import {args.events / exported:,.0f} rows/s; "
        f"everything incl. restart {args.events / (t5 - t0):,.0f} rows/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["online", "bulk"])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--batch-rows", type=int, default=50_000, help="KOC_INGEST_BATCH_ROWS")
    parser.add_argument("--neo4j-home", type=Path, default=None, help="local server folder")
    args = parser.parse_args()
    if not os.environ.get("KOC_NEO4J_URI"):
        sys.exit(
            "needs KOC_NEO4J_URI (and KOC_NEO4J_USER/KOC_NEO4J_PASSWORD) of a throw-away server"
        )
    print(f"load average before: {_load()}")
    (online if args.mode == "online" else bulk)(args)
    print(f"load average after: {_load()}")


if __name__ == "__main__":
    main()
