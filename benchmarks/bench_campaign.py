"""Campaign planning at scale: IMM with K = 50, epsilon = 0.2 on 1M users / 10M interactions.

Run by hand, under the bench lock (not part of the test suite)::

    flock /tmp/koc-bench.lock .venv/bin/python benchmarks/bench_campaign.py \
        --users 1000000 --edges 10000000 --k 50 --epsilon 0.2

The graph is generated in memory (no store: this times the algorithms, the part the
issue bounds): each user's activity is lognormal (sigma 1.5, heavy-tailed sharers),
each interaction picks its sharer by activity and its viewer uniformly; a user with
``a`` interactions made ``ceil(a ** 0.2 / c)`` shares (``--share-scale c``, 0.125: about
10 shares for 3 interactions, 37 for 2000), so a big sharer's share reaches many people
while a typical user's reaches a few tenths of one (the cascade stays subcritical, as
real sharing does), and each interaction is with one of the sharer's shares.
Probabilities are learned with :func:`influence.campaign.learn_probabilities`.

Each step runs in a child process (``--step``) so its peak RSS (``ru_maxrss``) is its
own: ``learn`` (estimator), ``imm`` (learn + IMM, ``--threads 1`` and ``2``), then
``compare``: independent simulations (``--runs``) of IMM's seeds and of top K by
PageRank (the KOC score's influence component: the generated graph has no orders,
so no full KOC score), top K by degree (distinct people reached) and random K.
Prints one JSON line per step; figures go to benchmarks/RESULTS.md by hand.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def generate(users: int, edges: int, share_scale: float, seed: int):
    """Interactions ``(src, dst, content)`` and shares per user (module docstring)."""
    rng = np.random.default_rng(seed)
    activity = rng.lognormal(0.0, 1.5, size=users)
    cdf = np.cumsum(activity)
    src = np.searchsorted(cdf, rng.random(edges) * cdf[-1]).astype(np.int64)
    dst = rng.integers(0, users, size=edges)
    out = np.bincount(src, minlength=users)
    shares = np.maximum(1, np.ceil(out**0.2 / share_scale)).astype(np.int64)
    content = (rng.random(edges) * shares[src]).astype(np.int64)
    return src, dst, content, np.where(out > 0, shares, 0)


def learn(args):
    from influence.campaign import learn_probabilities

    src, dst, content, shares = generate(args.users, args.edges, args.share_scale, args.seed)
    t = time.perf_counter()
    probs = learn_probabilities(args.users, src, dst, content=content, shares=shares)
    took = time.perf_counter() - t
    branching = float(probs.prob.sum() / args.users)
    return probs, {
        "learn_s": round(took, 2),
        "ties": probs.n_edges,
        "prior": probs.prior,
        "mean_out_probability_sum": round(branching, 3),
    }


def step_learn(args) -> dict:
    _, out = learn(args)
    return out


def step_imm(args) -> dict:
    from influence.campaign import imm

    probs, out = learn(args)
    t = time.perf_counter()
    plan = imm(probs, args.k, epsilon=args.epsilon, seed=args.seed, threads=args.threads)
    out["imm_s"] = round(time.perf_counter() - t, 2)
    out["total_s"] = round(out["learn_s"] + out["imm_s"], 2)
    out.update({k: v for k, v in plan.details.items() if k != "guarantee"})
    out["estimated_spread"] = round(plan.spread, 1)
    out["threads"] = args.threads
    np.save(args.seeds_file, plan.seeds)
    return out


def step_compare(args) -> dict:
    from graph.events import EDGE_TYPE_CODES, EventType
    from graph.snapshot import GraphSnapshot
    from graph.store import EdgeArrays
    from influence import pagerank
    from influence.campaign import random_k, simulate_spread, top_k_by

    probs, out = learn(args)
    n = args.users
    seeds = {"imm": np.load(args.seeds_file)}
    edges = EdgeArrays(
        src=probs.src,
        dst=probs.dst,
        etype=np.full(probs.n_edges, EDGE_TYPE_CODES[EventType.VIEW], dtype=np.int8),
        ts=np.zeros(probs.n_edges, dtype=np.int64),
        node_ids=np.arange(n).astype(str).astype(object),
    )
    pr = pagerank(GraphSnapshot.from_edges(edges)).scores
    everyone = np.ones(n, dtype=bool)
    seeds["top_pagerank"] = top_k_by(pr, args.k)
    seeds["top_degree"] = top_k_by(probs.out_degree().astype(float), args.k)
    seeds["random"] = random_k(everyone, args.k, seed=args.seed)
    t = time.perf_counter()
    for name, s in seeds.items():
        est = simulate_spread(probs, s, runs=args.runs, seed=args.seed + 1)
        out[name] = {"mean": round(est.mean, 1), "ci95": [round(est.low, 1), round(est.high, 1)]}
    out["simulate_s"] = round(time.perf_counter() - t, 2)
    out["runs"] = args.runs
    return out


STEPS = {"learn": step_learn, "imm": step_imm, "compare": step_compare}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--users", type=int, default=1_000_000)
    p.add_argument("--edges", type=int, default=10_000_000)
    p.add_argument("--k", type=int, default=50)
    p.add_argument("--epsilon", type=float, default=0.2)
    p.add_argument("--share-scale", type=float, default=0.125)
    p.add_argument("--runs", type=int, default=1000)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seeds-file", default="/tmp/koc-bench-campaign-seeds.npy")
    p.add_argument("--step", choices=sorted(STEPS))
    p.add_argument("--imm-threads", default="2,1", help="thread counts to time IMM with")
    args = p.parse_args()
    if args.step:
        out = STEPS[args.step](args)
        out["peak_rss_gb"] = round(_peak_rss_gb(), 2)
        print(json.dumps({"step": args.step, **out}), flush=True)
        return
    print(json.dumps({"loadavg_before": os.getloadavg()}), flush=True)
    base = [sys.executable, __file__] + [a for a in sys.argv[1:]]
    for threads in args.imm_threads.split(","):
        subprocess.run([*base, "--step", "imm", "--threads", threads], check=True)
    subprocess.run([*base, "--step", "compare"], check=True)
    print(json.dumps({"loadavg_after": os.getloadavg()}), flush=True)


if __name__ == "__main__":
    main()
