"""Where a `GET /v1/users/{id}` request spends its time: each service call, in process.

Run by hand on a store built by ``bench_api.py build``::

    .venv/bin/python benchmarks/bench_profile_parts.py --db /tmp/koc-bench/api.duckdb

Prints the time to build the profile index (:mod:`api.services.facts`) and the mean time per
profile with it, then the store path it replaces (each part on its own), all through
the API's run cache as the server uses it.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable

from api.services import profiles, ranking
from api.services.cache import RunCache
from api.services.facts import build_facts
from graph.duckdb_store import DuckDBStore


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--users", type=int, default=1_000_000, help="ids are u0000000..")
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()
    store = RunCache(DuckDBStore(args.db, read_only=True))  # type: ignore[arg-type]
    rng = random.Random(0)
    ids = [f"u{rng.randrange(args.users):07d}" for _ in range(args.samples)]
    started = time.perf_counter()
    facts = build_facts(store.wrapped)
    print(f"{'profile index build':26s} {time.perf_counter() - started:8.2f} s")
    profiles.user_view(store, ids[0], facts=facts)  # loads the run into the run cache

    def timed(name: str, call: Callable[[str], object], samples: list[str]) -> None:
        start = time.perf_counter()
        for user in samples:
            call(user)
        print(f"{name:26s} {(time.perf_counter() - start) / len(samples) * 1000:8.2f} ms")

    timed("user_view (index)", lambda u: profiles.user_view(store, u, facts=facts), ids)
    few = ids[:10]  # the store path is slow: fewer samples
    timed("user_view (store)", lambda u: profiles.user_view(store, u), few)
    timed("  ranking.user_profile", lambda u: ranking.user_profile(store, u), few)
    timed("  rank_history", lambda u: profiles.rank_history(store, u), few)
    timed("  referral_summary", lambda u: profiles.referral_summary(store, u), few)
    timed("  role", lambda u: profiles._role(store, u, None), few)


if __name__ == "__main__":
    main()
