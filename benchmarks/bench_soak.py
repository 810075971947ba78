"""Soak test of the HTTP API (run by hand): steady reads while events stream in and ranking runs happen.

    .venv/bin/python benchmarks/bench_soak.py --users 200000 --duration 600

Builds (once) a store of ``--users`` users with ``benchmarks/bench_api.py build``,
starts ``koc serve`` (one read-write worker) on a free loopback port, then for
``--duration`` seconds at the same time:

* **reads** at a steady rate (``--read-rate`` requests/s, open loop: a request is
  sent on schedule whether or not the earlier ones are answered): 70 %
  ``GET /v1/users/{random id}``, 30 % ``GET /v1/leaderboard?limit=50``;
* **writes**: every ``--write-interval`` s a ``POST /v1/events`` batch of new views
  and new orders, plus exact repeats of an earlier batch (duplicates) and orders
  that reuse an earlier ``order_id`` with another amount (conflicts);
* **ranking runs**: ``POST /v1/runs`` every ``--rank-every`` s (a 409 while one runs
  is counted, not an error).

Afterwards the server is stopped and the store is read: every order and view the
API answered ``inserted`` for must be stored once (0 lost, 0 doubled), no
conflicting order may be stored. Prints a Markdown report: errors, read latency
p50/p99 (all reads, and reads while a write or a run was in flight), writes
accepted vs stored, the machine's load average.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_api import build  # noqa: E402
from graph.duckdb_store import DuckDBStore  # noqa: E402
from graph.events import EventType  # noqa: E402

TS = "2026-01-20T10:00:00Z"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Stats:
    """Thread-safe latency and error records."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reads: list[tuple[str, float, str]] = []  # (endpoint, ms, busy() at start or end)
        self.errors: Counter[str] = Counter()
        self.accepted: Counter[str] = Counter()
        self.posted: Counter[str] = Counter()
        self.rejected: Counter[str] = Counter()
        self.runs: Counter[str] = Counter()
        self.writing = 0  # writes or runs in flight
        self.ranking = 0  # runs in flight
        self.trace: list[dict[str, Any]] = []  # --trace: every read and run poll, timed
        self.load_start: tuple[float, ...] = (float("nan"),) * 3  # load average at the start

    def busy(self) -> str:
        """What is in flight now: ``run`` (a ranking run, maybe writes too), ``write`` or ``quiet``."""
        with self.lock:
            return "run" if self.ranking else "write" if self.writing else "quiet"


def _batch(k: int, rng: np.random.Generator, users: int) -> list[dict[str, Any]]:
    """Batch ``k``: 200 new views, 50 new orders, 20 repeats of batch k-1, 10 conflicts."""

    def user() -> str:
        return f"u{int(rng.integers(0, users)):07d}"

    views = [
        {
            "type": "view",
            "viewer": user(),
            "sharer": user(),
            "content_id": f"soak-c{k}-{i}",
            "ts": TS,
        }
        for i in range(200)
    ]
    views = [v for v in views if v["viewer"] != v["sharer"]]
    orders = [
        {
            "type": "order",
            "order_id": f"soak-o{k}-{i}",
            "buyer": user(),
            "amount": f"{10 + i}.50",
            "currency": "CNY",
            "ts": TS,
        }
        for i in range(50)
    ]
    return views + orders


def run(args: argparse.Namespace) -> None:
    import httpx

    from api.services.keys import create_key

    db: Path = args.db
    if not db.exists() or args.rebuild:
        t = time.perf_counter()
        build(db, args.users, runs=2)
        print(f"built {db} ({args.users:,} users) in {time.perf_counter() - t:.0f} s", flush=True)
    with DuckDBStore(db) as store:
        tokens = {s: create_key(store, f"soak-{s}", s)[1] for s in ("read", "ingest", "admin")}
        before = store.counts()
    port = _free_port()
    env = {**os.environ, "KOC_DB_PATH": str(db)}
    server = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("koc")),  # this venv's (a worktree has none)
            "serve",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(db.parent / "soak-server.log").open("w"),
    )
    base = f"http://127.0.0.1:{port}"
    stats = Stats()
    rng = np.random.default_rng(args.seed)
    sent_batches: list[list[dict[str, Any]]] = []
    conflict_ids: set[str] = set()
    try:
        for _ in range(1200):
            if server.poll() is not None:
                raise SystemExit(f"koc serve exited; see {db.parent / 'soak-server.log'}")
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        print("server up; warming", flush=True)
        read_h = {"X-API-Key": tokens["read"]}
        httpx.get(f"{base}/v1/leaderboard?limit=50", headers=read_h, timeout=600)
        while not httpx.get(f"{base}/readyz", timeout=60).json()["profile_index"]["current"]:
            time.sleep(0.5)  # the profile index builds in the background
        stats.load_start = os.getloadavg()
        print(f"server warm; soak starts (load average {stats.load_start[0]:.1f})", flush=True)
        stop = threading.Event()
        t_end = time.monotonic() + args.duration

        def read_once(client: httpx.Client, path: str, name: str) -> None:
            busy = stats.busy()
            t0 = time.perf_counter()
            try:
                r = client.get(path, headers=read_h, timeout=30)
                ok = r.status_code == 200
            except httpx.HTTPError as exc:
                ok, r = False, None
                with stats.lock:
                    stats.errors[f"{name}: {type(exc).__name__}"] += 1
            ms = (time.perf_counter() - t0) * 1000
            after = stats.busy()
            state = (
                "run" if "run" in (busy, after) else "write" if "write" in (busy, after) else busy
            )
            with stats.lock:
                stats.reads.append((name, ms, state))
                stats.trace.append({"t": time.time() - ms / 1000, "read": name, "ms": round(ms, 1)})
                if r is not None and not ok:
                    stats.errors[f"{name}: HTTP {r.status_code}"] += 1

        def readers() -> None:
            client = httpx.Client(base_url=base, limits=httpx.Limits(max_connections=32))
            pool = ThreadPoolExecutor(16)
            interval = 1.0 / args.read_rate
            nxt = time.monotonic()
            while time.monotonic() < t_end:
                if rng.random() < 0.7:
                    path, name = (
                        f"/v1/users/u{int(rng.integers(0, args.users)):07d}",
                        "GET /v1/users/{id}",
                    )
                else:
                    path, name = "/v1/leaderboard?limit=50", "GET /v1/leaderboard"
                pool.submit(read_once, client, path, name)
                nxt += interval
                time.sleep(max(0.0, nxt - time.monotonic()))
            pool.shutdown(wait=True)
            client.close()

        def writer() -> None:
            client = httpx.Client(
                base_url=base, headers={"X-API-Key": tokens["ingest"]}, timeout=120
            )
            k = 0
            while time.monotonic() < t_end:
                records = _batch(k, rng, args.users)
                if sent_batches:  # exact repeats and conflicting orders of the previous batch
                    prev = sent_batches[-1]
                    records += prev[:20]
                    clash = [r for r in prev if r["type"] == "order"][:10]
                    records += [{**r, "amount": "99999.00"} for r in clash]
                    conflict_ids.update(r["order_id"] for r in clash)
                sent_batches.append(records[: len(records)])
                with stats.lock:
                    stats.writing += 1
                try:
                    r = client.post("/v1/events", json=records)
                    if r.status_code != 200:
                        stats.errors[f"POST /v1/events: HTTP {r.status_code}"] += 1
                    else:
                        body = r.json()
                        with stats.lock:
                            for t, c in body["by_type"].items():
                                stats.accepted[t] += c["inserted"]
                                stats.rejected[t] += c["rejected"]
                            stats.posted["rows"] += len(records)
                except httpx.HTTPError as exc:
                    stats.errors[f"POST /v1/events: {type(exc).__name__}"] += 1
                finally:
                    with stats.lock:
                        stats.writing -= 1
                k += 1
                time.sleep(args.write_interval)
            client.close()

        def ranker() -> None:
            headers = {"X-API-Key": tokens["admin"]}

            def call(method: str, path: str, **kw: Any) -> httpx.Response:
                # a fresh connection per call: the ranker idles longer than uvicorn's
                # keep-alive timeout, and a POST on a connection the server just closed fails
                with httpx.Client(base_url=base, headers=headers, timeout=60) as c:
                    return c.request(method, path, **kw)

            next_run = time.monotonic() + 30
            active: str | None = None
            while time.monotonic() < t_end or active:
                if active:
                    body = call("GET", f"/v1/runs/{active}").json()
                    state = body.get("status")
                    step = (body.get("progress") or {}).get("step")
                    with stats.lock:
                        stats.trace.append(
                            {"t": time.time(), "run": active, "status": state, "step": step}
                        )
                    if state != "running":
                        stats.runs[state] += 1
                        active = None
                        with stats.lock:
                            stats.writing -= 1
                            stats.ranking -= 1
                elif time.monotonic() >= next_run and time.monotonic() < t_end:
                    r = call("POST", "/v1/runs", json={})
                    if r.status_code == 202:
                        active = r.json()["run_id"]
                        stats.runs["started"] += 1
                        with stats.lock:
                            stats.writing += 1
                            stats.ranking += 1
                    elif r.status_code == 409:
                        stats.runs["busy (409)"] += 1
                    else:
                        stats.errors[f"POST /v1/runs: HTTP {r.status_code}"] += 1
                    next_run = time.monotonic() + args.rank_every
                time.sleep(1.0)

        threads = [threading.Thread(target=f, daemon=True) for f in (readers, writer, ranker)]
        t0 = time.monotonic()
        for th in threads:
            th.start()
        for th in threads:
            th.join(timeout=args.duration + 1800)
        stop.set()
        elapsed = time.monotonic() - t0
    finally:
        server.terminate()
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
    with DuckDBStore(db, read_only=True) as store:
        after = store.counts()
        orders = store.read_events(EventType.ORDER).to_pylist()
    soak = [o for o in orders if o["order_id"].startswith("soak-")]
    ids = Counter(o["order_id"] for o in soak)
    doubled = sum(n - 1 for n in ids.values() if n > 1)
    bad_amount = sum(1 for o in soak if str(o["amount"]) == "99999.0000")
    stored_views = after["view"] - before["view"]
    report(stats, args, elapsed, len(soak), stored_views, doubled, bad_amount)
    if args.trace:
        args.trace.write_text(
            "\n".join(json.dumps(r) for r in sorted(stats.trace, key=lambda r: r["t"]))
        )


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def report(
    stats: Stats,
    args: argparse.Namespace,
    elapsed: float,
    stored_orders: int,
    stored_views: int,
    doubled: int,
    bad_amount: int,
) -> None:
    load = os.getloadavg()
    print(
        f"\n## Soak: {args.users:,} users, {elapsed:.0f} s, load average at start "
        f"{stats.load_start[0]:.1f}, at end {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}\n"
    )
    print(
        f"command: `.venv/bin/python benchmarks/bench_soak.py --users {args.users} --duration {args.duration} "
        f"--read-rate {args.read_rate} --write-interval {args.write_interval} --rank-every {args.rank_every}`\n"
    )
    print("| reads | n | p50 ms | p99 ms | max ms |")
    print("|---|---|---|---|---|")
    for name in ("GET /v1/users/{id}", "GET /v1/leaderboard"):
        for label, states in (
            ("all", ("run", "write", "quiet")),
            ("during writes/runs", ("run", "write")),
            ("during runs", ("run",)),
            ("during writes only", ("write",)),
            ("quiet", ("quiet",)),
        ):
            ms = [m for n, m, b in stats.reads if n == name and b in states]
            print(
                f"| {name} ({label}) | {len(ms)} | {_pct(ms, 50):.1f} | {_pct(ms, 99):.1f} | {max(ms, default=float('nan')):.1f} |"
            )
    print(f"\nerrors: {dict(stats.errors) or 0}")
    print(
        f"writes: {stats.posted['rows']:,} rows posted; accepted (inserted) {dict(stats.accepted)}; "
        f"rejected {dict(stats.rejected)}"
    )
    print(
        f"stored: orders {stored_orders:,} (accepted {stats.accepted['order']:,}), views {stored_views:,} "
        f"(accepted {stats.accepted['view']:,}); lost orders {stats.accepted['order'] - stored_orders}, "
        f"lost views {stats.accepted['view'] - stored_views}; doubled order ids {doubled}; "
        f"conflicting amounts stored {bad_amount}"
    )
    print(f"ranking runs: {dict(stats.runs)}")
    print(
        json.dumps(
            {"errors": sum(stats.errors.values()), "doubled": doubled, "bad_amount": bad_amount}
        )
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--db", type=Path, default=Path("/tmp/koc-bench/soak.duckdb"))
    p.add_argument("--users", type=int, default=200_000)
    p.add_argument("--duration", type=int, default=600, help="seconds of load")
    p.add_argument("--read-rate", type=float, default=40.0, help="reads per second")
    p.add_argument("--write-interval", type=float, default=1.0, help="seconds between POSTs")
    p.add_argument("--rank-every", type=float, default=180.0, help="seconds between runs")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--rebuild", action="store_true", help="rebuild the store first")
    p.add_argument("--trace", type=Path, help="write every read and run poll here (JSON lines)")
    run(p.parse_args())


if __name__ == "__main__":
    main()
