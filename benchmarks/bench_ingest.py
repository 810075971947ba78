"""Ingestion throughput and peak memory: ``koc ingest`` of N events from Parquet and CSV.

Run by hand (not part of the test suite)::

    .venv/bin/python benchmarks/bench_ingest.py --events 10000000 --out /tmp/koc-bench-ingest

It writes a synthetic multi-type input (views 60 %, forwards 10 %, comments 10 %,
orders 15 %, refunds 5 %; ``type`` column plus the canonical field names, ISO-8601
timestamps with ``+08:00``, decimal-string amounts; about 0.03 % invalid rows) as
Parquet and as gzip-free CSV, then ingests each file into a fresh embedded store
in a child process and reports events/s and the child's peak RSS. A second,
identical run of each file measures the idempotent re-load (all duplicates).
Results go to ``benchmarks/results/ingest.md`` (by hand).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

COLUMNS = [
    "type", "viewer", "sharer", "forwarder", "from_user", "commenter", "on_user",
    "content_id", "order_id", "buyer", "amount", "currency", "ts",
]  # fmt: skip
TYPES = np.array(["view", "forward", "comment", "order", "refund"])
SHARES = [0.60, 0.10, 0.10, 0.15, 0.05]
T0 = 1_735_660_800  # 2025-01-01T00:00:00+08:00 ... as UTC epoch seconds


def _ids(prefix: str, numbers: np.ndarray, mask: np.ndarray) -> pa.Array:
    arr = pc.binary_join_element_wise(prefix, pc.cast(pa.array(numbers), pa.string()), "")
    return pc.if_else(pa.array(mask), arr, pa.nulls(len(numbers), pa.string()))


def make_chunk(rng: np.random.Generator, start: int, n: int, n_users: int) -> pa.Table:
    """``n`` events numbered from ``start`` (vectorised; about 0.03 % invalid rows)."""
    kind = rng.choice(len(TYPES), size=n, p=SHARES)
    a = rng.zipf(1.6, size=n) % n_users  # heavy-tailed influencers
    b = rng.integers(0, n_users, size=n)
    b = np.where(a == b, (b + 1) % n_users, b)
    seq = np.arange(start, start + n)
    ts = T0 + rng.integers(0, 180 * 86_400, size=n)
    cents = rng.integers(100, 500_000, size=n)
    bad = rng.random(n) < 0.001
    is_ = {t: kind == i for i, t in enumerate(TYPES)}
    edge = is_["view"] | is_["forward"] | is_["comment"]
    money = is_["order"] | is_["refund"]
    local = pa.array(ts + 8 * 3600, type=pa.timestamp("s"))
    amount = pc.binary_join_element_wise(
        pc.cast(pa.array(cents // 100), pa.string()),
        pc.utf8_lpad(pc.cast(pa.array(cents % 100), pa.string()), 2, "0"),
        ".",
    )
    amount = pc.if_else(pa.array(bad & money), "-1.00", amount)
    cols = {
        "type": pa.array(TYPES[kind]),
        "viewer": _ids("u", b, is_["view"]),
        "sharer": _ids("u", a, is_["view"]),
        "forwarder": _ids("u", b, is_["forward"]),
        "from_user": _ids("u", a, is_["forward"]),
        "commenter": _ids("u", np.where(bad, a, b), is_["comment"]),  # some self-edges
        "on_user": _ids("u", a, is_["comment"]),
        "content_id": _ids("c", a * 7 + seq % 7, edge),
        "order_id": _ids("o", np.where(is_["refund"], seq - 1, seq), money),
        "buyer": _ids("u", b, is_["order"]),
        "amount": pc.if_else(pa.array(money), amount, pa.nulls(n, pa.string())),
        "currency": pc.if_else(pa.array(is_["order"]), "CNY", pa.nulls(n, pa.string())),
        "ts": pc.strftime(local, format="%Y-%m-%dT%H:%M:%S+08:00"),
    }
    return pa.table(cols)


def generate(out: Path, n: int, chunk: int = 1_000_000, seed: int = 0) -> tuple[Path, Path]:
    """Write ``events.parquet`` and ``events.csv`` with ``n`` rows, chunk by chunk."""
    out.mkdir(parents=True, exist_ok=True)
    pq_path, csv_path = out / f"events-{n}.parquet", out / f"events-{n}.csv"
    if pq_path.exists() and csv_path.exists():
        return pq_path, csv_path
    rng = np.random.default_rng(seed)
    n_users = max(1000, n // 20)
    schema = pa.schema([(c, pa.string()) for c in COLUMNS])
    with pq.ParquetWriter(pq_path, schema) as pw, pacsv.CSVWriter(csv_path, schema) as cw:
        for start in range(0, n, chunk):
            t = make_chunk(rng, start, min(chunk, n - start), n_users).cast(schema)
            pw.write_table(t)
            cw.write_table(t)
    return pq_path, csv_path


_CHILD = """
import json, resource, sys, time
from graph.duckdb_store import DuckDBStore
from graph.ingest import ingest_files
db, path, batch, dataset = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] or None
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
with DuckDBStore(db) as store:
    t, c = time.perf_counter(), cpu()
    s = ingest_files(store, [path], batch_rows=batch, dataset=dataset)
    d = s.to_dict(); d["wall"] = time.perf_counter() - t; d["cpu"] = cpu() - c
    d.pop("files"); d.pop("reject_samples")
print(json.dumps(d))
"""


def run_child(db: Path, path: Path, batch: int, dataset: str = "") -> dict:
    """Ingest in a fresh process; returns its summary, wall and CPU time, peak RSS (MiB)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, str(db), str(path), str(batch), dataset],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    # ru_maxrss of children is the max over all children so far: run the biggest last
    out["peak_rss_mib"] = round(max(rss, before) / 1024)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--out", type=Path, default=Path("/tmp/koc-bench-ingest"))
    ap.add_argument("--batch-rows", type=int, default=500_000)
    ap.add_argument("--formats", default="parquet,csv")
    ap.add_argument("--twice", action="store_true", help="also time an idempotent second load")
    ap.add_argument("--higgs", type=Path, default=None, help="also time the Higgs activity file")
    args = ap.parse_args()
    if args.higgs is not None:
        db = args.out / "store-higgs.duckdb"
        args.out.mkdir(parents=True, exist_ok=True)
        for f in (db, Path(str(db) + ".wal")):
            f.unlink(missing_ok=True)
        _report("higgs", "first load", run_child(db, args.higgs, args.batch_rows, "higgs"))
    t = time.perf_counter()
    pq_path, csv_path = generate(args.out, args.events)
    print(f"input: {args.events:,} events ({time.perf_counter() - t:.0f} s to generate); "
          f"parquet {pq_path.stat().st_size / 2**20:.0f} MiB, csv {csv_path.stat().st_size / 2**20:.0f} MiB")  # fmt: skip
    for fmt in args.formats.split(","):
        path = pq_path if fmt == "parquet" else csv_path
        db = args.out / f"store-{fmt}-{args.events}.duckdb"
        for f in (db, Path(str(db) + ".wal")):
            f.unlink(missing_ok=True)
        runs = [("first load", run_child(db, path, args.batch_rows))]
        if args.twice:
            runs.append(("second load (duplicates)", run_child(db, path, args.batch_rows)))
        for label, r in runs:
            _report(fmt, label, r)


def _report(fmt: str, label: str, r: dict) -> None:
    print(f"{fmt:8s} {label:26s} read {r['read']:,} inserted {r['inserted']:,} "
          f"duplicates {r['duplicates']:,} rejected {r['rejected']:,} in {r['wall']:.1f} s wall "
          f"= {r['read'] / r['wall']:,.0f} events/s; CPU {r['cpu']:.1f} s "
          f"= {r['read'] / r['cpu']:,.0f} events per CPU-second; "
          f"peak RSS <= {r['peak_rss_mib']:,} MiB", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
