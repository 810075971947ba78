"""The ranking on Spark ``local[2]`` vs the single-node numpy pipeline, same store.

Run by hand (not part of the test suite)::

    .venv/bin/python benchmarks/bench_spark.py --users 1000000 --edges 10000000 \\
        --db /tmp/koc-bench-spark/store.duckdb
    .venv/bin/python benchmarks/bench_spark.py --steps communities --synth-users 20000

Steps (each in its own child process, so peak RSS is that step's alone):

1. ``build``: the store of ``benchmarks/bench_metrics.py`` (Zipf(1.5) influencers,
   uniform influenced users, 90 days; skipped when ``--db`` exists).
2. ``numpy``: :func:`api.services.ranking.compute_ranking` (wall, CPU, peak RSS).
3. ``spark``: ``koc export parquet`` then the whole ranking,
   :func:`api.services.spark_ranking.compute_ranking_spark`, on ``--master``
   (wall per step; peak RSS of the Python driver and, separately, of the JVM,
   which is a child of the driver); then the parity of the two rankings (PageRank
   L1, every other component exactly, top 1000 identical).
4. ``communities``: on a ``koc synth`` store with planted communities, Leiden
   (single node) vs Spark label propagation: modularity on the whole graph
   (igraph, the same tie weights) and NMI to the planted communities.

Figures go to ``benchmarks/RESULTS.md`` by hand, with ``uptime``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _peak_rss_gb(who: int = resource.RUSAGE_SELF) -> float:
    return round(resource.getrusage(who).ru_maxrss / 1024**2, 3)


def _children_usage() -> dict[str, float]:
    """CPU seconds and peak RSS (VmHWM) of the JVM and the Python workers (our children)."""
    import psutil

    cpu, hwm = 0.0, {}
    for child in psutil.Process().children(recursive=True):
        try:
            t = child.cpu_times()
            cpu += t.user + t.system
            status = Path(f"/proc/{child.pid}/status").read_text()
            kb = int(next(x for x in status.splitlines() if x.startswith("VmHWM")).split()[1])
            hwm[child.name()] = max(hwm.get(child.name(), 0), kb)
        except (psutil.Error, OSError, StopIteration):
            continue
    return {
        "children_cpu_s": round(cpu, 2),
        "jvm_peak_rss_gb": round(hwm.get("java", 0) / 1024**2, 3),
        "worker_peak_rss_gb": round(
            max((v for k, v in hwm.items() if k != "java"), default=0) / 1024**2, 3
        ),
    }


def _no_communities(cfg: Any) -> Any:
    return cfg.model_copy(
        update={"communities": cfg.communities.model_copy(update={"enabled": False})}
    )


def numpy_step(db: Path, communities: bool) -> dict[str, Any]:
    from api.services.ranking import compute_ranking
    from graph.duckdb_store import DuckDBStore
    from influence.config import default_score_config

    cfg = default_score_config()
    cfg = cfg if communities else _no_communities(cfg)
    res: dict[str, Any] = {"loadavg_start": os.getloadavg()}
    with DuckDBStore(db, read_only=True) as store:
        t, c = time.perf_counter(), time.process_time()
        ranking = compute_ranking(store, cfg)
        res["wall_s"], res["cpu_s"] = (
            round(time.perf_counter() - t, 2),
            round(time.process_time() - c, 2),
        )
    res["steps"] = ranking.timings
    res["counts"] = ranking.row_counts
    res["peak_rss_gb"] = _peak_rss_gb()
    res["loadavg_end"] = os.getloadavg()
    np.savez(db.with_suffix(".numpy.npz"), top=_top(ranking), **ranking.result.raw)
    return res


def _top(ranking: Any, k: int = 1000) -> np.ndarray:
    scores = ranking.tables()[0]
    order = np.argsort(scores.column("rank").to_numpy(), kind="stable")[:k]
    return np.asarray(scores.column("user_id").to_numpy(zero_copy_only=False)[order], dtype=str)


def spark_step(db: Path, master: str, memory: str, communities: bool) -> dict[str, Any]:
    from api.services.spark_components import spark_session
    from api.services.spark_ranking import compute_ranking_spark
    from graph.duckdb_store import DuckDBStore
    from graph.lake import export_lake, read_lake
    from influence.config import default_score_config

    cfg = default_score_config()
    cfg = cfg if communities else _no_communities(cfg)
    res: dict[str, Any] = {"loadavg_start": os.getloadavg(), "master": master}
    lake = db.with_suffix(".lake")
    t = time.perf_counter()
    with DuckDBStore(db, read_only=True) as store:
        export_lake(store, lake)
    res["export_s"] = round(time.perf_counter() - t, 2)
    spark = spark_session(master, conf={"spark.driver.memory": memory})
    spark.sparkContext.setLogLevel("ERROR")
    t = time.perf_counter()
    ranking = compute_ranking_spark(spark, read_lake(spark, lake), cfg)
    res["wall_s"] = round(time.perf_counter() - t, 2)
    res["steps"] = ranking.timings
    res["counts"] = ranking.row_counts
    res.update(_children_usage())
    spark.stop()
    res["driver_peak_rss_gb"] = _peak_rss_gb()
    res["driver_cpu_s"] = round(time.process_time(), 2)
    res["loadavg_end"] = os.getloadavg()
    ref = db.with_suffix(".numpy.npz")
    if ref.exists():
        want = np.load(ref)
        raw = ranking.result.raw
        res["pagerank_l1"] = float(np.abs(want["pagerank"] - raw["pagerank"]).sum())
        res["components_equal"] = {
            c: bool(np.array_equal(want[c], raw[c])) for c in raw if c != "pagerank"
        }
        res["top1000_identical"] = bool(np.array_equal(want["top"], _top(ranking)))
    return res


def communities_step(users: int, seed: int, master: str) -> dict[str, Any]:
    """Leiden vs label propagation on planted communities (koc synth)."""
    import igraph as ig
    import pyarrow.parquet as pq
    from sklearn.metrics import normalized_mutual_info_score

    from api.services.ranking import ranking_snapshot
    from api.services.spark_components import spark_components, spark_session
    from graph.duckdb_store import DuckDBStore
    from graph.lake import export_lake, read_lake
    from influence.communities import leiden_communities
    from influence.config import default_score_config

    tmp = Path(f"/tmp/koc-bench-spark/synth{users}")
    tmp.mkdir(parents=True, exist_ok=True)
    db = tmp / "store.duckdb"
    if not db.exists():
        koc = str(Path(sys.executable).parent / "koc")
        data = tmp / "data"
        subprocess.run(
            [koc, "synth", "--users", str(users), "--seed", str(seed), "--out", str(data)],
            check=True,
            capture_output=True,
        )
        files = sorted(str(f) for f in data.glob("*.csv.gz"))
        subprocess.run([koc, "--db", str(db), "ingest", *files], check=True, capture_output=True)
    cfg = default_score_config()
    res: dict[str, Any] = {"loadavg_start": os.getloadavg(), "users": users}
    with DuckDBStore(db, read_only=True) as store:
        snap = ranking_snapshot(store, cfg)
        t = time.perf_counter()
        leiden = leiden_communities(snap, seed=0, n_iterations=cfg.communities.iterations)
        res["leiden_s"] = round(time.perf_counter() - t, 2)
        export_lake(store, tmp / "lake")
    spark = spark_session(master)
    spark.sparkContext.setLogLevel("ERROR")
    t = time.perf_counter()
    table = spark_components(read_lake(spark, tmp / "lake"), cfg)
    res["spark_components_s"] = round(time.perf_counter() - t, 2)
    spark.stop()
    lpa = table.communities
    a = snap.influence_csr
    und = (a + a.T).tocoo()
    keep = und.row < und.col
    g = ig.Graph(n=snap.n_nodes, edges=np.column_stack([und.row[keep], und.col[keep]]).tolist())
    w = und.data[keep].tolist()
    res["modularity_leiden"] = round(g.modularity(leiden.tolist(), weights=w), 4)
    res["modularity_lpa"] = round(g.modularity(lpa.tolist(), weights=w), 4)
    res["communities_leiden"] = int(leiden.max() + 1)
    res["communities_lpa"] = int(lpa.max() + 1)
    truth = pq.read_table(tmp / "data" / "ground_truth_users.parquet")
    col = "community" if "community" in truth.column_names else truth.column_names[-1]
    pos = snap.index_of(truth.column("user_id").to_pylist())
    planted = truth.column(col).to_numpy(zero_copy_only=False)
    ok = pos >= 0
    res["nmi_leiden"] = round(normalized_mutual_info_score(planted[ok], leiden[pos[ok]]), 4)
    res["nmi_lpa"] = round(normalized_mutual_info_score(planted[ok], lpa[pos[ok]]), 4)
    res["nmi_leiden_vs_lpa"] = round(normalized_mutual_info_score(leiden, lpa), 4)
    res["loadavg_end"] = os.getloadavg()
    return res


def _child(step: str) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", step, *sys.argv[1:]]
    out = subprocess.run(cmd, capture_output=True, text=True)
    sys.stderr.write(out.stderr[-4000:])
    out.check_returncode()
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--users", type=int, default=1_000_000)
    p.add_argument("--edges", type=int, default=10_000_000)
    p.add_argument("--orders", type=int, default=300_000)
    p.add_argument("--db", type=Path, default=Path("/tmp/koc-bench-spark/store.duckdb"))
    p.add_argument("--master", default="local[2]")
    p.add_argument("--driver-memory", default="6g")
    p.add_argument("--communities", action="store_true", help="Include communities in both runs.")
    p.add_argument("--synth-users", type=int, default=20_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", default="build,numpy,spark")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        if args.child == "build":
            from benchmarks.bench_metrics import build

            out = build(args.db, args.users, args.edges, args.orders, 1_000_000, args.seed)
        elif args.child == "numpy":
            out = numpy_step(args.db, args.communities)
        elif args.child == "spark":
            out = spark_step(args.db, args.master, args.driver_memory, args.communities)
        else:
            out = communities_step(args.synth_users, args.seed, args.master)
        print(json.dumps(out, default=str))
        return
    for step in args.steps.split(","):
        if step == "build" and args.db.exists():
            print(f"reusing {args.db}", file=sys.stderr)
            continue
        print(f"== {step}", file=sys.stderr, flush=True)
        print(json.dumps({step: _child(step)}, indent=2, default=str), flush=True)


if __name__ == "__main__":
    main()
