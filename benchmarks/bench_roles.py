"""Benchmarks of the role views: feature speed, classifier quality (synthetic and real).

Run by hand (not part of the test suite)::

    # 1. feature extraction on random arrays (1M users, 10M edges)
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_roles.py features --users 1000000

    # 2. classifier quality on the generator's ground truth
    .venv/bin/koc synth --users 300000 --seed 7 --out /tmp/rs300
    .venv/bin/koc --db /tmp/rs300/koc.duckdb ingest /tmp/rs300/*.csv.gz
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_roles.py synth \
        --db /tmp/rs300/koc.duckdb --ground-truth /tmp/rs300/ground_truth_users.parquet

    # 3. informed "leader" households of the microfinance villages (GroupKFold by village)
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_roles.py microfinance

Each prints a Markdown block to paste into ``benchmarks/results/roles.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import psutil
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from graph.store import EdgeArrays  # noqa: E402
from influence.roles import role_features  # noqa: E402

__all__ = ["bench_features", "bench_synth", "bench_microfinance"]

MICROFINANCE = Path(__file__).resolve().parents[2] / "shared" / "data" / "microfinance"


def bench_features(users: int, edges_per_user: int = 10, seed: int = 0) -> dict:
    """Time :func:`role_features` on random arrays of ``users`` nodes."""
    rng = np.random.default_rng(seed)
    m = users * edges_per_user
    t0 = 1_782_864_000_000_000  # 2026-07-01 UTC in microseconds
    span = 120 * 86_400_000_000
    node_ids = np.array([f"u{i:07d}" for i in range(users)], dtype=object)
    edges = EdgeArrays(
        src=rng.integers(0, users, m).astype(np.int32),
        dst=rng.integers(0, users, m).astype(np.int32),
        etype=rng.integers(0, 4, m).astype(np.int8),
        ts=t0 + rng.integers(0, span, m),
        node_ids=node_ids,
    )
    ids = pa.array(node_ids, pa.string())
    n_sh, n_or = users, 2 * users
    shares = pa.table(
        {
            "sharer": ids.take(pa.array(rng.integers(0, users, n_sh))),
            "ts": pa.array(t0 + rng.integers(0, span, n_sh)).cast(pa.timestamp("us", tz="UTC")),
        }
    )
    orders = pa.table(
        {
            "buyer": ids.take(pa.array(rng.integers(0, users, n_or))),
            "amount": pa.array(rng.integers(100, 100_000, n_or).astype(np.int32)).cast(
                pa.decimal128(20, 4)
            ),
            "ts": pa.array(t0 + rng.integers(0, span, n_or)).cast(pa.timestamp("us", tz="UTC")),
        }
    )
    labels = rng.choice(
        ["consumer", "employee", "kol", "unknown"], users, p=[0.6, 0.02, 0.01, 0.37]
    )
    proc = psutil.Process()
    rss0 = proc.memory_info().rss
    t, cpu = time.perf_counter(), time.process_time()
    feats = role_features(edges, shares=shares, orders=orders, labels=labels.astype(object))
    seconds, cpu_seconds = time.perf_counter() - t, time.process_time() - cpu
    return {
        "users": users,
        "edges": m,
        "shares": n_sh,
        "orders": n_or,
        "features": len(feats.names),
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu_seconds, 2),  # wall time is noisy on the shared machine
        "rss_growth_mb": round((proc.memory_info().rss - rss0) / 2**20),
    }


def bench_synth(db: Path, ground_truth: Path, folds: int, estimator: str, seed: int) -> dict:
    """``evaluate_roles`` on an ingested synthetic store against its ground truth."""
    from api.services.roles import evaluate_roles
    from graph.duckdb_store import DuckDBStore

    with DuckDBStore(db, read_only=True) as store:
        t = time.perf_counter()
        out = evaluate_roles(
            store, folds=folds, ground_truth=ground_truth, estimator=estimator, seed=seed
        )
        out["wall_seconds"] = round(time.perf_counter() - t, 1)
    return out


def bench_microfinance(folds: int, estimator: str, seed: int) -> dict:
    """Leader households from the village graph alone, and with household attributes."""
    from tests.influence.test_roles_realdata import microfinance_eval

    return microfinance_eval(MICROFINANCE, folds=folds, estimator=estimator, seed=seed)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="what", required=True)
    f = sub.add_parser("features")
    f.add_argument("--users", type=int, default=1_000_000)
    f.add_argument("--edges-per-user", type=int, default=10)
    s = sub.add_parser("synth")
    s.add_argument("--db", type=Path, required=True)
    s.add_argument("--ground-truth", type=Path, required=True)
    mf = sub.add_parser("microfinance")
    for p in (s, mf):
        p.add_argument("--folds", type=int, default=5)
        p.add_argument("--estimator", default="logistic", choices=["logistic", "hgb"])
        p.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.what == "features":
        result = bench_features(args.users, args.edges_per_user)
    elif args.what == "synth":
        result = bench_synth(args.db, args.ground_truth, args.folds, args.estimator, args.seed)
    else:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        result = bench_microfinance(args.folds, args.estimator, args.seed)
    print(json.dumps(result, indent=1, default=str))


if __name__ == "__main__":
    main()
