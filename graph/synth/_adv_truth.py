"""Ground truth of the adversarial world: caused GMV per user and month, roles, fraud.

``ground_truth_users.parquet`` uses the column names of ``koc synth``
(``true_referred_gmv_2026_07`` ...) so one evaluation reads both worlds; here they
hold the **caused** (but-for) GMV net of refunds, and staff and fraud accounts
have 0. ``2026_10`` is the held-out month: no event of it is written.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from graph.synth._adv_orders import OrderKind, OrderLog
from graph.synth._adv_params import (
    ADV_SEGMENT_ROLE,
    OBSERVED_END_S,
    AdversarialParams,
    AdvSegment,
)
from graph.synth._adv_population import AdvPopulation
from graph.synth._params import MONTHS
from graph.synth._truth import gmv_column
from graph.synth._writer import money, take_ids

__all__ = ["write_adv_truth", "token_diagnostics"]

_MONEY = pa.decimal128(20, 2)


def token_diagnostics(cols: dict[str, np.ndarray], share_sharer: np.ndarray) -> dict[str, Any]:
    """Of the observed orders with a token, how many did the named user cause, per kind."""
    seen = cols["ts"] < OBSERVED_END_S
    named = np.where(
        cols["token_content"] >= 0, share_sharer[np.maximum(cols["token_content"], 0)], -1
    )
    named = np.where(cols["token_ref"] >= 0, cols["token_ref"], named)
    has = seen & (named >= 0)
    caused = has & (cols["cause"] == named)
    by_kind = {
        name: int((has & (cols["kind"] == code)).sum()) for code, name in enumerate(OrderKind.NAMES)
    }
    return {
        "orders_observed": int(seen.sum()),
        "orders_with_token": int(has.sum()),
        "token_orders_caused_by_named_user": int(caused.sum()),
        "caused_share_of_token_orders": float(caused.sum() / max(1, has.sum())),
        "token_orders_by_kind": by_kind,
        "caused_orders_observed": int((seen & (cols["cause"] >= 0)).sum()),
        "caused_share_orders_observed": int(
            (seen & (cols["kind"] == OrderKind.CAUSED_SHARE)).sum()
        ),
    }


def write_adv_truth(
    out_dir: Path,
    pop: AdvPopulation,
    params: AdversarialParams,
    cols: dict[str, np.ndarray],
    share_sharer: np.ndarray,
    counts: dict[str, int],
) -> dict[str, Any]:
    """Write ``ground_truth.json`` and ``ground_truth_users.parquet``; return the JSON payload."""
    cents = OrderLog.caused_cents(cols, pop.n, len(MONTHS))
    zero = pop.is_staff | pop.is_fraud
    cents[zero] = 0
    cents = np.maximum(cents, 0)
    seg = pop.segment.astype(np.int64)
    names = pa.array([s.name.lower() for s in AdvSegment], pa.string())
    roles = pa.array([ADV_SEGMENT_ROLE[s] for s in AdvSegment], pa.string())
    columns: dict[str, Any] = {
        "user_id": pop.ids,
        "role": roles.take(pa.array(seg)),
        "declared_role": pop.declared_role,
        "segment": names.take(pa.array(seg)),
        "community": pa.array(pop.community.astype(np.int32)),
        "store_id": take_ids(pop.store_ids, pop.store),
        "is_planted_koc": pa.array(np.zeros(pop.n, dtype=bool)),
        "is_staff": pa.array(pop.is_staff),
        "is_fraud": pa.array(pop.is_fraud),
        "persuasiveness": pa.array(pop.persuasion),
        "friends": pa.array(pop.degree.astype(np.int32)),
    }
    for m, month in enumerate(MONTHS):
        columns[gmv_column(month)] = pc.cast(money(cents[:, m]), _MONEY)
    columns["true_referred_gmv_total"] = pc.cast(money(cents.sum(axis=1)), _MONEY)
    pq.write_table(pa.table(columns), out_dir / "ground_truth_users.parquet", compression="zstd")

    def ids(idx: np.ndarray | list[int]) -> list[str]:
        return take_ids(pop.ids, np.asarray(idx, dtype=np.int64)).to_pylist()

    emp = np.flatnonzero(pop.is_staff)
    declared = np.asarray(pop.declared_role.to_pylist(), dtype=object)
    payload: dict[str, Any] = {
        "generator": "koc synth --world adversarial",
        "truth_version": 2,
        "world": "adversarial",
        "params": params.to_dict(),
        "counts": counts,
        "users_by_segment": {s.name.lower(): int((pop.segment == s).sum()) for s in AdvSegment},
        "stores": pop.n_stores,
        "employees": ids(emp),
        "undeclared_employees": ids(emp[declared[emp] != "employee"]),
        "undeclared_employees_as_consumer": ids(emp[declared[emp] == "consumer"]),
        "kols": ids(np.flatnonzero(pop.segment == AdvSegment.KOL)),
        "fraud_rings": [ids(r) for r in pop.rings],
        "self_dealers": [{"main": ids([m])[0], "alts": ids(a)} for m, a in pop.self_dealers],
        "true_caused_gmv_by_month": {
            month: money(cents[:, m].sum(keepdims=True))[0].as_py()
            for m, month in enumerate(MONTHS)
        },
        "attribution": token_diagnostics(cols, share_sharer),
    }
    (out_dir / "ground_truth.json").write_text(
        json.dumps(payload, indent=1, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8"
    )
    return payload
