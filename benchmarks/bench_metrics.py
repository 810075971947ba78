"""Snapshot and influence metrics at scale: 1M users / 10M edges on the embedded store.

Run by hand (not part of the test suite)::

    .venv/bin/python benchmarks/bench_metrics.py --users 1000000 --edges 10000000 \
        --db /tmp/koc-bench-metrics/store.duckdb

Steps (each timed; figures go to ``benchmarks/results/metrics.md`` by hand):

1. ``build``: a child process fills a fresh store through ``append_batch`` with
   generated Arrow tables (skipped when ``--db`` exists): ``--users`` users and
   ``--edges`` edges (views 60 %, forwards 20 %, comments 15 %, referrals 5 %;
   influencers heavy-tailed, ``zipf(1.5)``, influenced users uniform; 90 days of
   timestamps) plus ``--orders`` orders.
2. ``metrics`` (a second child, so its peak RSS is the pipeline's alone):
   ``build_snapshot`` (read + weights, then both CSR matrices), PageRank,
   all-user 3-hop HyperANF reach at 256 and 64 registers, forward cascades,
   and the other helper's full ranking pipeline (``compute_ranking``, when
   importable) with and without communities.
3. ``pagerank``: our PageRank (CSR build counted) vs a bare scipy power iteration
   (same CSR, same iterations) vs igraph PRPACK (graph construction counted, fast
   and slow constructor), medians of ``--repeat`` interleaved rounds, and networkx
   on a 100k-edge graph as a reference line.
4. ``reach-error`` (not in the default steps): HyperANF at 64 / 128 / 256 registers
   against exact BFS (igraph ``neighborhood_size``) on ``--sample`` users: mean,
   median, p95 relative error at 3 hops and CPU seconds.
5. ``hyperanf-dense``: HyperANF on a graph where every user has out-edges (the
   worst case: no passive users to skip).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from graph.events import EventType  # noqa: E402
from graph.store import ARROW_SCHEMAS  # noqa: E402

T0_US = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp() * 1_000_000)
DAY_US = 86_400_000_000
SHARES = {
    EventType.VIEW: 0.60,
    EventType.FORWARD: 0.20,
    EventType.COMMENT: 0.15,
    EventType.REFERRAL: 0.05,
}
#: (influencer field, influenced field) of each generated edge type
FIELDS = {
    EventType.VIEW: ("sharer", "viewer"),
    EventType.FORWARD: ("from_user", "forwarder"),
    EventType.COMMENT: ("on_user", "commenter"),
    EventType.REFERRAL: ("referrer", "referee"),
}


def _peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def _ids(prefix: str, numbers: np.ndarray) -> pa.Array:
    return pc.binary_join_element_wise(prefix, pc.cast(pa.array(numbers), pa.string()), "")


def _edge_table(
    rng: np.random.Generator, t: EventType, start: int, m: int, n_users: int
) -> pa.Table:
    src = (rng.zipf(1.5, size=m) - 1) % n_users
    dst = rng.integers(0, n_users, size=m)
    dst = np.where(src == dst, (dst + 1) % n_users, dst)
    ts = T0_US + rng.integers(0, 90 * DAY_US, size=m)
    s_field, d_field = FIELDS[t]
    cols: dict[str, pa.Array] = {
        "event_id": _ids(f"{t.value[0]}", np.arange(start, start + m)),
        s_field: _ids("u", src),
        d_field: _ids("u", dst),
        "ts": pa.array(ts, type=pa.timestamp("us", tz="UTC")),
    }
    if "content_id" in ARROW_SCHEMAS[t].names:
        cols["content_id"] = _ids("c", rng.integers(0, 200_000, size=m))
    schema = ARROW_SCHEMAS[t]
    return pa.table(
        {name: cols.get(name, pa.nulls(m, schema.field(name).type)) for name in schema.names},
        schema=schema,
    )


def build(db: Path, n_users: int, n_edges: int, n_orders: int, batch: int, seed: int) -> dict:
    """Fill a fresh store through ``append_batch`` (one transaction per batch)."""
    from graph.duckdb_store import DuckDBStore

    rng = np.random.default_rng(seed)
    db.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with DuckDBStore(db, threads=2, memory_limit="6GB") as store:
        users = pa.table(
            {
                "event_id": _ids("user", np.arange(n_users)),
                "user_id": _ids("u", np.arange(n_users)),
                "role": pa.array(np.where(rng.random(n_users) < 0.01, "employee", "consumer")),
            }
        )
        schema = ARROW_SCHEMAS[EventType.USER]
        store.append_batch(
            {
                EventType.USER: pa.table(
                    {
                        name: users.column(name)
                        if name in users.column_names
                        else pa.nulls(n_users, schema.field(name).type)
                        for name in schema.names
                    },
                    schema=schema,
                )
            }
        )
        done = 0
        while done < n_edges:
            m = min(batch, n_edges - done)
            counts = rng.multinomial(m, list(SHARES.values()))
            tables = {
                t: _edge_table(rng, t, done + k * batch, int(c), n_users)
                for k, (t, c) in enumerate(zip(SHARES, counts, strict=True))
            }
            store.append_batch(tables)
            done += m
            print(f"  appended {done:,} edges ({time.perf_counter() - t0:.0f} s)", flush=True)
        if n_orders:
            o = ARROW_SCHEMAS[EventType.ORDER]
            buyers = rng.integers(0, n_users, size=n_orders)
            amount = pc.cast(_ids("", rng.integers(5, 500, size=n_orders)), o.field("amount").type)
            orders = {
                "event_id": _ids("o", np.arange(n_orders)),
                "order_id": _ids("o", np.arange(n_orders)),
                "buyer": _ids("u", buyers),
                "amount": amount,
                "currency": pa.array(["CNY"] * n_orders),
                "ts": pa.array(
                    T0_US + rng.integers(0, 90 * DAY_US, size=n_orders),
                    type=pa.timestamp("us", tz="UTC"),
                ),
            }
            store.append_batch(
                {
                    EventType.ORDER: pa.table(
                        {
                            name: orders.get(name, pa.nulls(n_orders, o.field(name).type))
                            for name in o.names
                        },
                        schema=o,
                    )
                }
            )
        counts_out = store.counts()
    return {"build_s": round(time.perf_counter() - t0, 1), "counts": counts_out}


def _run(res: dict, key: str, fn, *args, **kwargs):
    """Call ``fn``; store wall seconds in ``res[key]`` and CPU seconds in ``res[key + '_cpu']``."""
    t, c = time.perf_counter(), time.process_time()
    out = fn(*args, **kwargs)
    res[key] = round(time.perf_counter() - t, 3)
    res[key + "_cpu"] = round(time.process_time() - c, 3)
    return out


def metrics(db: Path, with_pipeline: bool) -> dict:
    """Time the snapshot and every metric on the store (run in a child process)."""
    from graph.duckdb_store import DuckDBStore
    from graph.snapshot import build_snapshot
    from influence.cascades import cascade_stats
    from influence.pagerank import pagerank
    from influence.reach import reach_hyperanf

    res: dict = {"loadavg_start": os.getloadavg()}
    with DuckDBStore(db, read_only=True) as store:
        snap = _run(res, "snapshot_read_s", build_snapshot, store, half_life_days=30.0)
        _ = _run(res, "snapshot_csr_s", lambda: (snap.influence_csr, snap.reverse_csr))
        res["snapshot_total_s"] = res["snapshot_read_s"] + res["snapshot_csr_s"]
        res["users"], res["edges"], res["nnz"] = snap.n_nodes, snap.n_edges, snap.influence_csr.nnz
        pr = _run(res, "pagerank_s", pagerank, snap)
        res["pagerank_iterations"] = pr.iterations
        _ = _run(res, "hyperanf_256_s", reach_hyperanf, snap, hops=3, registers=256)
        _ = _run(res, "hyperanf_64_s", reach_hyperanf, snap, hops=3, registers=64)
        res["rss_after_metrics_gb"] = _peak_rss_gb()
        csnap = _run(res, "snapshot_with_content_s", build_snapshot, store, with_content=True)
        _ = _run(res, "cascades_s", cascade_stats, csnap)
        del csnap
        res["core_total_s"] = res["snapshot_total_s"] + res["pagerank_s"] + res["hyperanf_256_s"]
        res["peak_rss_core_gb"] = _peak_rss_gb()
        if with_pipeline:
            try:
                from api.services.ranking import compute_ranking
                from influence.config import default_score_config
            except ImportError as exc:  # the scoring helper's module is not there yet
                res["pipeline"] = f"not available: {exc}"
            else:
                cfg = default_score_config()
                nocomm = cfg.model_copy(
                    update={"communities": cfg.communities.model_copy(update={"enabled": False})}
                )
                ranking = _run(res, "pipeline_no_communities_s", compute_ranking, store, nocomm)
                res["pipeline_no_communities_steps"] = ranking.timings
                res["peak_rss_pipeline_gb"] = _peak_rss_gb()
                ranking = _run(res, "pipeline_default_s", compute_ranking, store, cfg)
                res["pipeline_default_steps"] = ranking.timings
                res["peak_rss_pipeline_default_gb"] = _peak_rss_gb()
    res["loadavg_end"] = os.getloadavg()
    return res


def _view_snapshot(src: np.ndarray, dst: np.ndarray, node_ids: np.ndarray):
    """A snapshot of view edges ``src -> dst`` (unit weights, time 0)."""
    from graph.snapshot import GraphSnapshot
    from graph.store import EdgeArrays

    return GraphSnapshot.from_edges(
        EdgeArrays(
            src=src.astype(np.int32),
            dst=dst.astype(np.int32),
            etype=np.zeros(src.size, dtype=np.int8),
            ts=np.zeros(src.size, dtype=np.int64),
            node_ids=node_ids,
        )
    )


def pagerank_compare(db: Path, nx_edges: int, repeat: int = 3) -> dict:
    """PageRank side by side from the same edge arrays, graph construction counted on both sides.

    Every contender starts from the snapshot's edge arrays (``src``, ``dst``, ``weight``;
    reading the store is common to all and not timed): ours builds its CSR
    (:attr:`GraphSnapshot.influence_csr`, on a fresh snapshot each round) and iterates;
    igraph builds its graph from a list of int tuples (its fastest constructor) and
    from a numpy ``(m, 2)`` array (the slow path an earlier version of this benchmark
    used), then runs PRPACK; a third igraph variant gets the distinct pairs of our CSR
    (de-duplication not counted on its side); the bare scipy loop runs on a pre-built CSR (construction
    not counted: the lower bound of an iteration). Medians of ``repeat`` interleaved
    rounds; networkx on a 100k-edge sample is a reference line.
    """
    import dataclasses

    import igraph as ig
    import networkx as nx
    import scipy.sparse as sp

    from graph.duckdb_store import DuckDBStore
    from graph.snapshot import build_snapshot
    from influence.pagerank import pagerank

    res: dict = {"loadavg_start": os.getloadavg(), "repeat": repeat}
    with DuckDBStore(db, read_only=True) as store:
        snap = build_snapshot(store)
    n = snap.n_nodes
    keep = snap.src != snap.dst  # the CSR drops self-loops: give igraph the same edges
    # PageRank walks influenced -> influencer (the reversed influence graph)
    tail, head, weight = snap.dst[keep], snap.src[keep], snap.weight[keep]
    a = snap.influence_csr
    iterations = pagerank(snap).iterations
    res["iterations"] = iterations

    def ours() -> np.ndarray:
        return pagerank(dataclasses.replace(snap)).scores  # fresh snapshot: CSR built again

    def bare() -> np.ndarray:  # the textbook loop on a pre-normalised CSR, same iterations
        out_w = np.bincount(a.indices, weights=a.data, minlength=n)
        inv = np.divide(0.85, out_w, out=np.zeros(n), where=out_w > 0)
        m = sp.csr_matrix((a.data * inv[a.indices], a.indices, a.indptr), shape=(n, n))
        dangling = out_w == 0
        x = np.full(n, 1.0 / n)
        for _ in range(iterations):
            x = m @ x + (0.85 * x[dangling].sum() + 0.15) / n
        return x

    def igraph_tuples() -> np.ndarray:
        g = ig.Graph(n=n, edges=list(zip(tail.tolist(), head.tolist(), strict=True)), directed=True)
        return np.asarray(g.pagerank(implementation="prpack", weights=weight.tolist()))

    def igraph_numpy() -> np.ndarray:
        g = ig.Graph(n=n, edges=np.column_stack([tail, head]).astype(np.int64), directed=True)
        return np.asarray(g.pagerank(implementation="prpack", weights=weight.tolist()))

    coo = a.tocoo()  # distinct pairs with summed weights (our CSR's work, done once here)

    def igraph_from_csr() -> np.ndarray:
        g = ig.Graph(
            n=n, edges=list(zip(coo.col.tolist(), coo.row.tolist(), strict=True)), directed=True
        )
        return np.asarray(g.pagerank(implementation="prpack", weights=coo.data.tolist()))

    contenders = {
        "ours_with_csr_build": ours,
        "bare_scipy_prebuilt_csr": bare,
        "igraph_prpack_tuple_build": igraph_tuples,
        "igraph_prpack_numpy_build": igraph_numpy,
        "igraph_prpack_tuple_build_from_our_csr": igraph_from_csr,
    }
    rounds: dict[str, list[float]] = {k: [] for k in contenders}
    scores: dict[str, np.ndarray] = {}
    for _ in range(repeat):
        for name, fn in contenders.items():
            t = time.perf_counter()
            scores[name] = fn()
            rounds[name].append(round(time.perf_counter() - t, 3))
    res["rounds_s"] = rounds
    res["median_s"] = {k: float(np.median(v)) for k, v in rounds.items()}
    base = res["median_s"]["ours_with_csr_build"]
    res["ratio_to_ours"] = {k: round(v / base, 2) for k, v in res["median_s"].items()}
    res["l1_vs_igraph"] = float(
        np.abs(scores["igraph_prpack_tuple_build"] - scores["ours_with_csr_build"]).sum()
    )
    # networkx reference line on a 100k-edge sample
    rows, cols = coo.row[:nx_edges], coo.col[:nx_edges]
    g = nx.DiGraph()
    g.add_weighted_edges_from(
        zip(cols.tolist(), rows.tolist(), coo.data[:nx_edges].tolist(), strict=True)
    )
    _ = _run(res, "networkx_100k_s", nx.pagerank, g, tol=1e-10)
    small = _view_snapshot(rows, cols, snap.node_ids)
    _ = _run(res, "ours_100k_s", pagerank, small)
    res["loadavg_end"] = os.getloadavg()
    return res


def reach_error(db: Path, registers: list[int], sample: int, seed: int = 0) -> dict:
    """HyperANF error and cost against exact breadth-first search on a sample of users.

    The reference is igraph's ``neighborhood_size`` (order 1..3, mode out) on the
    reach graph, for ``sample`` users with out-edges drawn with ``seed``; each register
    count is timed on the whole graph (CPU seconds of ``reach_hyperanf``, every user)
    and reports mean, median and p95 relative error at 3 hops.
    """
    import igraph as ig

    from graph.duckdb_store import DuckDBStore
    from graph.snapshot import build_snapshot
    from influence.reach import REACH_TYPES, reach_exact, reach_hyperanf

    res: dict = {"loadavg_start": os.getloadavg(), "sample": sample}
    with DuckDBStore(db, read_only=True) as store:
        snap = build_snapshot(store, half_life_days=30.0)
    a = snap.adjacency(REACH_TYPES, weighted=False)
    coo = a.tocoo()
    g = ig.Graph(
        n=snap.n_nodes,
        edges=list(zip(coo.row.tolist(), coo.col.tolist(), strict=True)),
        directed=True,
    )
    users = np.random.default_rng(seed).choice(np.flatnonzero(np.diff(a.indptr)), sample, False)
    exact = np.asarray(g.neighborhood_size(users.tolist(), order=3, mode="out")) - 1
    ours = _run(res, "reach_exact_batch_s", reach_exact, snap, users)
    res["reach_exact_matches_igraph"] = bool((ours[:, 2] == exact).all())
    res["exact_median"] = float(np.median(exact))
    for r in registers:
        est = _run(res, f"hyperanf_{r}_s", reach_hyperanf, snap, hops=3, registers=r)[users, 2]
        rel = np.abs(est - exact) / np.maximum(exact, 1)
        res[f"error_{r}"] = {
            "mean": round(float(rel.mean()), 4),
            "median": round(float(np.median(rel)), 4),
            "p95": round(float(np.quantile(rel, 0.95)), 4),
        }
    res["loadavg_end"] = os.getloadavg()
    return res


def hyperanf_dense(n_users: int, n_edges: int) -> dict:
    """HyperANF where every user has out-edges (nothing passive to skip)."""
    from influence.reach import reach_hyperanf

    rng = np.random.default_rng(1)
    src = np.repeat(np.arange(n_users), n_edges // n_users)
    rng.shuffle(src)
    dst = rng.integers(0, n_users, size=src.size)
    snap = _view_snapshot(src, dst, np.arange(n_users).astype(str).astype(object))
    snap.influence_csr  # noqa: B018 - build the matrix outside the timing
    res = {}
    _ = _run(res, "hyperanf_dense_64_s", reach_hyperanf, snap, hops=3, registers=64)
    _ = _run(res, "hyperanf_dense_256_s", reach_hyperanf, snap, hops=3, registers=256)
    res["peak_rss_gb"] = _peak_rss_gb()
    return res


def _child(step: str, args: argparse.Namespace) -> dict:
    cmd = [sys.executable, __file__, "--child", step, *sys.argv[1:]]
    out = subprocess.run(cmd, capture_output=True, text=True)
    sys.stderr.write(out.stderr)
    out.check_returncode()
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--users", type=int, default=1_000_000)
    p.add_argument("--edges", type=int, default=10_000_000)
    p.add_argument("--orders", type=int, default=300_000)
    p.add_argument("--batch", type=int, default=1_000_000)
    p.add_argument("--db", type=Path, default=Path("/tmp/koc-bench-metrics/store.duckdb"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-pipeline", action="store_true", help="Skip compute_ranking.")
    p.add_argument("--steps", default="build,metrics,pagerank,dense")
    p.add_argument("--repeat", type=int, default=3, help="rounds of the pagerank comparison")
    p.add_argument("--sample", type=int, default=1000, help="users of the reach-error step")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        if args.child == "build":
            out = build(args.db, args.users, args.edges, args.orders, args.batch, args.seed)
        elif args.child == "metrics":
            out = metrics(args.db, not args.no_pipeline)
        elif args.child == "reach-error":
            out = reach_error(args.db, [64, 128, 256], args.sample, args.seed)
        elif args.child == "pagerank":
            out = pagerank_compare(args.db, 100_000, args.repeat)
        else:
            out = hyperanf_dense(args.users, args.edges)
        out["child_peak_rss_gb"] = round(_peak_rss_gb(), 3)
        print(json.dumps(out, default=str))
        return
    results = {}
    for step in args.steps.split(","):
        if step == "build" and args.db.exists():
            print(f"reusing {args.db}", file=sys.stderr)
            continue
        print(f"== {step}", file=sys.stderr, flush=True)
        results[step] = _child(step, args)
        print(json.dumps(results[step], indent=2, default=str), flush=True)


if __name__ == "__main__":
    main()
