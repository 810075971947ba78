"""Ground truth: what the generator planted, for evaluation only (the pipeline never reads it).

``ground_truth.json`` (small) holds the parameters, counts, planted KOC / KOL /
employee ids, fraud rings, self-referrals and the referral cycle;
``ground_truth_users.parquet`` holds one row per user: true role, declared
role, segment, community, store, referral depth and the true referred GMV per
month (net of refunds, decimal CNY).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from graph.synth._orders import Credit
from graph.synth._params import MONTHS, Segment, SynthParams
from graph.synth._population import Population
from graph.synth._users import ROLE_NAMES, hashes
from graph.synth._writer import money, take_ids

__all__ = ["write_truth", "gmv_column"]

_SEGMENTS = pa.array([s.name.lower() for s in Segment], pa.string())
_MONEY = pa.decimal128(20, 2)


def gmv_column(month: str) -> str:
    """Column of ``ground_truth_users.parquet`` holding a month's true referred GMV."""
    return "true_referred_gmv_" + month.replace("-", "_")


def _ids(pop: Population, idx: np.ndarray | list[int]) -> list[str]:
    return take_ids(pop.ids, np.asarray(idx, dtype=np.int64)).to_pylist()


def write_truth(
    out_dir: Path,
    pop: Population,
    params: SynthParams,
    credit: Credit,
    referrer_of: np.ndarray,
    depth: np.ndarray,
    counts: dict[str, int],
    broken: Counter[str],
    fmt: str,
) -> dict[str, Any]:
    """Write ``ground_truth.json`` and ``ground_truth_users.parquet``; return the JSON payload."""
    seg = pop.segment
    role_idx = np.where(pop.declared_unknown, len(Segment), seg)
    columns: dict[str, Any] = {
        "user_id": pop.ids,
        "role": ROLE_NAMES.take(pa.array(seg.astype(np.int64))),
        "declared_role": ROLE_NAMES.take(pa.array(role_idx)),
        "segment": _SEGMENTS.take(pa.array(seg.astype(np.int64))),
        "community": pa.array(pop.community.astype(np.int32)),
        "store_id": take_ids(pop.store_ids, np.where(seg == Segment.KOL, -1, pop.store)),
        "is_planted_koc": pa.array(seg == Segment.KOC),
        "is_fraud": pa.array(seg == Segment.FRAUD),
        "referrer": take_ids(pop.ids, referrer_of),
        "referral_depth": pa.array(depth.astype(np.int32)),
        "true_referred_orders": pa.array(credit.orders),
    }
    for m, month in enumerate(MONTHS):
        columns[gmv_column(month)] = pc.cast(money(credit.cents[:, m]), _MONEY)
    columns["true_referred_gmv_total"] = pc.cast(money(credit.cents.sum(axis=1)), _MONEY)
    pq.write_table(pa.table(columns), out_dir / "ground_truth_users.parquet", compression="zstd")

    employees = np.flatnonzero(seg == Segment.EMPLOYEE)
    depth_hist = np.bincount(depth)
    payload: dict[str, Any] = {
        "generator": "koc synth",
        "truth_version": 1,
        "format": fmt,
        "params": params.to_dict(),
        "counts": counts,
        "users_by_role": dict(Counter(ROLE_NAMES.take(pa.array(seg.astype(np.int64))).to_pylist())),
        "users_by_segment": {s.name.lower(): int((seg == s).sum()) for s in Segment},
        "stores": pop.n_stores,
        "communities": pop.n_communities,
        "planted_kocs": _ids(pop, np.flatnonzero(seg == Segment.KOC)),
        "kols": _ids(pop, np.flatnonzero(seg == Segment.KOL)),
        "big_spenders": _ids(pop, np.flatnonzero(seg == Segment.BIG_SPENDER)),
        "hubs": _ids(pop, np.flatnonzero(seg == Segment.HUB)),
        "employees": [
            {"user_id": u, "store_id": s}
            for u, s in zip(
                _ids(pop, employees),
                take_ids(pop.store_ids, pop.store[employees]).to_pylist(),
                strict=True,
            )
        ],
        "fraud_rings": [
            {
                "members": _ids(pop, ring),
                "device_hash": hashes(pop.device[ring[:1]], "d")[0].as_py(),
                "phone_hash": hashes(pop.phone[ring[:1]], "p")[0].as_py(),
                "referral_chain": True,
            }
            for ring in pop.fraud_rings
        ],
        "self_referrals": [
            {
                "referrer": _ids(pop, [a])[0],
                "referee": _ids(pop, [b])[0],
                "device_hash": hashes(pop.device[[b]], "d")[0].as_py(),
            }
            for a, b in pop.self_referrals
        ],
        "referral_cycles": [_ids(pop, list(pop.cycle))] if pop.cycle else [],
        "referral_depth_histogram": {str(d): int(c) for d, c in enumerate(depth_hist) if d},
        "max_referral_depth": int(depth.max()) if depth.size else 0,
        "true_referred_gmv_by_month": {
            month: money(credit.cents[:, m].sum(keepdims=True))[0].as_py()
            for m, month in enumerate(MONTHS)
        },
        "broken_rows": int(sum(broken.values())),
        "broken_by_defect": dict(sorted(broken.items())),
    }
    (out_dir / "ground_truth.json").write_text(
        json.dumps(payload, indent=1, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8"
    )
    return payload
