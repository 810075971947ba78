"""User records: declared role (or ``unknown``), name, store, sign-up, attributes, hashes."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from graph.synth._params import BEHAVIOUR, SEGMENT_ROLE, Segment
from graph.synth._population import CHANNELS, Population
from graph.synth._writer import take_ids

__all__ = ["user_columns", "hashes", "ROLE_NAMES", "CITIES"]

#: Role name of each :class:`Segment` value (index = segment).
ROLE_NAMES = pa.array([SEGMENT_ROLE[s] for s in Segment] + ["unknown"], pa.string())
CITIES: tuple[str, ...] = (
    "上海",
    "北京",
    "广州",
    "深圳",
    "杭州",
    "成都",
    "南京",
    "武汉",
    "苏州",
    "西安",
)
_SURNAMES = pa.array(list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"), pa.string())
_GIVEN = pa.array(list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红") + [""] * 20)
_TIERS = pa.array(["basic", "silver", "gold", "platinum"], pa.string())
_AGES = pa.array(["18-24", "25-34", "35-44", "45-54", "55+"], pa.string())
_AGE_P = np.array([0.2, 0.35, 0.25, 0.12, 0.08])
_CHANNELS = pa.array(list(CHANNELS), pa.string())


def hashes(codes: np.ndarray, prefix: str) -> pa.Array:
    """Hex strings for device/phone codes (0 = absent -> null)."""
    return pa.array([f"{prefix}{c:016x}" if c else None for c in codes.tolist()], pa.string())


def user_columns(pop: Population, rng: np.random.Generator, lo: int, hi: int) -> dict[str, object]:
    """Columns of the ``user`` records of users ``lo..hi-1``."""
    users = np.arange(lo, hi, dtype=np.int64)
    k = users.shape[0]
    seg = pop.segment[users]
    role_idx = np.where(pop.declared_unknown[users], len(Segment), seg)
    name = pc.binary_join_element_wise(
        _SURNAMES.take(pa.array(rng.integers(0, len(_SURNAMES), k))),
        _GIVEN.take(pa.array(rng.integers(0, len(_GIVEN) - 20, k))),
        _GIVEN.take(pa.array(rng.integers(0, len(_GIVEN), k))),
        "",
    )
    value = pop.spend[users] * BEHAVIOUR.organic_orders[seg] * BEHAVIOUR.amount_mult[seg]
    tier = np.searchsorted(np.array([0.8, 3.0, 12.0]), value)
    city = (pop.store[users] * 7) % len(CITIES)
    attrs = pc.binary_join_element_wise(
        pa.scalar('{"city":"'),
        pa.array(list(CITIES), pa.string()).take(pa.array(city)),
        pa.scalar('","tier":"'),
        _TIERS.take(pa.array(tier)),
        pa.scalar('","age_band":"'),
        _AGES.take(pa.array(rng.choice(len(_AGES), size=k, p=_AGE_P))),
        pa.scalar('"}'),
        "",
    )
    store = np.where(pop.has_store_declared[users], pop.store[users], -1)
    return {
        "user_id": take_ids(pop.ids, users),
        "role": ROLE_NAMES.take(pa.array(role_idx)),
        "display_name": name,
        "store_id": take_ids(pop.store_ids, store),
        "channel": _CHANNELS.take(pa.array(pop.signup_channel[users].astype(np.int64))),
        "created_at": pop.created_at[users],
        "attrs": attrs,
        "phone_hash": hashes(pop.phone[users], "p"),
        "device_hash": hashes(pop.device[users], "d"),
    }
