"""Benchmark the HTTP API on a 1M-user store (run by hand, not in the test suite).

Two steps::

    .venv/bin/python benchmarks/bench_api.py build --users 1000000 --db /tmp/koc-bench/api.duckdb
    .venv/bin/python benchmarks/bench_api.py run --db /tmp/koc-bench/api.duckdb --duration 20

``build`` writes generated users, referrals, views and orders with ``append_batch``
(Arrow tables, no Python loop per row) and five saved ranking runs (``--runs``) with a
score, five components and three detail signals for every user. ``run`` creates a read key, starts ``koc serve`` as a
separate process on a free loopback port, and loads ``GET /v1/leaderboard?limit=50``
and ``GET /v1/users/{id}`` (random ids, a Lua script) with ``wrk`` (Debian package),
printing p50/p95/p99 latency and throughput as Markdown.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from graph.duckdb_store import DuckDBStore  # noqa: E402
from graph.events import EventType  # noqa: E402
from graph.store import ARROW_SCHEMAS, COMPONENT_SCHEMA, SCORE_SCHEMA, RunRecord  # noqa: E402

__all__ = ["build", "run"]

COMPONENTS = ("conversion", "engagement", "pagerank", "reach", "spend")
DETAILS = ("conversion.conversions", "engagement.comments_received", "spend.frequency")
ROLES = np.array(["consumer", "kol", "employee", "unknown"], dtype=object)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _ids(prefix: str, idx: np.ndarray) -> pa.Array:
    return pa.array(np.char.add(prefix, np.char.zfill(idx.astype(str), 7)).astype(object))


def _ts(rng: np.random.Generator, n: int) -> pa.Array:
    us = int(T0.timestamp() * 1e6) + rng.integers(0, 30 * 86400 * 10**6, n)
    return pa.array(us, type=pa.timestamp("us", tz="UTC"))


def _table(event_type: EventType, columns: dict[str, pa.Array], n: int) -> pa.Table:
    schema = ARROW_SCHEMAS[event_type]
    arrays = [columns.get(f.name, pa.nulls(n, f.type)) for f in schema]
    return pa.Table.from_arrays(arrays, schema=schema)


def build(db: Path, users: int, runs: int = 5, seed: int = 0) -> None:
    """Write a store with ``users`` users, events and ``runs`` ranking runs."""
    rng = np.random.default_rng(seed)
    db.parent.mkdir(parents=True, exist_ok=True)
    if db.exists():
        db.unlink()
    started = time.perf_counter()
    idx = np.arange(users)
    uid = _ids("u", idx)
    role_codes = rng.choice(4, users, p=[0.9, 0.04, 0.03, 0.03])
    with DuckDBStore(db, threads=2) as store:
        store.append_batch(
            {
                EventType.USER: _table(
                    EventType.USER,
                    {
                        "event_id": _ids("user-", idx),
                        "user_id": uid,
                        "role": pa.array(ROLES[role_codes]),
                        "display_name": _ids("User ", idx),
                        "created_at": _ts(rng, users),
                    },
                    users,
                )
            }
        )
        # referral forest: user i (i > 0) referred by a random earlier user, half the users
        referees = rng.choice(np.arange(1, users), users // 2, replace=False)
        referrers = (rng.random(referees.shape[0]) * referees).astype(np.int64)
        n = referees.shape[0]
        views_n = 2 * users
        sharers, viewers = rng.integers(0, users, views_n), rng.integers(0, users, views_n)
        buyers = rng.integers(0, users, users // 2)
        cents = rng.integers(100, 100_000, buyers.shape[0])
        amounts = pa.array(
            np.char.add(
                np.char.add((cents // 100).astype(str), "."),
                np.char.zfill((cents % 100).astype(str), 2),
            ).astype(object)
        ).cast(pa.decimal128(20, 4))
        store.append_batch(
            {
                EventType.REFERRAL: _table(
                    EventType.REFERRAL,
                    {
                        "event_id": _ids("ref-", np.arange(n)),
                        "referrer": _ids("u", referrers),
                        "referee": _ids("u", referees),
                        "ts": _ts(rng, n),
                    },
                    n,
                ),
                EventType.VIEW: _table(
                    EventType.VIEW,
                    {
                        "event_id": _ids("view-", np.arange(views_n)),
                        "viewer": _ids("u", viewers),
                        "sharer": _ids("u", sharers),
                        "content_id": _ids("c", sharers),
                        "ts": _ts(rng, views_n),
                    },
                    views_n,
                ),
                EventType.ORDER: _table(
                    EventType.ORDER,
                    {
                        "event_id": _ids("order-", np.arange(buyers.shape[0])),
                        "order_id": _ids("o", np.arange(buyers.shape[0])),
                        "buyer": _ids("u", buyers),
                        "amount": amounts.cast(pa.decimal128(20, 4)),
                        "currency": pa.array(np.full(buyers.shape[0], "CNY", dtype=object)),
                        "ts": _ts(rng, buyers.shape[0]),
                    },
                    buyers.shape[0],
                ),
            }
        )
        uids = np.asarray(uid.to_pylist(), dtype=object)
        rows_per_user = len(COMPONENTS) + len(DETAILS)
        for k in range(runs):
            run_id = f"bench-r{k + 1}"
            contrib = rng.random((users, len(COMPONENTS))) / len(COMPONENTS)
            score = contrib.sum(axis=1)
            order = np.argsort(-score, kind="stable")
            rank = np.empty(users, dtype=np.int32)
            rank[order] = np.arange(1, users + 1, dtype=np.int32)
            scores = pa.table(
                {
                    "user_id": uid.take(pa.array(order)),
                    "rank": pa.array(rank[order]),
                    "score": pa.array(score[order]),
                    "role": pa.array(ROLES[role_codes][order]),
                    "community": pa.array((order % 500).astype(np.int32)),
                },
                schema=SCORE_SCHEMA,
            )
            # five components plus detail signals (raw only), as a real run stores them
            raw = np.hstack([contrib * 1000, rng.integers(0, 50, (users, len(DETAILS)))])
            normalized = np.hstack(
                [contrib * len(COMPONENTS), np.full((users, len(DETAILS)), np.nan)]
            )
            contribution = np.hstack([contrib, np.full((users, len(DETAILS)), np.nan)])
            components = pa.table(
                {
                    "user_id": pa.array(np.repeat(uids, rows_per_user)),
                    "component": pa.array(
                        np.tile(np.array(COMPONENTS + DETAILS, dtype=object), users)
                    ),
                    "raw": pa.array(raw.ravel()),
                    "normalized": pa.array(normalized.ravel(), from_pandas=True),
                    "contribution": pa.array(contribution.ravel(), from_pandas=True),
                },
                schema=COMPONENT_SCHEMA,
            )
            created = T0 + timedelta(days=31 + k)
            store.save_run(
                RunRecord(
                    run_id=run_id, created_at=created, status="succeeded", window_end=created
                ),
                scores,
                components,
            )
    print(f"built {db} with {users:,} users in {time.perf_counter() - started:.1f} s")


_LATENCY = re.compile(r"^\s+(50|75|90|95|99)(?:\.000)?%\s+([\d.]+)(us|ms|s)\s*$", re.M)
_RPS = re.compile(r"Requests/sec:\s+([\d.]+)")


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wrk(url: str, token: str, duration: int, connections: int, script: Path | None) -> dict:
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--timeout", "30s", "--latency"]
    cmd += ["-H", f"X-API-Key: {token}"]
    if script is not None:
        cmd += ["-s", str(script)]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    lat = {p: _ms(v, u) for p, v, u in _LATENCY.findall(out)}
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "cmd": " ".join(cmd[:7] + ["-H 'X-API-Key: ...'"] + cmd[9:] + [url]),
        "rps": float(_RPS.search(out).group(1)),  # type: ignore[union-attr]
        "p50": lat.get("50"),
        "p95": lat.get("95", lat.get("90")),
        "p99": lat.get("99"),
        "non_2xx": int(errors.group(1)) if errors else 0,
    }


def run(db: Path, duration: int, connections: int, users: int) -> None:
    """Serve ``db`` with ``koc serve`` and load two endpoints with wrk."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install -y wrk")
    from api.services.keys import create_key

    with DuckDBStore(db) as store:
        _, token = create_key(store, "bench", "read")
    port = _free_port()
    env = {**os.environ, "KOC_DB_PATH": str(db)}
    koc = str(ROOT / ".venv" / "bin" / "koc")
    server = subprocess.Popen(
        [koc, "serve", "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        import httpx

        for _ in range(300):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        # warm the caches once (first page of the run, run results indexed by user)
        warm = time.perf_counter()
        httpx.get(f"{base}/v1/leaderboard?limit=50", headers={"X-API-Key": token}, timeout=300)
        httpx.get(f"{base}/v1/users/u0000001", headers={"X-API-Key": token}, timeout=300)
        first = time.perf_counter() - warm
        while not httpx.get(f"{base}/readyz", timeout=30).json()["profile_index"]["current"]:
            time.sleep(0.2)  # the profile index builds in the background
        index = httpx.get(f"{base}/readyz", timeout=30).json()["profile_index"]
        print(
            f"warm-up: first leaderboard page + first profile {first:.1f} s; profile index "
            f"of {index['users']:,} users built in {index['build_seconds']:.1f} s, "
            f"ready after {time.perf_counter() - warm:.1f} s"
        )
        lua = Path(tempfile.mkdtemp()) / "users.lua"
        lua.write_text(
            "math.randomseed(7)\n"
            "request = function()\n"
            f"  return wrk.format('GET', string.format('/v1/users/u%07d', math.random(0, {users - 1})))\n"
            "end\n"
        )
        results = {
            "GET /v1/leaderboard?limit=50": _wrk(
                f"{base}/v1/leaderboard?limit=50", token, duration, connections, None
            ),
            "GET /v1/users/{id} (random ids)": _wrk(
                f"{base}/v1/users/u0000000", token, duration, connections, lua
            ),
        }
    finally:
        server.terminate()
        server.wait(timeout=30)
    print("| endpoint | requests/s | p50 ms | p95 ms | p99 ms | non-2xx | command |")
    print("|---|---|---|---|---|---|---|")
    for name, r in results.items():
        print(
            f"| {name} | {r['rps']:.0f} | {r['p50']:.2f} | {r['p95']:.2f} | {r['p99']:.2f} "
            f"| {r['non_2xx']} | `{r['cmd']}` |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="step", required=True)
    b = sub.add_parser("build")
    b.add_argument("--users", type=int, default=1_000_000)
    b.add_argument("--db", type=Path, default=Path("/tmp/koc-bench/api.duckdb"))
    b.add_argument("--runs", type=int, default=5, help="saved ranking runs (rank history)")
    r = sub.add_parser("run")
    r.add_argument("--db", type=Path, default=Path("/tmp/koc-bench/api.duckdb"))
    r.add_argument("--duration", type=int, default=20)
    r.add_argument("--connections", type=int, default=8)
    r.add_argument("--users", type=int, default=1_000_000)
    args = parser.parse_args()
    if args.step == "build":
        build(args.db, args.users, args.runs)
    else:
        run(args.db, args.duration, args.connections, args.users)


if __name__ == "__main__":
    main()
