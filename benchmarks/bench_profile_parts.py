"""Where a `GET /v1/users/{id}` request spends its time: each service call, in process.

Run by hand on a store built by ``bench_api.py build``::

    .venv/bin/python benchmarks/bench_profile_parts.py --db /tmp/koc-bench-q/api.duckdb
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable

from api import profiles
from api.services import ranking
from graph.duckdb_store import DuckDBStore


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--users", type=int, default=1_000_000, help="ids are u0000000..")
    parser.add_argument("--samples", type=int, default=10)
    args = parser.parse_args()
    store = DuckDBStore(args.db, read_only=True)
    rng = random.Random(0)
    ids = [f"u{rng.randrange(args.users):07d}" for _ in range(args.samples)]
    run_id = store.latest_run().run_id

    def timed(name: str, call: Callable[[str], object]) -> None:
        start = time.perf_counter()
        for user in ids:
            call(user)
        print(f"{name:22s} {(time.perf_counter() - start) / len(ids) * 1000:8.1f} ms")

    timed("user_view (all)", lambda u: profiles.user_view(store, u))
    timed("ranking.user_profile", lambda u: ranking.user_profile(store, u))
    timed("rank_history", lambda u: profiles.rank_history(store, u))
    timed("referral_summary", lambda u: profiles.referral_summary(store, u))
    timed("read_scores (1 user)", lambda u: store.read_scores(run_id, user_ids=[u]))
    timed("upline", lambda u: store.upline(u, 3))
    timed("downline", lambda u: store.downline(u, 3))


if __name__ == "__main__":
    main()
