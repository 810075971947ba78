"""``generate_adversarial``: write one adversarial world (``koc synth --world adversarial``).

Stages, each with its own random stream derived from the seed: population,
exposures (with the orders shares cause), organic / store-code / coincidence
orders, referrals and coupons, fraud, refunds, user records. Events of the first
three months are written (same files and format as ``koc synth``), the held-out
month only enters the ground truth. See ``docs/synth.md``.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import time
from numbers import Integral
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from graph.events import EventType
from graph.params import Constraint, Interval, Options, check_params
from graph.synth._adv_activity import Exposures, generate_exposures
from graph.synth._adv_commerce import fraud_orders, organic_orders, referrals
from graph.synth._adv_orders import OrderLog
from graph.synth._adv_params import OBSERVABILITY, OBSERVED_END_S, AdversarialParams
from graph.synth._adv_population import AdvPopulation, build_adv_population
from graph.synth._adv_truth import write_adv_truth
from graph.synth._params import FORMATS
from graph.synth._population import CHANNELS
from graph.synth._users import hashes
from graph.synth._writer import TypeSink, iso_local, prefixed_ids, sha256, take_ids
from graph.synth.generator import MIN_USERS, SynthResult

__all__ = ["generate_adversarial"]

_POP, _EXPOSURES, _ORGANIC, _REFERRALS, _FRAUD, _REFUNDS, _USERS = range(7)
_TRUTH_FILES = ("ground_truth.json", "ground_truth_users.parquet", "roster_employees.csv")


def _rng(seed: int, stage: int) -> np.random.Generator:
    # 0xAD: streams distinct from those of ``koc synth`` for the same seed
    return np.random.default_rng(np.random.SeedSequence([seed, 0xAD, stage]))


#: what the adversarial generator accepts (:mod:`graph.params`)
_CONSTRAINTS: dict[str, list[Constraint]] = {
    "users": [Interval(Integral, MIN_USERS, None)],
    "observability": [Options(OBSERVABILITY)],
    "format": [Options(FORMATS)],
}


def _check(params: AdversarialParams, fmt: str) -> None:
    values = {"users": params.users, "observability": params.observability, "format": fmt}
    check_params("generate_adversarial", _CONSTRAINTS, values)


def _write_social(pop: AdvPopulation, exp: Exposures, sinks: dict[EventType, TypeSink]) -> None:
    seen_share = exp.share_ts < OBSERVED_END_S
    sinks[EventType.SHARE].write(
        {
            "sharer": take_ids(pop.ids, exp.share_sharer[seen_share]),
            "content_id": prefixed_ids("c", np.flatnonzero(seen_share)),
            "channel": pa.repeat(pa.scalar("wechat"), int(seen_share.sum())),
            "ts": exp.share_ts[seen_share],
        }
    )
    for etype, when, who, field in (
        (EventType.VIEW, np.where(exp.logged, exp.ts, -1), "viewer", None),
        (EventType.COMMENT, exp.comment_ts, "commenter", "on_user"),
        (EventType.FORWARD, exp.forward_ts, "forwarder", "from_user"),
    ):
        sel = (when >= 0) & (when < OBSERVED_END_S)
        columns: dict[str, Any] = {
            who: take_ids(pop.ids, exp.viewer[sel]),
            field or "sharer": take_ids(pop.ids, exp.sharer[sel]),
            "content_id": prefixed_ids("c", exp.content[sel]),
            "ts": when[sel],
        }
        sinks[etype].write(columns)


def _write_users(pop: AdvPopulation, rng: np.random.Generator, sink: TypeSink) -> None:
    channel = rng.integers(0, len(CHANNELS), pop.n)
    with_store = pop.is_staff | (rng.random(pop.n) < 0.5)
    sink.write(
        {
            "user_id": pop.ids,
            "role": pop.declared_role,
            "store_id": take_ids(pop.store_ids, np.where(with_store, pop.store, -1)),
            "channel": pa.array(list(CHANNELS), pa.string()).take(pa.array(channel)),
            "created_at": pop.created_at,
            "phone_hash": hashes(pop.phone, "p"),
            "device_hash": hashes(pop.device, "d"),
        }
    )


def _write_roster(pop: AdvPopulation, path: Path) -> int:
    declared = np.asarray(pop.declared_role.to_pylist(), dtype=object)
    emp = np.flatnonzero(pop.is_staff & (declared == "employee"))
    since = iso_local(np.full(emp.shape[0], pop.created_at.min())).to_pylist()
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["user_id", "store_id", "since"])
        for u, s, t in zip(
            take_ids(pop.ids, emp).to_pylist(),
            take_ids(pop.store_ids, pop.store[emp]).to_pylist(),
            since,
            strict=True,
        ):
            out.writerow([u, s, t])
    return int(emp.shape[0])


def generate_adversarial(
    out_dir: Path | str, params: AdversarialParams | None = None, *, fmt: str = "csv"
) -> SynthResult:
    """Generate one adversarial world into ``out_dir`` (deterministic per parameters).

    Parameters
    ----------
    out_dir : Path or str
        Output directory (created; files of the same names are replaced).
    params : AdversarialParams, optional
        Size, seed, observability level (default: 100,000 users, seed 0, ``high``).
    fmt : {"csv", "parquet", "jsonl"}
        Event file format, as for :func:`graph.synth.generate`.

    Returns
    -------
    SynthResult

    Raises
    ------
    ParameterError
        For a size, observability level or format out of range.
    """
    params = params or AdversarialParams()
    _check(params, fmt)
    started = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / f".synth-tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        counts, files = _generate(tmp, params, fmt)
        for name in [f["name"] for f in files] + list(_TRUTH_FILES) + ["manifest.json"]:
            os.replace(tmp / name, out_dir / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return SynthResult(
        out_dir=out_dir,
        counts=counts,
        files=files,
        broken_rows=0,
        seconds=time.perf_counter() - started,
    )


def _generate(
    tmp: Path, params: AdversarialParams, fmt: str
) -> tuple[dict[str, int], list[dict[str, Any]]]:
    seed = params.seed
    pop = build_adv_population(params, _rng(seed, _POP))
    orders = OrderLog()
    exp = generate_exposures(pop, params, _rng(seed, _EXPOSURES), orders)
    organic_orders(pop, params, _rng(seed, _ORGANIC), exp, orders)
    refs = referrals(pop, _rng(seed, _REFERRALS), orders)
    fraud_orders(pop, _rng(seed, _FRAUD), exp, orders)
    cols = orders.finish(_rng(seed, _REFUNDS))

    sinks = {t: TypeSink(tmp, t, fmt) for t in EventType}
    try:
        _write_users(pop, _rng(seed, _USERS), sinks[EventType.USER])
        _write_social(pop, exp, sinks)
        seen = refs["ts"] < OBSERVED_END_S
        sinks[EventType.REFERRAL].write(
            {
                "referrer": take_ids(pop.ids, refs["referrer"][seen]),
                "referee": take_ids(pop.ids, refs["referee"][seen]),
                "campaign": pa.repeat(pa.scalar("invite"), int(seen.sum())),
                "ts": refs["ts"][seen],
            }
        )
        OrderLog.write(
            cols, pop.ids, pop.store_ids, sinks[EventType.ORDER], sinks[EventType.REFUND]
        )
    finally:
        for sink in sinks.values():
            sink.close()
    counts = {t.value: sinks[t].rows for t in EventType}
    _write_roster(pop, tmp / "roster_employees.csv")
    write_adv_truth(tmp, pop, params, cols, exp.share_sharer, counts)
    files: list[dict[str, Any]] = [
        {"name": sinks[t].path.name, "type": t.value, "rows": sinks[t].rows} for t in EventType
    ]
    for entry in files:
        path = tmp / entry["name"]
        entry["bytes"] = path.stat().st_size
        entry["sha256"] = sha256(path)
    manifest = {
        "generator": "koc synth --world adversarial",
        "format": fmt,
        "seed": seed,
        "users": params.users,
        "observability": params.observability,
        "files": files,
        "total_rows": sum(counts.values()),
        "ground_truth": list(_TRUTH_FILES),
    }
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return counts, files
