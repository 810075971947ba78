"""Benchmark of ``koc rank`` at scale: 1M users / 10M edges on the embedded store.

Two steps, so that the timed process does not carry the generator's memory:

    .venv/bin/python benchmarks/bench_rank.py generate --db /tmp/bench_rank.duckdb
    .venv/bin/python benchmarks/bench_rank.py run --db /tmp/bench_rank.duckdb

``generate`` writes a synthetic store through :meth:`GraphStore.append_batch`
(heavy-tailed sharers: a Zipf-like choice over users, uniform viewers; 70% views,
10% forwards, 15% comments, 5% referrals; 1M shares, 1M orders of which 20% carry a
content token, 5% refunded). ``run`` times every ranking step
(:func:`api.services.ranking.compute_ranking` with communities off, as the target
covers snapshot + PageRank + 3-hop reach + engagement + score), then Leiden and
saving the run separately, and prints JSON with seconds per step, CPU seconds and
the peak RSS of the process (``ru_maxrss``: DuckDB runs in-process, so it counts).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from graph.duckdb_store import DuckDBStore  # noqa: E402
from graph.events import EventType  # noqa: E402
from graph.store import ARROW_SCHEMAS  # noqa: E402

T0 = int(datetime(2026, 7, 1, tzinfo=UTC).timestamp() * 1_000_000)
SPAN = 120 * 86_400 * 1_000_000
BATCH = 2_000_000


def _ids(prefix: str, idx: np.ndarray) -> pa.Array:
    return pc.binary_join_element_wise(pa.scalar(prefix), pa.array(idx).cast(pa.string()), "")


def _ts(rng: np.random.Generator, n: int) -> pa.Array:
    return pa.array(T0 + rng.integers(0, SPAN, n), pa.timestamp("us", tz="UTC"))


def _sharers(rng: np.random.Generator, n_users: int, size: int) -> np.ndarray:
    # Zipf-like activity: user i shares with weight 1 / (i + 10) ** 0.9, in shuffled order
    weights = 1.0 / (np.arange(n_users) + 10.0) ** 0.9
    perm = rng.permutation(n_users)
    return perm[rng.choice(n_users, size=size, p=weights / weights.sum())]


def _append(store: DuckDBStore, event_type: EventType, columns: dict) -> None:
    schema = ARROW_SCHEMAS[event_type]
    n = len(next(iter(columns.values())))
    full = {name: columns.get(name, pa.nulls(n, schema.field(name).type)) for name in schema.names}
    table = pa.table(full).cast(schema)
    for off in range(0, n, BATCH):
        store.append_batch({event_type: table.slice(off, BATCH)})


def generate(db: Path, users: int, edges: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    uid = _ids("u", np.arange(users))
    t = time.perf_counter()
    with DuckDBStore(db, memory_limit="8GB") as store:
        roles = np.where(rng.random(users) < 0.015, "employee", "consumer").astype(object)
        roles[rng.random(users) < 0.0002] = "kol"
        _append(
            store,
            EventType.USER,
            {"event_id": _ids("user", np.arange(users)), "user_id": uid, "role": pa.array(roles)},
        )
        n_shares = users
        sh = _sharers(rng, users, n_shares)
        _append(
            store,
            EventType.SHARE,
            {
                "event_id": _ids("s", np.arange(n_shares)),
                "sharer": uid.take(pa.array(sh)),
                "content_id": _ids("c", sh),
                "ts": _ts(rng, n_shares),
            },
        )
        kinds = [
            (EventType.VIEW, 0.70, "viewer", "sharer"),
            (EventType.FORWARD, 0.10, "forwarder", "from_user"),
            (EventType.COMMENT, 0.15, "commenter", "on_user"),
            (EventType.REFERRAL, 0.05, "referee", "referrer"),
        ]
        for event_type, share, dst_field, src_field in kinds:
            m = int(edges * share)
            src = _sharers(rng, users, m)
            dst = rng.integers(0, users, m)
            cols = {
                "event_id": _ids(event_type.value[0] + "e", np.arange(m)),
                src_field: uid.take(pa.array(src)),
                dst_field: uid.take(pa.array(dst)),
                "ts": _ts(rng, m),
            }
            if event_type is not EventType.REFERRAL:
                cols["content_id"] = _ids("c", src)
            _append(store, event_type, cols)
            print(f"{event_type.value}: {m:,} rows, {time.perf_counter() - t:.0f} s", flush=True)
        n_orders = users
        tokens = _ids("c", _sharers(rng, users, n_orders))
        tokens = pc.if_else(pa.array(rng.random(n_orders) < 0.2), tokens, None)
        _append(
            store,
            EventType.ORDER,
            {
                "event_id": _ids("o", np.arange(n_orders)),
                "order_id": _ids("o", np.arange(n_orders)),
                "buyer": uid.take(pa.array(rng.integers(0, users, n_orders))),
                "amount": pa.array(rng.integers(10, 2_000, n_orders), pa.int32()).cast(
                    pa.decimal128(20, 4)
                ),
                "currency": pa.array(np.full(n_orders, "CNY", dtype=object)),
                "ts": _ts(rng, n_orders),
                "attribution_token": tokens,
            },
        )
        refunded = rng.choice(n_orders, n_orders // 20, replace=False)
        _append(
            store,
            EventType.REFUND,
            {
                "event_id": _ids("f", refunded),
                "order_id": _ids("o", refunded),
                "amount": pa.array(np.full(refunded.shape[0], 5), pa.int32()).cast(
                    pa.decimal128(20, 4)
                ),
                "ts": pa.array(np.full(refunded.shape[0], T0 + SPAN), pa.timestamp("us", tz="UTC")),
            },
        )
        print(json.dumps({"generated": store.counts(), "seconds": time.perf_counter() - t}))


def run(db: Path, registers: int | None, save: bool) -> None:
    from api.services.ranking import _communities, compute_ranking, run_ranking
    from graph.snapshot import build_snapshot
    from influence.config import default_score_config

    cfg = default_score_config()
    data = cfg.model_dump(mode="python")
    data["communities"]["enabled"] = False
    if registers is not None:
        data["reach"]["registers"] = registers
    cfg = type(cfg).model_validate(data)
    out: dict = {"registers": cfg.reach.registers}
    out["load_average_before"] = [round(x, 1) for x in os.getloadavg()]
    with DuckDBStore(db, memory_limit="3GB") as store:
        cpu_marks: list[tuple[str, float]] = []

        def progress(step: str, done: int, total: int) -> None:
            cpu_marks.append((step, time.process_time()))

        cpu0, t0 = time.process_time(), time.perf_counter()
        ranking = compute_ranking(store, cfg, progress=progress)
        cpu_marks.append(("end", time.process_time()))
        out["steps_cpu_seconds"] = {
            a[0]: round(b[1] - a[1], 2) for a, b in zip(cpu_marks[:-1], cpu_marks[1:], strict=True)
        }
        out["pipeline_seconds"] = round(time.perf_counter() - t0, 2)
        out["pipeline_cpu_seconds"] = round(time.process_time() - cpu0, 2)
        out["steps"] = ranking.timings
        out["row_counts"] = ranking.row_counts
        out["peak_rss_gb_after_pipeline"] = round(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, 2
        )
        snap = build_snapshot(store, half_life_days=cfg.graph.half_life_days)
        cpu0, t0 = time.process_time(), time.perf_counter()
        _communities(snap, default_score_config())
        out["leiden_seconds"] = round(time.perf_counter() - t0, 2)
        out["leiden_cpu_seconds"] = round(time.process_time() - cpu0, 2)
        del snap
        if save:
            cpu0, t0 = time.process_time(), time.perf_counter()
            run_rec = run_ranking(store, cfg)
            out["run_ranking_seconds"] = round(time.perf_counter() - t0, 2)
            out["run_ranking_cpu_seconds"] = round(time.process_time() - cpu0, 2)
            out["run_ranking_timings"] = run_rec.timings
    out["load_average_after"] = [round(x, 1) for x in os.getloadavg()]
    out["peak_rss_gb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, 2)
    print(json.dumps(out, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate")
    g.add_argument("--db", type=Path, required=True)
    g.add_argument("--users", type=int, default=1_000_000)
    g.add_argument("--edges", type=int, default=10_000_000)
    g.add_argument("--seed", type=int, default=0)
    r = sub.add_parser("run")
    r.add_argument("--db", type=Path, required=True)
    r.add_argument("--registers", type=int, default=None, help="default: the scoring config's")
    r.add_argument("--no-save", action="store_true")
    args = parser.parse_args()
    if args.cmd == "generate":
        generate(args.db, args.users, args.edges, args.seed)
    else:
        run(args.db, args.registers, not args.no_save)


if __name__ == "__main__":
    main()
