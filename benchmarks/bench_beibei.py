"""BeiBei ingestion speed: ``koc ingest --source beibei`` on the real files.

Run by hand (not part of the test suite)::

    .venv/bin/python benchmarks/bench_beibei.py --data ../shared/data/beibei

Times, each in a fresh child process:

1. the reader alone (:class:`graph.ingest.sources.beibei.BeibeiReader`: chunking,
   splitting and the id check, no validation or store), over all three files;
2. the first load of ``test.txt tune.txt invalid.txt`` into a fresh embedded store;
3. the same load again (every record is a duplicate).

Reports lines/s and records/s (wall), CPU seconds and the child's peak RSS. Results
go to ``benchmarks/results/beibei.md`` (by hand).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

FILES = ("test.txt", "tune.txt", "invalid.txt")

_CHILD = """
import json, resource, sys, time
from pathlib import Path
from graph.duckdb_store import DuckDBStore
from graph.ingest import ingest_files
from graph.ingest.sources.beibei import BeibeiReader
mode, db, batch, paths = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
t, c = time.perf_counter(), cpu()
if mode == "reader":
    d = {"read": sum(b.n_read for p in paths for b in BeibeiReader(Path(p), batch))}
else:
    with DuckDBStore(db) as store:
        s = ingest_files(store, paths, batch_rows=batch, dataset="beibei")
    d = s.to_dict(); d.pop("files"); d.pop("reject_samples")
d["wall"] = time.perf_counter() - t; d["cpu"] = cpu() - c
d["rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
print(json.dumps(d))
"""


def run_child(mode: str, db: Path, paths: list[Path], batch: int) -> dict:
    """One measurement in a fresh process: summary, wall and CPU seconds, peak RSS (MiB)."""
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, mode, str(db), str(batch), *map(str, paths)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--data", type=Path, default=Path("../shared/data/beibei"))
    ap.add_argument("--out", type=Path, default=Path("/tmp/koc-bench-beibei"))
    ap.add_argument("--batch-rows", type=int, default=500_000)
    args = ap.parse_args()
    paths = [args.data / f for f in FILES]
    lines = sum(p.read_bytes().count(b"\n") for p in paths)
    args.out.mkdir(parents=True, exist_ok=True)
    db = args.out / "beibei.duckdb"
    for f in (db, Path(str(db) + ".wal")):
        f.unlink(missing_ok=True)
    for label, mode in (("reader only", "reader"), ("first load", "load"), ("second load", "load")):
        r = run_child(mode, db, paths, args.batch_rows)
        print(
            f"{label:12s} {lines:,} lines -> {r['read']:,} records"
            + (
                f" (inserted {r['inserted']:,}, duplicates {r['duplicates']:,}, "
                f"rejected {r['rejected']:,})"
                if "inserted" in r
                else ""
            )
            + f" in {r['wall']:.2f} s wall = {lines / r['wall']:,.0f} lines/s, "
            f"{r['read'] / r['wall']:,.0f} records/s; CPU {r['cpu']:.2f} s; "
            f"peak RSS {r['rss']:,} MiB",
            flush=True,
        )


if __name__ == "__main__":
    main()
