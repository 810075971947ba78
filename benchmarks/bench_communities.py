"""Where Leiden's time goes on the ranking benchmark graph, and what the backbone costs in quality.

    .venv/bin/python benchmarks/bench_rank.py generate --db /tmp/bench_rank.duckdb
    .venv/bin/python benchmarks/bench_communities.py graph --db /tmp/bench_rank.duckdb
    .venv/bin/python benchmarks/bench_communities.py synth --users 20000
    .venv/bin/python benchmarks/bench_communities.py peers --db /tmp/bench_rank.duckdb --repeat 3

``peers`` times the whole call, graph construction included, side by side on the same
snapshot (medians of ``--repeat`` rounds, contenders interleaved): the project's default
(:func:`influence.communities.plm_communities`: networkit PLM with refinement on every
tie, graph built from the CSR arrays), networkit's ParallelLeiden built the way its
documentation shows (``GraphFromCoo``) and built from CSR, and igraph's Leiden on the
5-ties backbone (the previous default); each scored by whole-graph modularity.

``graph`` builds the snapshot of a ``bench_rank.py`` store (1M users / 10M edges) and
times each step of :func:`influence.communities.leiden_communities` separately:
undirected ties (``A + A.T``, upper triangle), the strongest-ties backbone, igraph graph
construction, igraph's ``community_leiden`` and relabelling; once on every tie and once
per backbone size. Every partition is scored by the modularity of the *whole* graph
(igraph's ``Graph.modularity`` with the tie weights); ``--seeds`` more than one also
gives the NMI between the partitions of different seeds. ``synth`` generates a
``koc synth`` data set, ingests it and compares the found communities with the planted
ones (NMI). Prints JSON; CPU seconds next to wall seconds, since the machine is shared.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import igraph as ig
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from graph.duckdb_store import DuckDBStore  # noqa: E402
from graph.snapshot import GraphSnapshot, build_snapshot  # noqa: E402
from influence.communities import (  # noqa: E402
    _igraph,
    _relabel_by_size,
    leiden_communities,
    plm_communities,
    strongest_ties,
    undirected_ties,
)
from influence.config import default_score_config  # noqa: E402


def _timed(out: dict[str, Any], name: str, fn: Callable[[], Any]) -> Any:
    cpu, wall = time.process_time(), time.perf_counter()
    result = fn()
    out[name] = {
        "wall_s": round(time.perf_counter() - wall, 2),
        "cpu_s": round(time.process_time() - cpu, 2),
    }
    return result


def _leiden(graph: ig.Graph, weights: list[float], iterations: int, seed: int) -> np.ndarray:
    ig.set_random_number_generator(random.Random(seed))
    try:
        clustering = graph.community_leiden(
            objective_function="modularity", weights=weights, n_iterations=iterations
        )
    finally:
        ig.set_random_number_generator(random)
    return np.asarray(clustering.membership, dtype=np.int64)


def _variants(
    snap: GraphSnapshot,
    backbones: list[int],
    iterations: list[int],
    seeds: list[int],
    planted: np.ndarray | None = None,
    *,
    full: bool = True,
) -> dict[str, Any]:
    """Time every step for the full graph and each backbone; quality on the full graph."""
    n = snap.n_nodes
    steps: dict[str, Any] = {}
    ties = _timed(steps, "undirected_ties", lambda: undirected_ties(snap))
    coo = ties.tocoo()
    full_graph = _timed(steps, "igraph_graph_full", lambda: _igraph(n, coo.row, coo.col))
    full_weights = coo.data.tolist()
    out: dict[str, Any] = {"n_users": n, "n_ties": int(ties.nnz), "shared_steps": steps}
    runs = []
    for k in [0, *backbones] if full else backbones:
        if k:
            t: dict[str, Any] = {}
            sub = _timed(t, "backbone", lambda k=k: strongest_ties(ties, k).tocoo())
            graph = _timed(t, "igraph_graph", lambda sub=sub: _igraph(n, sub.row, sub.col))
            weights = sub.data.tolist()
        else:
            t, graph, weights = {}, full_graph, full_weights
        for it in iterations:
            labels = []
            for seed in seeds:
                r: dict[str, Any] = dict(t)
                m = _timed(
                    r, "leiden", lambda g=graph, w=weights, it=it, s=seed: _leiden(g, w, it, s)
                )
                _timed(r, "relabel", lambda m=m: _relabel_by_size(m))
                r.update(
                    backbone_ties_per_user=k or None,
                    ties_used=graph.ecount(),
                    iterations=it,
                    seed=seed,
                    modularity_full_graph=round(full_graph.modularity(m.tolist(), full_weights), 5),
                    communities=int(m.max()) + 1,
                    load_average=round(os.getloadavg()[0], 1),
                )
                if planted is not None:
                    # users the generator planted but who have no edge are left out
                    has = planted >= 0
                    r["nmi_planted"] = round(
                        ig.compare_communities(
                            planted[has].tolist(), m[has].tolist(), method="nmi"
                        ),
                        4,
                    )
                runs.append(r)
                labels.append(m.tolist())
                print(json.dumps(r), file=sys.stderr, flush=True)
            if len(labels) > 1:
                nmi = [
                    ig.compare_communities(a, b, method="nmi")
                    for a, b in itertools.combinations(labels, 2)
                ]
                runs[-1]["nmi_between_seeds_min"] = round(min(nmi), 4)
    out["runs"] = runs
    return out


def bench_graph(args: argparse.Namespace) -> dict[str, Any]:
    cfg = default_score_config()
    out: dict[str, Any] = {"load_average_before": [round(x, 1) for x in os.getloadavg()]}
    with DuckDBStore(args.db, memory_limit="3GB") as store:
        snap = _timed(
            out, "snapshot", lambda: build_snapshot(store, half_life_days=cfg.graph.half_life_days)
        )
    if args.end_to_end:
        # the call koc rank makes (default [communities] settings), timed as a whole
        sec = cfg.communities
        labels = _timed(
            out,
            "leiden_communities_default",
            lambda: leiden_communities(
                snap,
                resolution=sec.resolution,
                seed=sec.seed,
                n_iterations=sec.iterations,
                backbone_above=sec.backbone_above,
                backbone_ties=sec.backbone_ties,
            ),
        )
        out["default_communities"] = int(labels.max()) + 1
        out["peak_rss_gb_after_default"] = round(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, 2
        )
    if args.backbone or args.full:
        out.update(_variants(snap, args.backbone, args.iterations, args.seeds, full=args.full))
    out["load_average_after"] = [round(x, 1) for x in os.getloadavg()]
    out["peak_rss_gb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, 2)
    return out


def bench_synth(args: argparse.Namespace) -> dict[str, Any]:
    import pyarrow.parquet as pq

    from graph.ingest import ingest_files
    from graph.synth import SynthParams, generate

    cfg = default_score_config()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        generate(work / "demo", SynthParams(users=args.users, seed=args.seed))
        with DuckDBStore(work / "koc.duckdb") as store:
            ingest_files(store, sorted((work / "demo").glob("*.csv.gz")))
            snap = build_snapshot(store, half_life_days=cfg.graph.half_life_days)
        truth = pq.read_table(work / "demo" / "ground_truth_users.parquet")
    idx = snap.index_of(truth.column("user_id").to_pylist())
    planted = np.full(snap.n_nodes, -1, dtype=np.int64)
    planted[idx[idx >= 0]] = truth.column("community").to_numpy()[idx >= 0]
    out = _variants(snap, args.backbone, args.iterations, args.seeds, planted, full=True)
    out["planted_communities"] = int(np.unique(planted[planted >= 0]).size)
    return out


def _networkit_parallel_leiden(snap: GraphSnapshot, build: str, threads: int) -> np.ndarray:
    """networkit's ParallelLeiden on every tie, graph built from COO triplets or CSR."""
    import networkit as nk

    ties = undirected_ties(snap)
    if build == "coo":
        coo = ties.tocoo()
        graph = nk.GraphFromCoo(
            (coo.data, (coo.row, coo.col)), n=snap.n_nodes, weighted=True, directed=False
        )
    else:
        ties.sort_indices()
        graph = nk.GraphFromCsr(ties, directed=False, weighted=True)
    nk.setNumberOfThreads(threads)
    nk.setSeed(0, False)
    algo = nk.community.ParallelLeiden(graph)
    algo.run()
    return np.asarray(algo.getPartition().getVector(), dtype=np.int64)


def bench_peers(args: argparse.Namespace) -> dict[str, Any]:
    """Whole calls side by side (construction counted), medians over interleaved rounds."""
    import networkit as nk

    cfg = default_score_config()
    out: dict[str, Any] = {"load_average_before": [round(x, 1) for x in os.getloadavg()]}
    with DuckDBStore(args.db, memory_limit="3GB") as store:
        snap = build_snapshot(store, half_life_days=cfg.graph.half_life_days)
    threads = nk.getMaxNumberOfThreads()
    contenders: dict[str, Callable[[], np.ndarray]] = {
        "koc_plm_refine_csr_1thread": lambda: plm_communities(snap, seed=0),
        f"networkit_parallel_leiden_coo_{threads}threads": lambda: _networkit_parallel_leiden(
            snap, "coo", threads
        ),
        f"networkit_parallel_leiden_csr_{threads}threads": lambda: _networkit_parallel_leiden(
            snap, "csr", threads
        ),
        "igraph_leiden_backbone5_previous_default": lambda: leiden_communities(
            snap, seed=0, n_iterations=2, backbone_above=2_000_000, backbone_ties=5
        ),
    }
    chosen = {
        k: v for k, v in contenders.items() if not args.only or any(o in k for o in args.only)
    }
    ties = undirected_ties(snap).tocoo()
    full = _igraph(snap.n_nodes, ties.row, ties.col)
    weights = ties.data.tolist()
    rounds: dict[str, list[dict[str, float]]] = {k: [] for k in chosen}
    for _ in range(args.repeat):
        for name, fn in chosen.items():
            r: dict[str, Any] = {}
            labels = _timed(r, "call", fn)
            r = dict(r["call"])
            r["modularity"] = round(full.modularity(labels.tolist(), weights), 5)
            r["communities"] = int(np.unique(labels).size)
            r["load"] = round(os.getloadavg()[0], 1)
            rounds[name].append(r)
            print(json.dumps({name: r}), file=sys.stderr, flush=True)
    nk.setNumberOfThreads(threads)
    out["n_users"], out["n_ties"] = snap.n_nodes, int(ties.nnz)
    out["median"] = {
        name: {key: float(np.median([x[key] for x in rs])) for key in rs[0]}
        for name, rs in rounds.items()
    }
    out["rounds"] = rounds
    base = out["median"].get("koc_plm_refine_csr_1thread")
    if base:
        out["wall_ratio_to_koc"] = {
            name: round(m["wall_s"] / base["wall_s"], 2) for name, m in out["median"].items()
        }
    out["load_average_after"] = [round(x, 1) for x in os.getloadavg()]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    peers = sub.add_parser("peers")
    peers.add_argument("--db", type=Path, required=True)
    peers.add_argument("--repeat", type=int, default=3)
    peers.add_argument("--only", nargs="*", default=[], help="substrings of contender names")
    for name in ("graph", "synth"):
        p = sub.add_parser(name)
        p.add_argument("--backbone", type=int, nargs="*", default=[3, 5])
        p.add_argument("--iterations", type=int, nargs="*", default=[2])
        p.add_argument("--seeds", type=int, nargs="*", default=[0])
        if name == "graph":
            p.add_argument("--db", type=Path, required=True)
            p.add_argument("--end-to-end", action="store_true", help="time the default call")
            p.add_argument(
                "--no-full", dest="full", action="store_false", help="skip every-tie runs"
            )
        else:
            p.add_argument("--users", type=int, default=20_000)
            p.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    runners = {"graph": bench_graph, "synth": bench_synth, "peers": bench_peers}
    result = runners[args.cmd](args)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
