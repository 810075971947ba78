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

With ``--users N[,N...]`` it measures ``koc synth`` data instead (user records plus
about ten events per user, the files ``koc ingest OUT/*.csv.gz`` loads), side by side
with raw DuckDB ``read_csv`` of the same files into tables (same threads and memory
limit): a fresh store, then a store that already holds that load (a second world,
seed 1: the same user ids with other attributes, and new events), with rows/s,
CPU, peak RSS, the ratio to ``read_csv`` and the growth exponent across sizes::

    .venv/bin/python benchmarks/bench_ingest.py --users 100000,1000000
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
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
db, paths, batch, dataset = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3]), sys.argv[4] or None
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
with DuckDBStore(db) as store:
    t, c = time.perf_counter(), cpu()
    s = ingest_files(store, paths, batch_rows=batch, dataset=dataset)
    d = s.to_dict(); d["wall"] = time.perf_counter() - t; d["cpu"] = cpu() - c
    d["by_file"] = {f["source"].rsplit("/", 1)[-1]: round(f["seconds"], 2) for f in d.pop("files")}
    d.pop("reject_samples")
d["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
print(json.dumps(d))
"""

#: raw DuckDB: every file into its own table with ``read_csv``, nothing checked
_RAW_CHILD = """
import json, resource, sys, time, duckdb
db, paths = sys.argv[1], json.loads(sys.argv[2])
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
con = duckdb.connect(db, config={"threads": 2, "memory_limit": "4GB"})
t, c, rows = time.perf_counter(), cpu(), 0
for i, p in enumerate(paths):
    q = p.replace("'", "''")
    con.execute(f"CREATE TABLE t{i} AS SELECT * FROM read_csv('{q}')")
    rows += con.execute(f"SELECT count(*) FROM t{i}").fetchone()[0]
con.close()
print(json.dumps({"read": rows, "wall": time.perf_counter() - t, "cpu": cpu() - c,
                  "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}))
"""


def _child(code: str, *args: str) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=False
    )
    if proc.returncode:
        raise SystemExit(proc.stderr)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _fresh(db: Path) -> Path:
    for f in (db, Path(str(db) + ".wal")):
        f.unlink(missing_ok=True)
    return db


def run_child(db: Path, paths: Path | list[Path], batch: int, dataset: str = "") -> dict:
    """Ingest in a fresh process; its summary, wall and CPU time, its own peak RSS (MiB)."""
    files = [str(p) for p in (paths if isinstance(paths, list) else [paths])]
    return _child(_CHILD, str(db), json.dumps(files), str(batch), dataset)


def raw_read_csv(db: Path, paths: list[Path]) -> dict:
    """Raw DuckDB ``read_csv`` of ``paths`` into tables of a fresh file, in a fresh process."""
    return _child(_RAW_CHILD, str(_fresh(db)), json.dumps([str(p) for p in paths]))


def synth_files(out: Path, users: int, seed: int) -> list[Path]:
    """The ``*.csv.gz`` files of ``koc synth --users users --seed seed`` (generated once)."""
    from graph.synth import SynthParams, generate

    folder = out / f"synth-{users}-s{seed}"
    if not (folder / "manifest.json").exists():
        generate(folder, SynthParams(users=users, seed=seed))
    return sorted(folder.glob("*.csv.gz"))


def users_bench(out: Path, users: int, batch: int) -> dict:
    """``koc ingest`` of synth data into an empty and a loaded store vs raw ``read_csv``.

    Returns ``{"raw": ..., "empty": ..., "loaded": ...}`` (each with ``read``, ``wall``,
    ``cpu``, ``peak_rss_mib``; the koc runs also with their summary counts) plus the
    ratios of wall time to ``read_csv``.
    """
    out.mkdir(parents=True, exist_ok=True)
    first, second = synth_files(out, users, 0), synth_files(out, users, 1)
    res = {"raw": raw_read_csv(out / "raw.duckdb", first)}
    db = _fresh(out / f"store-{users}.duckdb")
    res["empty"] = run_child(db, first, batch)
    loaded = _fresh(out / f"store-{users}-loaded.duckdb")
    shutil.copy(db, loaded)
    res["loaded"] = run_child(loaded, second, batch)
    _fresh(loaded)
    for k in ("empty", "loaded"):
        res[k]["vs_read_csv"] = res[k]["wall"] / res["raw"]["wall"]
    res["store"] = str(db)
    return res


def exponent(sizes: list[int], seconds: list[float]) -> float:
    """Least-squares slope of log(seconds) on log(size): 1.0 is linear growth."""
    if len(sizes) < 2:
        return math.nan
    return float(np.polyfit(np.log(sizes), np.log(seconds), 1)[0])


def report_users(users: int, res: dict) -> None:
    raw = res["raw"]
    print(f"users {users:,}: raw DuckDB read_csv {raw['read']:,} rows in {raw['wall']:.1f} s wall "
          f"= {raw['read'] / raw['wall']:,.0f} rows/s; CPU {raw['cpu']:.1f} s; "
          f"peak RSS {raw['peak_rss_mib']:,} MiB", flush=True)  # fmt: skip
    for label in ("empty", "loaded"):
        r = res[label]
        _report("koc", f"into {'an empty' if label == 'empty' else 'a loaded'} store", r)
        slow = sorted(r["by_file"].items(), key=lambda kv: -kv[1])[:3]
        print(f"{'':8s} {r['vs_read_csv']:.2f}x read_csv's wall; slowest files: "
              + ", ".join(f"{f} {s:.1f} s" for f, s in slow), flush=True)  # fmt: skip


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
    ap.add_argument(
        "--users", default=None, help="koc synth sizes, e.g. 100000,1000000 (user records)"
    )
    args = ap.parse_args()
    print(f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    if args.users is not None:
        sizes = [int(x) for x in args.users.split(",")]
        walls: dict[str, list[float]] = {"raw": [], "empty": [], "loaded": []}
        rows = []
        for n in sizes:
            res = users_bench(args.out, n, args.batch_rows)
            report_users(n, res)
            rows.append(res["empty"]["read"])
            for k in walls:
                walls[k].append(res[k]["wall"])
        if len(sizes) > 1:
            print("growth exponent of wall time in rows: " + ", ".join(
                f"{k} {exponent(rows, v):.2f}" for k, v in walls.items()))  # fmt: skip
        print(f"load average at end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
        return
    if args.higgs is not None:
        db = args.out / "store-higgs.duckdb"
        args.out.mkdir(parents=True, exist_ok=True)
        _report("higgs", "first load", run_child(_fresh(db), args.higgs, args.batch_rows, "higgs"))
    t = time.perf_counter()
    pq_path, csv_path = generate(args.out, args.events)
    print(f"input: {args.events:,} events ({time.perf_counter() - t:.0f} s to generate); "
          f"parquet {pq_path.stat().st_size / 2**20:.0f} MiB, csv {csv_path.stat().st_size / 2**20:.0f} MiB")  # fmt: skip
    for fmt in args.formats.split(","):
        path = pq_path if fmt == "parquet" else csv_path
        db = _fresh(args.out / f"store-{fmt}-{args.events}.duckdb")
        runs = [("first load", run_child(db, path, args.batch_rows))]
        if args.twice:
            runs.append(("second load (duplicates)", run_child(db, path, args.batch_rows)))
        for label, r in runs:
            _report(fmt, label, r)
    print(f"load average at end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


def _report(fmt: str, label: str, r: dict) -> None:
    print(f"{fmt:8s} {label:26s} read {r['read']:,} inserted {r['inserted']:,} "
          f"duplicates {r['duplicates']:,} rejected {r['rejected']:,} in {r['wall']:.1f} s wall "
          f"= {r['read'] / r['wall']:,.0f} rows/s; CPU {r['cpu']:.1f} s "
          f"= {r['read'] / r['cpu']:,.0f} rows per CPU-second; "
          f"peak RSS {r['peak_rss_mib']:,} MiB", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
