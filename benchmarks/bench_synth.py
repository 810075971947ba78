"""Benchmark ``koc synth``: wall time, CPU time, peak memory and rows per second.

Run by hand (not part of the test suite)::

    .venv/bin/python benchmarks/bench_synth.py --users 1000000
    .venv/bin/python benchmarks/bench_synth.py --users 200000 --format parquet

Peak memory is the process's maximum resident set size (``ru_maxrss``), sampled
once at the end; a background thread also samples RSS every 0.2 s per stage to
show that memory stays flat while chunks are written.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import threading
import time
from pathlib import Path

import psutil

from graph.synth import SynthParams, generate

__all__ = ["main"]


def main() -> None:
    """Parse options, generate once, print a JSON summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--format", default="csv", choices=["csv", "parquet", "jsonl"])
    parser.add_argument("--chunk-users", type=int, default=50_000)
    parser.add_argument("--out", type=Path, default=None, help="default: a temporary folder")
    args = parser.parse_args()

    proc = psutil.Process()
    samples: list[tuple[float, int, str]] = []
    stage = ["population"]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.2):
            samples.append((time.perf_counter(), proc.memory_info().rss, stage[0]))

    def progress(name: str, step: int, total: int) -> None:
        stage[0] = name

    with tempfile.TemporaryDirectory(prefix="bench_synth_") as tmp:
        out = args.out or Path(tmp)
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        t0, cpu0 = time.perf_counter(), time.process_time()
        result = generate(
            out,
            SynthParams(users=args.users, seed=args.seed, chunk_users=args.chunk_users),
            fmt=args.format,
            progress=progress,
        )
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        done.set()
        sampler.join()
        size = sum(p.stat().st_size for p in out.iterdir() if p.is_file())
    chunk_rss = [rss for _, rss, name in samples if name.startswith("users ")]
    summary = {
        "users": args.users,
        "format": args.format,
        "rows": result.total_rows,
        "broken_rows": result.broken_rows,
        "counts": result.counts,
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "rows_per_s_wall": round(result.total_rows / wall),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "rss_during_chunks_mb": {
            "min": round(min(chunk_rss) / 2**20) if chunk_rss else None,
            "max": round(max(chunk_rss) / 2**20) if chunk_rss else None,
        },
        "output_mb": round(size / 2**20, 1),
        "cpus": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
