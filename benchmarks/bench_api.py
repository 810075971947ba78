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

``pages`` (issue 20) starts ``koc serve`` cold and times the first leaderboard page and
profile and ``/readyz`` turning ``ready``, then loads ``--urls`` random deep cursors over
every sort and filter (``PAGE_FILTERS``) with wrk at ``--connections`` (default 4)::

    .venv/bin/python benchmarks/bench_api.py pages --db /tmp/koc-bench/api.duckdb --duration 30

The functions (``build``, ``start_server``, ``wrk``, ``deep_page_urls``, ``pages``) are
imported by other benchmarks.
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
from typing import Any

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from graph.duckdb_store import DuckDBStore  # noqa: E402
from graph.events import EventType  # noqa: E402
from graph.store import ARROW_SCHEMAS, COMPONENT_SCHEMA, SCORE_SCHEMA, RunRecord  # noqa: E402

__all__ = [
    "build",
    "run",
    "pages",
    "start_server",
    "stop_server",
    "wrk",
    "deep_page_urls",
    "load_average",
    "PAGE_FILTERS",
]

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


def wrk(url: str, token: str, duration: int, connections: int, script: Path | None) -> dict:
    """Run wrk against ``url`` and parse its latency distribution and throughput."""
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
            "GET /v1/leaderboard?limit=50": wrk(
                f"{base}/v1/leaderboard?limit=50", token, duration, connections, None
            ),
            "GET /v1/users/{id} (random ids)": wrk(
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


#: the filters of the deep-page benchmark: query string and the SQL condition it means
#: (staff, i.e. employees and KOLs, are left out unless a role or include_staff is given)
_NO_STAFF = "{t}role IS DISTINCT FROM 'employee' AND {t}role IS DISTINCT FROM 'kol'"
PAGE_FILTERS: dict[str, str] = {
    "": _NO_STAFF,
    "role=kol": "{t}role = 'kol'",
    "community=7": "{t}community = 7 AND " + _NO_STAFF,
    "min_score=0.5": "{t}score >= 0.5 AND " + _NO_STAFF,
    "include_staff=true": "TRUE",
}


def load_average() -> str:
    """The 1/5/15-minute load averages, as ``uptime`` prints them."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _board_sizes(db: Path) -> tuple[str, dict[tuple[str, str], int]]:
    """The latest run and, per (sort, filter), how many rows its leaderboard has."""
    from api.services.ranking import SORT_KEYS

    with DuckDBStore(db, read_only=True) as store:
        runs = [r for r in store.list_runs(limit=100) if r.status == "succeeded"]
        run, prev = runs[0].run_id, runs[1].run_id if len(runs) > 1 else None
        conn = store.tables.cursor().conn

        def count(sql: str, params: list[Any]) -> int:
            row = conn.execute(sql, params).fetchone()
            return int(row[0]) if row else 0

        sizes = {}
        for query, where in PAGE_FILTERS.items():
            total = count(
                f"SELECT count(*) FROM run_scores WHERE run_id = ? AND {where.format(t='')}", [run]
            )
            fell = count(
                "SELECT count(*) FROM run_scores s JOIN run_scores p USING (user_id) "
                "WHERE s.run_id = ? AND p.run_id = ? AND p.rank < s.rank AND "
                + where.format(t="s."),
                [run, prev],
            )
            for sort in SORT_KEYS:
                sizes[(sort, query)] = fell if sort == "falling" else total
    return run, sizes


def deep_page_urls(db: Path, count: int, *, limit: int = 50, seed: int = 7) -> list[str]:
    """``count`` leaderboard URLs over every sort and filter, each with a cursor to a
    uniformly random depth of that leaderboard (as a client paging deep would send)."""
    from api.services.pagination import Cursor, encode_cursor, query_digest

    run, sizes = _board_sizes(db)
    rng = np.random.default_rng(seed)
    keys = list(sizes)
    urls = []
    for k in rng.integers(0, len(keys), count):
        sort, query = keys[int(k)]
        params = dict(p.split("=") for p in query.split("&") if p)
        digest = query_digest(
            run=None,
            role=params.get("role"),
            community=int(params["community"]) if "community" in params else None,
            min_score=float(params["min_score"]) if "min_score" in params else None,
            sort=sort,
            staff="include_staff" in params,
        )
        after = int(rng.integers(0, max(1, sizes[(sort, query)] - limit)))
        cursor = encode_cursor(Cursor(run, digest, after)) if after else None
        url = f"/v1/leaderboard?limit={limit}&sort={sort}" + (f"&{query}" if query else "")
        urls.append(url + (f"&cursor={cursor}" if cursor else ""))
    return urls


def start_server(
    db: Path, *, workers: int = 1, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen, str, float]:
    """Start ``koc serve`` on ``db``; returns the process, its base URL and the
    monotonic time it was started at (answers ``/healthz`` when this returns)."""
    import httpx

    port = _free_port()
    koc = str(ROOT / ".venv" / "bin" / "koc")
    started = time.monotonic()
    server = subprocess.Popen(
        [
            koc,
            "--db",
            str(db),
            "serve",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--workers",
            str(workers),
        ],
        env={**os.environ, "KOC_DB_PATH": str(db), **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(3000):
        if server.poll() is not None:
            raise SystemExit(f"koc serve exited: {server.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.05)
    return server, base, started


def stop_server(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def pages(db: Path, duration: int, connections: int = 4, urls: int = 20_000) -> dict:
    """Random deep pages of every sort and filter against ``koc serve`` on ``db``:
    the first page and profile after start, then wrk over ``urls`` random deep
    cursors. Returns the figures (and prints them as Markdown)."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install -y wrk")
    import httpx

    from api.services.keys import create_key

    with DuckDBStore(db) as store:
        _, token = create_key(store, "bench-pages", "read")
    chosen = deep_page_urls(db, urls)
    lua = Path(tempfile.mkdtemp()) / "pages.lua"
    lua.write_text(
        "math.randomseed(11)\nurls = {\n"
        + ",\n".join(f'  "{u}"' for u in chosen)
        + "\n}\nrequest = function()\n  return wrk.format('GET', urls[math.random(#urls)])\nend\n"
    )
    before = load_average()
    server, base, started = start_server(db)
    try:
        head = {"X-API-Key": token}
        up = time.monotonic() - started
        page = httpx.get(f"{base}/v1/leaderboard?limit=50", headers=head, timeout=300)
        first_page = time.monotonic() - started
        profile = httpx.get(f"{base}/v1/users/u0000001", headers=head, timeout=300)
        first_profile = time.monotonic() - started
        states = []
        while True:
            ready = httpx.get(f"{base}/readyz", timeout=60)
            states.append(ready.json().get("status", ready.status_code))
            if ready.status_code == 200 and ready.json().get("status") == "ready":
                break
            time.sleep(0.2)
        ready_at = time.monotonic() - started
        result = wrk(f"{base}/v1/leaderboard", token, duration, connections, lua)
    finally:
        stop_server(server)
    out = {
        "up_s": up,
        "first_page_s": first_page,
        "first_page_status": page.status_code,
        "first_profile_s": first_profile,
        "first_profile_status": profile.status_code,
        "ready_s": ready_at,
        "readyz_states": sorted(set(map(str, states))),
        "load_before": before,
        "load_after": load_average(),
        **result,
    }
    print(
        f"start: /healthz after {up:.1f} s, first page {first_page:.2f} s "
        f"({page.status_code}), first profile {first_profile:.2f} s ({profile.status_code}), "
        f"/readyz ready after {ready_at:.1f} s (states seen: {', '.join(out['readyz_states'])})"
    )
    print(
        "| query | connections | requests/s | p50 ms | p95 ms | p99 ms | non-2xx | load before / after |"
    )
    print("|---|---|---|---|---|---|---|---|")
    print(
        f"| {urls:,} random deep cursors, every sort x filter | {connections} | {result['rps']:.0f} "
        f"| {result['p50']:.2f} | {result['p95']:.2f} | {result['p99']:.2f} | {result['non_2xx']} "
        f"| {before} / {out['load_after']} |"
    )
    return out


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
    g = sub.add_parser("pages", help="random deep pages of every sort and filter, cold start")
    g.add_argument("--db", type=Path, default=Path("/tmp/koc-bench/api.duckdb"))
    g.add_argument("--duration", type=int, default=30)
    g.add_argument("--connections", type=int, default=4)
    g.add_argument("--urls", type=int, default=20_000, help="distinct random deep cursors")
    args = parser.parse_args()
    if args.step == "build":
        build(args.db, args.users, args.runs)
    elif args.step == "pages":
        pages(args.db, args.duration, args.connections, args.urls)
    else:
        run(args.db, args.duration, args.connections, args.users)


if __name__ == "__main__":
    main()
