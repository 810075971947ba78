"""One regression command: ingest, rank and API next to the by-hand pipeline and the peers.

Run by hand (not part of the test suite), under the shared bench lock::

    flock /tmp/koc-bench.lock .venv/bin/python benchmarks/bench_regression.py --users 1000000

Steps (``--steps``, all by default; each prints its figures and the ratios):

``ingest``
    ``koc synth`` data (user records + about ten events per user) ingested into an
    empty store and into a store that already holds that load, next to raw DuckDB
    ``read_csv`` of the same files (:func:`bench_ingest.users_bench`).
``rank``
    ``koc rank`` on the ingested store (whole pipeline, wall and peak RSS), then our
    PageRank vs a bare scipy power iteration vs igraph with graph construction
    (:func:`bench_metrics.pagerank_compare`).
``communities``
    our communities call vs networkit's ParallelLeiden on the same CSR build, when
    networkit is installed (:func:`bench_communities.bench_peers`); otherwise only the
    default ``leiden_communities`` call (:func:`bench_communities.bench_graph`).
``api``
    ``koc serve`` on the ranked store: first page and profile after start, then random
    deep leaderboard pages of every sort and filter with wrk (:func:`bench_api.pages`).

The store, the synth files and a JSON of every figure stay in ``--out``. Absolute times
on the shared machine are noisy: read the ratios, and the load average printed
before and after.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_ingest  # noqa: E402

STEPS = ("ingest", "rank", "communities", "api")


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}x" if a and b else "n/a"


def ingest_step(out: Path, users: int, batch: int) -> dict[str, Any]:
    res = bench_ingest.users_bench(out, users, batch)
    bench_ingest.report_users(users, res)
    return res


def koc_rank(db: Path) -> dict[str, Any]:
    """``koc --db db rank --json`` in a child process: wall and the child's own peak RSS."""
    koc = str(ROOT / ".venv" / "bin" / "koc")
    t = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            [koc, "--db", str(db), "rank", "--json"], stdout=subprocess.PIPE, stderr=err
        )
        stdout = proc.stdout.read() if proc.stdout else b""
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - t
        if proc.returncode:
            err.seek(0)
            raise SystemExit(f"koc rank failed: {err.read().decode()[-2000:]}")
    summary = json.loads(stdout)
    return {
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_rss_gb": round(usage.ru_maxrss / 1024**2, 2),
        "run": summary.get("run_id"),
    }


def rank_step(db: Path) -> dict[str, Any]:
    import bench_metrics

    res: dict[str, Any] = {"koc_rank": koc_rank(db)}
    print(
        f"koc rank: {res['koc_rank']['wall_s']:.1f} s wall, {res['koc_rank']['cpu_s']:.1f} CPU-s, "
        f"peak RSS {res['koc_rank']['peak_rss_gb']} GB",
        flush=True,
    )
    pr = bench_metrics.pagerank_compare(db, 100_000)
    res["pagerank"] = pr
    ours = pr.get("ours_s")
    print(
        f"PageRank: ours {ours:.2f} s, bare scipy {pr.get('bare_scipy_s', 0):.2f} s "
        f"(ours / scipy {_ratio(ours, pr.get('bare_scipy_s'))}), igraph with construction "
        f"{pr.get('igraph_with_construction_s', 0):.2f} s (igraph / ours "
        f"{_ratio(pr.get('igraph_with_construction_s'), ours)}); L1 vs igraph "
        f"{pr.get('l1_vs_igraph', float('nan')):.2e}",
        flush=True,
    )
    return res


def communities_step(db: Path) -> dict[str, Any]:
    """Ours (the default call) and, with networkit installed, ours vs networkit's
    ParallelLeiden side by side (:func:`bench_communities.bench_peers`, one round)."""
    import bench_communities

    if importlib.util.find_spec("networkit") is None:
        ns = argparse.Namespace(
            db=db, end_to_end=True, backbone=[], full=False, iterations=[2], seeds=[0]
        )
        ours = bench_communities.bench_graph(ns)
        wall = ours.get("leiden_communities_default", {}).get("wall_s")
        print(f"communities: ours {wall} s; networkit skipped (not installed)", flush=True)
        return {"ours": ours, "networkit": "skipped: networkit not installed"}
    peers = bench_communities.bench_peers(
        argparse.Namespace(db=db, repeat=1, only=["koc_plm", "networkit_parallel_leiden_csr"])
    )
    for name, m in peers["median"].items():
        print(
            f"communities: {name} {m['wall_s']:.1f} s wall, modularity {m['modularity']:.4f}, "
            f"{m['communities']:.0f} communities",
            flush=True,
        )
    ratios = ", ".join(f"{k} {v}x" for k, v in peers.get("wall_ratio_to_koc", {}).items())
    print(f"communities: wall / ours: {ratios}", flush=True)
    return {"peers": peers}


def api_step(db: Path, duration: int) -> dict[str, Any]:
    import bench_api

    res = bench_api.pages(db, duration, connections=4)
    print(
        f"API deep pages: {res['rps']:.0f} requests/s (target >= 200: "
        f"{_ratio(res['rps'], 200)}), p99 {res['p99']:.1f} ms (target < 50: "
        f"{_ratio(res['p99'], 50)} of it); first page {res['first_page_s']:.1f} s after start",
        flush=True,
    )
    return res


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--users", type=int, default=100_000, help="koc synth size")
    ap.add_argument("--out", type=Path, default=Path("/tmp/koc-bench-regression"))
    ap.add_argument("--steps", default=",".join(STEPS), help="comma-separated subset")
    ap.add_argument("--batch-rows", type=int, default=500_000)
    ap.add_argument("--duration", type=int, default=15, help="seconds of wrk load")
    args = ap.parse_args()
    steps = args.steps.split(",")
    unknown = set(steps) - set(STEPS)
    if unknown:
        raise SystemExit(f"unknown steps {sorted(unknown)}; known: {', '.join(STEPS)}")
    out = args.out / f"users-{args.users}"
    db = out / f"store-{args.users}.duckdb"
    results: dict[str, Any] = {"users": args.users, "load_before": _load()}
    print(f"load average at start: {results['load_before']}", flush=True)
    if "ingest" in steps:
        results["ingest"] = ingest_step(out, args.users, args.batch_rows)
    elif not db.exists():
        raise SystemExit(f"{db} is missing: run the ingest step first")
    if "rank" in steps:
        results["rank"] = rank_step(db)
    if "communities" in steps:
        results["communities"] = communities_step(db)
    if "api" in steps:
        results["api"] = api_step(db, args.duration)
    results["load_after"] = _load()
    print(f"load average at end: {results['load_after']}", flush=True)
    (out / "regression.json").write_text(json.dumps(results, indent=2, default=str))
    print(f"figures: {out / 'regression.json'}")


if __name__ == "__main__":
    main()
