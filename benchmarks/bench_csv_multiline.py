"""CSV reading cost of multi-line quoted fields: the reader alone, before validation and store.

Run by hand (not part of the test suite)::

    .venv/bin/python benchmarks/bench_csv_multiline.py --rows 1000000 --baseline 3b79453

It writes three files of ``--rows`` rows in the ``bench_ingest.py`` layout (13
columns, views/forwards/comments/orders/refunds) plus a ``channel`` column:

* ``unquoted``: no quote at all (``quoting_style="none"``);
* ``quoted``: every string quoted, as pyarrow's and most exporters' CSV writers do;
* ``multiline``: quoted, and 10 % of the rows have a two-line ``channel`` value
  (``"line one\\nline two"``, CRLF in half of them).

and times a full pass of ``CsvReader`` over each (best of ``--repeat``; wall and
CPU seconds of this process) with the current code and, with ``--baseline REF``,
with ``graph/ingest/readers.py`` as of git commit ``REF``. ``--ingest`` also
loads each file with ``ingest_files`` into a fresh store (child process, as
``bench_ingest.py`` does) to show the counts balance. Results go to
``benchmarks/results/ingest-multiline.md`` (by hand).
"""

from __future__ import annotations

import argparse
import importlib.util
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_ingest import COLUMNS, make_chunk, run_child  # noqa: E402

from graph.ingest import readers  # noqa: E402


def generate(out: Path, n: int, seed: int = 0) -> dict[str, Path]:
    """The three input files (written once, reused)."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {k: out / f"{k}-{n}.csv" for k in ("unquoted", "quoted", "multiline")}
    if all(p.exists() for p in paths.values()):
        return paths
    rng = np.random.default_rng(seed)
    t = make_chunk(rng, 0, n, max(1000, n // 20))
    t = t.cast(pa.schema([(c, pa.string()) for c in COLUMNS]))
    plain = pa.array(np.where(rng.random(n) < 0.5, "wechat", "weibo"))
    multi = rng.random(n)
    channel = pc.if_else(
        pa.array(multi < 0.05),
        "line one\nline two",
        pc.if_else(pa.array(multi < 0.10), "line one\r\nline two", plain),
    )
    for kind, path in paths.items():
        table = t.append_column("channel", channel if kind == "multiline" else plain)
        style = "none" if kind == "unquoted" else "needed"
        pacsv.write_csv(table, path, write_options=pacsv.WriteOptions(quoting_style=style))
    return paths


def baseline_module(ref: str) -> ModuleType:
    """``graph/ingest/readers.py`` as of commit ``ref``, imported under another name."""
    src = subprocess.run(
        ["git", "show", f"{ref}:graph/ingest/readers.py"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "readers_baseline.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("readers_baseline", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def time_reader(module: ModuleType, path: Path, batch_rows: int, repeat: int) -> dict:
    """Best wall and CPU seconds of one full pass; rows and rejects read."""
    best: dict = {}
    for _ in range(repeat):
        t, c = time.perf_counter(), _cpu()
        rows = bad = 0
        for b in module.CsvReader(path, batch_rows):
            rows += b.table.num_rows
            bad += len(b.bad)
        wall, cpu = time.perf_counter() - t, _cpu() - c
        if not best or wall < best["wall"]:
            best = {"wall": wall, "cpu": cpu, "rows": rows, "rejected": bad}
    return best


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--out", type=Path, default=Path("/tmp/koc-bench-csv-multiline"))
    ap.add_argument("--batch-rows", type=int, default=500_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--baseline", default=None, help="git commit of the reader to compare with")
    ap.add_argument(
        "--ingest",
        action="store_true",
        help="also load each file with ingest_files (child process)",
    )
    args = ap.parse_args()
    paths = generate(args.out, args.rows)
    modules = {"current": readers}
    if args.baseline:
        modules[f"baseline {args.baseline}"] = baseline_module(args.baseline)
    for kind, path in paths.items():
        size = path.stat().st_size / 2**20
        for label, module in modules.items():
            r = time_reader(module, path, args.batch_rows, args.repeat)
            print(
                f"{kind:10s} {size:6.1f} MiB  {label:18s} rows {r['rows']:>9,} "
                f"rejected {r['rejected']:>7,}  wall {r['wall']:6.2f} s  CPU {r['cpu']:6.2f} s  "
                f"{r['rows'] / r['wall']:>11,.0f} rows/s",
                flush=True,
            )
        if args.ingest:
            db = args.out / f"store-{kind}.duckdb"
            for f in (db, Path(str(db) + ".wal")):
                f.unlink(missing_ok=True)
            r = run_child(db, path, args.batch_rows)
            print(
                f"{kind:10s} ingest_files: read {r['read']:,} = inserted {r['inserted']:,} + "
                f"duplicates {r['duplicates']:,} + rejected {r['rejected']:,}; "
                f"wall {r['wall']:.1f} s, CPU {r['cpu']:.1f} s, peak RSS <= {r['peak_rss_mib']:,} MiB",
                flush=True,
            )


if __name__ == "__main__":
    main()
