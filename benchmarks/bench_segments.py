"""Benchmark segments on a 1M-user store (run by hand, not in the test suite).

::

    .venv/bin/python benchmarks/bench_segments.py build --db /tmp/koc-bench/seg.duckdb
    flock /tmp/koc-bench.lock .venv/bin/python benchmarks/bench_segments.py store --db /tmp/koc-bench/seg.duckdb
    flock /tmp/koc-bench.lock .venv/bin/python benchmarks/bench_segments.py run --db /tmp/koc-bench/seg.duckdb

``build`` writes the store of ``benchmarks/bench_api.py`` (users, referrals, 2 views and
0.5 orders per user, saved runs) plus 2 forwards and 1 share per user with channels.
``store`` times what ``koc rank`` adds when it saves a run: each user's stage, tier, RFM
segment and preferred channel computed and stored (``store_run_audience``), for both runs.
``run`` times, on the latest run: loading its frame (scores, the stored fact fields, the
events as arrays, the channel table) through a :class:`api.services.cache.RunCache` with
the run's breakdown pivot warmed (as the HTTP server holds it), evaluating an 8-condition
segment (first evaluation, which counts its windows, and repeats), and exporting 1M
members as CSV. ``--no-cache`` reads components from the store instead.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import pandas  # noqa: E402,F401  # loaded in a running server; not timed as a first use
from bench_api import _ids, _table, _ts  # noqa: E402
from bench_api import build as build_api  # noqa: E402

import referral.service  # noqa: E402,F401  # (the fraud_held tag's ledger read imports it)
from api.services import segments  # noqa: E402
from api.services.audience import store_run_audience  # noqa: E402
from api.services.cache import RunCache  # noqa: E402
from graph.duckdb_store import DuckDBStore  # noqa: E402
from graph.events import EventType  # noqa: E402

CHANNELS = np.array(["wechat", "weibo", "xiaohongshu", "douyin", "store"], dtype=object)
#: eight conditions: text, number list, two windowed facts, a tag, a channel, a component, a stage
SEGMENT = (
    "role = consumer and community in (3, 7, 11, 42) and forwards(30d) >= 1 "
    "and not tag:fraud_held and channel_pref in ('xiaohongshu', 'weibo') "
    "and orders(90d) < 3 and conversion >= 10 and stage != 'lost'"
)


def build(db: Path, users: int, seed: int = 1) -> None:
    build_api(db, users, runs=2, seed=seed)
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    with DuckDBStore(db, threads=2) as store:
        n_fwd, n_share = 2 * users, users
        src, dst = rng.integers(0, users, n_fwd), rng.integers(0, users, n_fwd)
        sharers = rng.integers(0, users, n_share)
        store.append_batch(
            {
                EventType.FORWARD: _table(
                    EventType.FORWARD,
                    {
                        "event_id": _ids("fwd-", np.arange(n_fwd)),
                        "forwarder": _ids("u", dst),
                        "from_user": _ids("u", src),
                        "content_id": _ids("c", src),
                        "channel": pa.array(CHANNELS[rng.integers(0, 5, n_fwd)]),
                        "ts": _ts(rng, n_fwd),
                    },
                    n_fwd,
                ),
                EventType.SHARE: _table(
                    EventType.SHARE,
                    {
                        "event_id": _ids("share-", np.arange(n_share)),
                        "sharer": _ids("u", sharers),
                        "content_id": _ids("c", sharers),
                        "channel": pa.array(CHANNELS[rng.integers(0, 5, n_share)]),
                        "ts": _ts(rng, n_share),
                    },
                    n_share,
                ),
            }
        )
    print(f"added forwards and shares in {time.perf_counter() - started:.1f} s")


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def store(db: Path) -> None:
    with DuckDBStore(db) as st:
        runs = [r for r in st.list_runs(limit=10) if r.status == "succeeded"][:2]
        for run in reversed(runs):
            t = time.perf_counter()
            info = store_run_audience(st, run)
            assert info is not None
            print(
                f"| store_run_audience {run.run_id} | {time.perf_counter() - t:.2f} s "
                f"({info['users']:,} users) |"
            )


def run(db: Path, repeats: int, *, cache: bool = True) -> None:
    with DuckDBStore(db, read_only=True) as plain:
        store = RunCache(plain) if cache else plain
        latest = plain.latest_run("succeeded")
        assert latest is not None
        t_pivot = 0.0
        if isinstance(store, RunCache):  # the HTTP server's warm-up holds this
            t_pivot = _timed(lambda: store.component_column(latest.run_id, "conversion"))
        t = time.perf_counter()
        frame = segments.run_frame(store)  # type: ignore[arg-type]
        t_scores = time.perf_counter() - t
        t_stored = _timed(frame.stored_fields)
        assert frame.stored_at is not None, "run `store` first"
        t_events = _timed(frame._event_frame)
        t_stage = _timed(frame.stage_codes)
        t_channels = _timed(lambda: frame.text("channel_pref"))
        compiled = segments.compile_segment(SEGMENT, frame.catalog(strict_tags=False))
        first = _timed(lambda: compiled.evaluate(frame))
        members = int(compiled.evaluate(frame).sum())
        repeat = [_timed(lambda: compiled.evaluate(frame)) for _ in range(repeats)]
        # a fresh compile each time with new windows: the windows' bincounts are counted again
        fresh = []
        for k in range(repeats):
            expr = SEGMENT.replace("30d", f"{20 + k}d").replace("90d", f"{80 + k}d")
            c = segments.compile_segment(expr, frame.catalog(strict_tags=False))
            fresh.append(_timed(lambda c=c: c.evaluate(frame)))
        everyone = segments.compile_segment("score >= 0", frame.catalog(strict_tags=False))
        assert int(everyone.evaluate(frame).sum()) == frame.size
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "members.csv"
            segments.BUILTINS["_bench_all"] = ("score >= 0", "every user")
            exports = [
                _timed(lambda: segments.export_members(store, "_bench_all", out))  # type: ignore[arg-type]
                for _ in range(3)
            ]
            size = out.stat().st_size
        print(f"| users | {frame.size:,} |")
        print(f"| load: breakdown pivot (RunCache, server warm-up) | {t_pivot:.2f} s |")
        print(f"| load: scores | {t_scores:.2f} s |")
        print(f"| load: stored stage, tier, rfm, channel_pref | {t_stored:.2f} s |")
        print(f"| load: events as arrays | {t_events:.2f} s |")
        print(f"| load: lifecycle stages (stored) | {t_stage:.2f} s |")
        print(f"| load: channel preference (stored) | {t_channels:.2f} s |")
        print(
            f"| 8-condition segment, first evaluation | {first * 1000:.0f} ms ({members:,} members) |"
        )
        print(
            f"| 8-condition segment, new windows (median of {repeats}) | {statistics.median(fresh) * 1000:.0f} ms |"
        )
        print(
            f"| 8-condition segment, repeat (median of {repeats}) | {statistics.median(repeat) * 1000:.0f} ms |"
        )
        print(
            f"| export 1M members as CSV (median of 3) | {statistics.median(exports):.2f} s ({size / 1e6:.0f} MB) |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="step", required=True)
    b = sub.add_parser("build")
    b.add_argument("--db", type=Path, required=True)
    b.add_argument("--users", type=int, default=1_000_000)
    r = sub.add_parser("run")
    r.add_argument("--db", type=Path, required=True)
    r.add_argument("--repeats", type=int, default=5)
    r.add_argument("--no-cache", action="store_true", help="Read components from the store.")
    st = sub.add_parser("store")
    st.add_argument("--db", type=Path, required=True)
    args = parser.parse_args()
    if args.step == "build":
        build(args.db, args.users)
    elif args.step == "store":
        store(args.db)
    else:
        run(args.db, args.repeats, cache=not args.no_cache)


if __name__ == "__main__":
    main()
