"""``generate``: write one complete demo data set (events, ground truth, manifest).

Stages, each with its own random stream derived from the seed (so a stage's
output never depends on how much randomness another stage used):

1. the population (all users, communities, stores, devices, planted fraud);
2. referrals and the invitees' first orders;
3. per chunk of users: user records, shares and their cascades, orders, refunds;
4. broken rows; ground truth; ``manifest.json`` (written last).

Files are written to a hidden temporary directory inside ``out_dir`` and moved
into place only when everything succeeded.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from numbers import Integral
from pathlib import Path
from typing import Any

import numpy as np

from graph.events import EventType
from graph.params import Constraint, Interval, Options, check_params
from graph.synth._activity import generate_chunk
from graph.synth._broken import write_broken
from graph.synth._orders import Credit, OrderBuffer
from graph.synth._params import FORMATS, SynthParams
from graph.synth._population import build_population
from graph.synth._referrals import generate_referrals, referral_depths
from graph.synth._truth import write_truth
from graph.synth._users import user_columns
from graph.synth._writer import TypeSink, sha256

__all__ = ["generate", "SynthResult", "ProgressFn", "MIN_USERS"]

#: Smallest population the generator accepts (fewer cannot hold every planted structure).
MIN_USERS = 200
#: ``progress(stage, done, total)`` is called after each step.
ProgressFn = Callable[[str, int, int], None]

_POPULATION, _REFERRALS, _REFERRAL_ORDERS, _CHUNK, _CHUNK_ORDERS, _USERS, _BROKEN = range(7)


@dataclass(frozen=True)
class SynthResult:
    """Where the data set went and what it holds."""

    out_dir: Path
    counts: dict[str, int]
    files: list[dict[str, Any]]
    broken_rows: int
    seconds: float

    @property
    def total_rows(self) -> int:
        return sum(self.counts.values())


def _rng(seed: int, *stream: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, *stream]))


#: what the demo generator accepts (:mod:`graph.params`)
_CONSTRAINTS: dict[str, list[Constraint]] = {
    "users": [Interval(Integral, MIN_USERS, None)],
    "seed": [Interval(Integral, 0, None)],
    "chunk_users": [Interval(Integral, 1, None)],
    "format": [Options(FORMATS)],
}


def _check(params: SynthParams, fmt: str) -> None:
    values = {"users": params.users, "seed": params.seed, "chunk_users": params.chunk_users}
    check_params("generate", _CONSTRAINTS, {**values, "format": fmt})


def generate(
    out_dir: Path | str,
    params: SynthParams | None = None,
    *,
    fmt: str = "csv",
    progress: ProgressFn | None = None,
) -> SynthResult:
    """Generate a deterministic demo data set into ``out_dir``.

    Parameters
    ----------
    out_dir : Path or str
        Output directory (created; existing files of the same names are replaced).
    params : SynthParams, optional
        Size, seed and population shares (default: 20,000 users, seed 0).
    fmt : {"csv", "parquet", "jsonl"}, default "csv"
        File format of the event files (``csv`` = gzip-compressed CSV).
    progress : callable, optional
        ``progress(stage, done, total)`` after each step (for progress bars).

    Returns
    -------
    SynthResult
        Counts per record type, the manifest's file list, time taken.

    Raises
    ------
    ParameterError
        For a size, seed or format out of range.

    Notes
    -----
    The same ``params`` and ``fmt`` give byte-identical files. Memory stays flat
    in the number of events: per-user arrays are kept, events are generated and
    written one chunk of ``params.chunk_users`` users at a time.
    """
    params = params or SynthParams()
    _check(params, fmt)
    started = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / f".synth-tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        result = _generate(tmp, params, fmt, progress)
        for entry in result["files"]:
            os.replace(tmp / entry["name"], out_dir / entry["name"])
        for name in ("ground_truth.json", "ground_truth_users.parquet", "ground_truth_broken.csv"):
            os.replace(tmp / name, out_dir / name)
        os.replace(tmp / "manifest.json", out_dir / "manifest.json")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return SynthResult(
        out_dir=out_dir,
        counts=result["counts"],
        files=result["files"],
        broken_rows=result["broken_rows"],
        seconds=time.perf_counter() - started,
    )


def _generate(
    tmp: Path, params: SynthParams, fmt: str, progress: ProgressFn | None
) -> dict[str, Any]:
    seed = params.seed
    n_chunks = -(-params.users // params.chunk_users)
    total_steps = n_chunks + 4
    step = 0

    def tick(stage: str) -> None:
        nonlocal step
        step += 1
        if progress is not None:
            progress(stage, step, total_steps)

    pop = build_population(params, _rng(seed, _POPULATION))
    tick("population")
    sinks = {t: TypeSink(tmp, t, fmt) for t in EventType}
    credit = Credit(pop.n)
    buffer = OrderBuffer()
    flush = {
        "refund_rate": params.refund_rate,
        "user_ids": pop.ids,
        "store_ids": pop.store_ids,
        "orders": sinks[EventType.ORDER],
        "refunds": sinks[EventType.REFUND],
        "credit": credit,
    }
    try:
        columns, referrer_of = generate_referrals(pop, params, _rng(seed, _REFERRALS), buffer)
        sinks[EventType.REFERRAL].write(columns)
        n_orders = buffer.flush(_rng(seed, _REFERRAL_ORDERS), first_number=1, **flush)
        tick("referrals")

        n_contents = 0
        for chunk in range(n_chunks):
            lo = chunk * params.chunk_users
            hi = min(pop.n, lo + params.chunk_users)
            sinks[EventType.USER].write(user_columns(pop, _rng(seed, _USERS, chunk), lo, hi))
            events = generate_chunk(
                pop, params, _rng(seed, _CHUNK, chunk), lo, hi, n_contents + 1, buffer
            )
            n_contents += events.n_contents
            sinks[EventType.SHARE].write(events.shares)
            sinks[EventType.VIEW].write(events.views)
            sinks[EventType.FORWARD].write(events.forwards)
            sinks[EventType.COMMENT].write(events.comments)
            n_orders += buffer.flush(
                _rng(seed, _CHUNK_ORDERS, chunk), first_number=n_orders + 1, **flush
            )
            tick(f"users {hi:,}/{pop.n:,}")
    finally:
        for sink in sinks.values():
            sink.close()

    counts = {sink.path.name: sink.rows for sink in sinks.values()}
    by_type = {t.value: sinks[t].rows for t in EventType}
    n_broken = max(len(EventType) * 2, int(round(sum(by_type.values()) * params.broken_fraction)))
    broken = write_broken(
        pop, _rng(seed, _BROKEN), n_broken, tmp / "broken.csv", tmp / "ground_truth_broken.csv"
    )
    tick("broken rows")
    write_truth(
        tmp, pop, params, credit, referrer_of, referral_depths(referrer_of), by_type, broken, fmt
    )
    tick("ground truth")

    files: list[dict[str, Any]] = [
        {"name": sinks[t].path.name, "type": t.value, "rows": sinks[t].rows} for t in EventType
    ]
    files.append({"name": "broken.csv", "type": "mixed", "rows": n_broken, "broken": True})
    for entry in files:
        path = tmp / entry["name"]
        entry["bytes"] = path.stat().st_size
        entry["sha256"] = sha256(path)
    manifest = {
        "generator": "koc synth",
        "format": fmt,
        "seed": seed,
        "users": params.users,
        "files": files,
        "total_rows": sum(by_type.values()),
        "ground_truth": [
            "ground_truth.json",
            "ground_truth_users.parquet",
            "ground_truth_broken.csv",
        ],
    }
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    del counts
    return {"counts": by_type, "files": files, "broken_rows": n_broken}
