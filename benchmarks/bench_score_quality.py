"""Quality of the KOC score on worlds it was not built on (issue 13), with spread over seeds.

    .venv/bin/python benchmarks/bench_score_quality.py worlds --users 100000 --seeds 0 1 2 \\
        --work /tmp/koc_quality --out benchmarks/results/score_quality.md
    .venv/bin/python benchmarks/bench_score_quality.py higgs --work /tmp/koc_quality

``worlds``: for each world (``standard`` = ``koc synth``; ``adversarial`` at the
``high`` and ``low`` observability levels) and seed: generate, ``koc ingest`` into a
fresh DuckDB file (kept under ``--work`` and reused when present), rank on the months
before the held-out month and judge every method on it
(:func:`api.services.holdout.evaluate_holdout`); on the standard world also the
planted-KOC precision@100 of the whole-window ranking. ``--ablation`` re-runs the
held-out ranking with each score component's weight set to 0. Prints and writes
mean +- sample sd over seeds.

``higgs``: SNAP Higgs activity, ranked on events before 2012-07-05 00:00 UTC, judged
by each user's distinct retweeters on 5-7 July (NDCG@100, precision@100), next to
degree (unique audience) and retweets received before the cut.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api.services.holdout import HOLDOUT_METHODS, evaluate_holdout  # noqa: E402
from api.services.ranking import compute_ranking  # noqa: E402
from graph.arrays import node_index  # noqa: E402
from graph.duckdb_store import DuckDBStore  # noqa: E402
from graph.synth import AdversarialParams, SynthParams, generate, generate_adversarial  # noqa: E402
from influence.config import COMPONENTS, default_score_config  # noqa: E402
from influence.evaluation import (  # noqa: E402
    mean_and_sd,
    ndcg_at_k,
    precision_at_k,
    ranking_order,
)

KOC = str(ROOT / ".venv" / "bin" / "koc")
WORLDS = (("standard", None), ("adversarial", "high"), ("adversarial", "low"))
REPORT = ("ndcg@100", "precision@1000", "ndcg@1000", "spearman", "staff@100", "fraud@100")
_HIGGS = Path("higgs") / "higgs-activity_time.txt.gz"
#: ../shared/data of the checkout (or of its parent, for a worktree under /work/wt)
HIGGS = next(
    (
        p / _HIGGS
        for p in (ROOT.parent / "shared" / "data", ROOT.parents[1] / "shared" / "data")
        if (p / _HIGGS).is_file()
    ),
    ROOT.parent / "shared" / "data" / _HIGGS,
)


def _ingest(db: Path, files: Sequence[Path], *extra: str) -> None:
    env = {**os.environ, "KOC_DB_PATH": str(db)}
    subprocess.run(
        [KOC, "ingest", *map(str, files), *extra, "--json"],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def world_store(work: Path, world: str, level: str | None, users: int, seed: int) -> Path:
    """Generate and ingest one world (reused when its store already exists)."""
    name = f"{world}-{level or 'std'}-{users}-{seed}"
    folder, db = work / name, work / f"{name}.duckdb"
    if db.is_file() and (folder / "manifest.json").is_file():
        return folder
    if world == "standard":
        generate(folder, SynthParams(users=users, seed=seed))
    else:
        generate_adversarial(
            folder, AdversarialParams(users=users, seed=seed, observability=level or "high")
        )
    db.unlink(missing_ok=True)
    _ingest(db, sorted(folder.glob("*.csv.gz")))
    return folder


def _planted_p100(store: DuckDBStore, folder: Path) -> float:
    import pyarrow.parquet as pq

    ranking = compute_ranking(store, default_score_config())
    truth = pq.read_table(folder / "ground_truth_users.parquet")
    pos = node_index(truth.column("user_id"), pa.array(ranking.node_ids, pa.string()))
    planted = np.asarray(truth.column("is_planted_koc").to_numpy(zero_copy_only=False), bool)
    rel = np.where(pos >= 0, planted[np.maximum(pos, 0)], False)
    staff = np.isin(ranking.roles.astype(str), ["employee", "kol"])
    order = ranking_order(ranking.result.score, ~staff)
    token = np.asarray(ranking.details["conversion.token_gmv"], dtype=np.float64)
    return precision_at_k(rel, order, 100), precision_at_k(rel, ranking_order(token, ~staff), 100)


def run_worlds(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    cfg = default_score_config()
    results: dict[str, list[dict[str, Any]]] = {}
    for world, level in WORLDS:
        key = world if level is None else f"{world}-{level}"
        if args.only and key not in args.only:
            continue
        for seed in args.seeds:
            t0 = time.perf_counter()
            folder = world_store(work, world, level, args.users, seed)
            db = work / f"{folder.name}.duckdb"
            with DuckDBStore(db, read_only=True) as store:
                report = evaluate_holdout(store, folder, cfg, ks=(100, 1000), seed=seed)
                row: dict[str, Any] = {"seed": seed, "methods": report["methods"]}
                if args.ablation:
                    row["ablation"] = {}
                    for c in COMPONENTS:
                        w = cfg.weights.normalized()
                        if w[c] == 0:
                            continue
                        ab = cfg.with_weights({**w, c: 0.0})
                        r = evaluate_holdout(store, folder, ab, ks=(100, 1000), seed=seed)
                        row["ablation"][f"without {c}"] = r["methods"]["koc_score"]
                if world == "standard":
                    row["planted_p100"], row["planted_p100_token_gmv"] = _planted_p100(
                        store, folder
                    )
            results.setdefault(key, []).append(row)
            print(f"{key} seed {seed}: {time.perf_counter() - t0:.0f}s", file=sys.stderr)
    return results


def _cell(values: list[float], digits: int = 3) -> str:
    mean, sd = mean_and_sd(values)
    return f"{mean:.{digits}f} ± {sd:.{digits}f}"


def format_worlds(results: dict[str, list[dict[str, Any]]], users: int) -> str:
    out = []
    for key, rows in results.items():
        seeds = ", ".join(str(r["seed"]) for r in rows)
        out.append(f"### {key} ({users:,} users, seeds {seeds}; held-out month 2026-10)\n")
        out.append("| method | " + " | ".join(REPORT) + " |")
        out.append("|---|" + "---:|" * len(REPORT))
        names = list(HOLDOUT_METHODS)
        for method in names:
            cells = [
                _cell(
                    [r["methods"][method][m] for r in rows], 1 if "@" in m and m[0] in "sf" else 3
                )
                for m in REPORT
            ]
            label = f"**{method}**" if method == "koc_score" else method
            out.append(f"| {label} | " + " | ".join(cells) + " |")
        for variant in rows[0].get("ablation", {}):
            cells = [
                _cell(
                    [r["ablation"][variant][m] for r in rows], 1 if "@" in m and m[0] in "sf" else 3
                )
                for m in REPORT
            ]
            out.append(f"| koc_score {variant} | " + " | ".join(cells) + " |")
        if "planted_p100" in rows[0]:
            out.append(
                f"\nplanted KOCs, whole window: precision@100 KOC score "
                f"{_cell([r['planted_p100'] for r in rows])}, token GMV alone "
                f"{_cell([r['planted_p100_token_gmv'] for r in rows])}"
            )
        ratio = [
            r["methods"]["koc_score"]["ndcg@100"] / max(1e-12, r["methods"]["oracle"]["ndcg@100"])
            for r in rows
        ]
        out.append(f"\nNDCG@100 of the KOC score / oracle: {_cell(ratio)}\n")
    return "\n".join(out) + "\n"


# --- Higgs next-period retweeters ---------------------------------------------------------
CUT = datetime(2012, 7, 5, tzinfo=UTC)


def _future_retweeters(ids: np.ndarray) -> np.ndarray:
    cut = CUT.timestamp()
    pairs = set()
    with gzip.open(HIGGS, "rt") as fh:
        for line in fh:
            a, b, ts, kind = line.split()
            if kind == "RT" and float(ts) >= cut:
                pairs.add((b, a))
    who = pa.array([b for b, _ in pairs], pa.string())
    pos = node_index(pa.array(ids, pa.string()), who)
    return np.bincount(pos[pos >= 0], minlength=len(ids)).astype(np.float64)


def run_higgs(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    db = work / "higgs.duckdb"
    if not db.is_file():
        _ingest(db, [HIGGS], "--source", "higgs")
    cfg = default_score_config()
    with DuckDBStore(db, read_only=True) as store:
        ranking = compute_ranking(store, cfg, end=CUT)
    rel = _future_retweeters(ranking.node_ids)
    d = ranking.details
    methods = {
        "koc_score": ranking.result.score,
        "degree": np.asarray(d["engagement.unique_audience"], np.float64),
        "retweets_received": np.asarray(d["engagement.forwards_received"], np.float64),
        "pagerank": ranking.result.raw["pagerank"],
        "reach": ranking.result.raw["reach"],
    }
    out = {}
    for name, scores in methods.items():
        order = ranking_order(scores)
        out[name] = {
            "ndcg@100": ndcg_at_k(rel, order, 100),
            "precision@100": precision_at_k(rel, order, 100),
        }
    for c in COMPONENTS:
        w = cfg.weights.normalized()
        if w[c] == 0:
            continue
        with DuckDBStore(db, read_only=True) as store:
            r = compute_ranking(store, cfg.with_weights({**w, c: 0.0}), end=CUT)
        order = ranking_order(r.result.score)
        out[f"koc_score without {c}"] = {
            "ndcg@100": ndcg_at_k(rel, order, 100),
            "precision@100": precision_at_k(rel, order, 100),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    w = sub.add_parser("worlds")
    w.add_argument("--users", type=int, default=100_000)
    w.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    w.add_argument("--work", default="/tmp/koc_quality")
    w.add_argument("--only", nargs="*", help="standard, adversarial-high, adversarial-low")
    w.add_argument("--ablation", action="store_true")
    w.add_argument("--out", default=None, help="Markdown file to write the tables to.")
    w.add_argument("--json", default=None, help="JSON file for the raw figures.")
    h = sub.add_parser("higgs")
    h.add_argument("--work", default="/tmp/koc_quality")
    args = parser.parse_args()
    if args.command == "higgs":
        print(json.dumps(run_higgs(args), indent=1))
        return
    results = run_worlds(args)
    text = format_worlds(results, args.users)
    print(text)
    if args.out:
        Path(args.out).write_text(text, "utf-8")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1), "utf-8")


if __name__ == "__main__":
    main()
