"""The generated population: who is who, who knows whom, which store serves whom.

Everything here is drawn once, for all users, from one random generator; the
activity generators then look users up by index. Users are indexed in signup
order (``u0000000`` signed up first), and their hidden segment is drawn at
random, so an id says nothing about a role.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pyarrow as pa

from graph.synth._params import (
    BEHAVIOUR,
    CHINA_TZ,
    WINDOW_END,
    WINDOW_START,
    Segment,
    SynthParams,
)
from graph.synth._writer import prefixed_ids

__all__ = ["Groups", "Population", "build_population", "CHANNELS"]

#: Channels of shares and sign-ups, with their probabilities.
CHANNELS: tuple[str, ...] = ("wechat", "xiaohongshu", "douyin", "weibo", "store")
CHANNEL_P = np.array([0.5, 0.2, 0.15, 0.1, 0.05])

_HISTORY_START = int(datetime(2023, 1, 1, tzinfo=CHINA_TZ).timestamp())


@dataclass(frozen=True)
class Groups:
    """Members of integer-labelled groups, for vectorised random member picks."""

    members: np.ndarray  # user indices sorted by group
    start: np.ndarray  # first position of each group in ``members``
    size: np.ndarray  # members per group

    @classmethod
    def of(cls, labels: np.ndarray, n_groups: int, mask: np.ndarray | None = None) -> Groups:
        """Group users ``i`` (where ``mask`` holds) by ``labels[i]``."""
        users = np.arange(labels.shape[0], dtype=np.int64)
        if mask is not None:
            users = users[mask]
        lab = labels[users]
        order = np.argsort(lab, kind="stable")
        size = np.bincount(lab, minlength=n_groups).astype(np.int64)
        start = np.concatenate(([0], np.cumsum(size)[:-1]))
        return cls(users[order], start, size)

    def pick(self, rng: np.random.Generator, groups: np.ndarray) -> np.ndarray:
        """One uniformly random member of each group in ``groups`` (-1 for an empty group)."""
        size = self.size[groups]
        pos = self.start[groups] + (rng.random(groups.shape[0]) * size).astype(np.int64)
        out = np.full(groups.shape[0], -1, dtype=np.int64)
        ok = size > 0
        out[ok] = self.members[pos[ok]]
        return out


@dataclass
class Population:
    """All users as parallel arrays (index = user index)."""

    n: int
    ids: pa.Array
    created_at: np.ndarray  # epoch seconds UTC
    segment: np.ndarray  # int8 Segment
    community: np.ndarray  # int64
    store: np.ndarray  # home store (employees: their store), int64
    activity: np.ndarray
    audience: np.ndarray
    spend: np.ndarray
    declared_unknown: np.ndarray  # bool: role written as "unknown"
    has_store_declared: np.ndarray  # bool: store_id written in users
    device: np.ndarray  # int64 code, 0 = absent
    phone: np.ndarray  # int64 code, 0 = absent
    signup_channel: np.ndarray  # int8 index into CHANNELS
    n_stores: int
    n_communities: int
    friends: Groups
    customers: Groups  # users by home store
    employees: Groups  # employees by store
    viewer_cdf: np.ndarray
    store_ids: pa.Array  # ``s10000``, ``s10001``... indexed by store number
    fraud_rings: list[np.ndarray] = field(default_factory=list)
    self_referrals: list[tuple[int, int]] = field(default_factory=list)
    cycle: tuple[int, ...] = ()

    def random_viewers(self, rng: np.random.Generator, k: int) -> np.ndarray:
        """``k`` users drawn with probability proportional to their viewer weight."""
        u = rng.random(k) * self.viewer_cdf[-1]
        return np.searchsorted(self.viewer_cdf, u, side="right").astype(np.int64)


def _pick_from(rng: np.random.Generator, pool: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Split ``k`` random elements out of ``pool``; returns (picked, rest)."""
    k = min(k, pool.shape[0])
    perm = rng.permutation(pool.shape[0])
    return pool[perm[:k]], pool[perm[k:]]


def build_population(params: SynthParams, rng: np.random.Generator) -> Population:
    """Draw every user's signup time, segment, community, store and devices.

    Parameters
    ----------
    params : SynthParams
        Sizes and shares.
    rng : numpy.random.Generator
        The population's generator (consumed in a fixed order).

    Returns
    -------
    Population
    """
    n = params.users
    start, end = int(WINDOW_START.timestamp()), int(WINDOW_END.timestamp())
    n_window = int(round(n * params.in_window_signup_fraction))
    created = np.concatenate(
        (
            rng.integers(_HISTORY_START, start, n - n_window),
            rng.integers(start, end - 10 * 86_400, n_window),
        )
    )
    created.sort()
    n_pre = n - n_window

    # --- segments: KOLs and employees are long-standing accounts --------------------
    segment = np.zeros(n, dtype=np.int8)
    n_kol = max(params.min_kols, int(round(n * params.kol_fraction)))
    n_emp = max(3, int(round(n * params.employee_fraction)))
    kols, pre_rest = _pick_from(rng, np.arange(n_pre), n_kol)
    emps, pre_rest = _pick_from(rng, pre_rest, n_emp)
    segment[kols] = Segment.KOL
    segment[emps] = Segment.EMPLOYEE
    consumers = np.concatenate((pre_rest, np.arange(n_pre, n)))
    n_cons = consumers.shape[0]
    kocs, rest = _pick_from(rng, consumers, max(5, int(round(n_cons * params.koc_fraction))))
    bigs, rest = _pick_from(rng, rest, max(5, int(round(n_cons * params.big_spender_fraction))))
    hubs, rest = _pick_from(rng, rest, max(5, int(round(n_cons * params.hub_fraction))))
    segment[kocs] = Segment.KOC
    segment[bigs] = Segment.BIG_SPENDER
    segment[hubs] = Segment.HUB

    # --- communities (heavy-tailed friend circles) and stores (neighbourhoods) --------
    n_comm = max(3, n // params.mean_community_size)
    n_stores = max(2, int(round(n / params.users_per_store)))
    weights = rng.lognormal(0.0, 1.0, n_comm)
    community = rng.choice(n_comm, size=n, p=weights / weights.sum()).astype(np.int64)
    comm_store = rng.permutation(np.arange(n_comm) % n_stores).astype(np.int64)
    store = comm_store[community]

    activity = rng.lognormal(-0.5, 1.0, n)
    audience = rng.lognormal(-0.32, 0.8, n)
    spend = rng.lognormal(-0.5, 1.0, n)
    declared_unknown = rng.random(n) < params.unknown_role_fraction
    has_store_declared = (segment == Segment.EMPLOYEE) | (
        (segment != Segment.KOL) & (rng.random(n) < 0.6)
    )
    signup_channel = rng.choice(len(CHANNELS), size=n, p=CHANNEL_P).astype(np.int8)

    friends = Groups.of(community, n_comm)
    customers = Groups.of(store, n_stores)
    employees = Groups.of(store, n_stores, mask=segment == Segment.EMPLOYEE)

    # --- devices and phones: mostly personal, some shared within a family ------------
    device = rng.integers(1, 2**62, n)
    phone = rng.integers(1, 2**62, n)
    family = np.flatnonzero(rng.random(n) < 0.01)
    relatives = friends.pick(rng, community[family])
    device[family] = device[relatives]
    device[rng.random(n) < 0.05] = 0
    phone[rng.random(n) < 0.10] = 0

    pop = Population(
        n=n,
        ids=pa.array([f"u{i:07d}" for i in range(n)], pa.string()),
        created_at=created,
        segment=segment,
        community=community,
        store=store,
        activity=activity,
        audience=audience,
        spend=spend,
        declared_unknown=declared_unknown,
        has_store_declared=has_store_declared,
        device=device,
        phone=phone,
        signup_channel=signup_channel,
        n_stores=n_stores,
        n_communities=n_comm,
        friends=friends,
        customers=customers,
        employees=employees,
        viewer_cdf=np.cumsum(BEHAVIOUR.viewer_weight[segment] * activity),
        store_ids=prefixed_ids("s", np.arange(n_stores) + 10_000),
    )
    _plant_fraud(pop, params, rng, n_pre)
    return pop


def _plant_fraud(
    pop: Population, params: SynthParams, rng: np.random.Generator, n_pre: int
) -> None:
    """Fraud rings sharing one device and phone, self-referrals, one referral cycle."""
    n = pop.n
    regular_new = np.flatnonzero((pop.segment == Segment.REGULAR) & (np.arange(n) >= n_pre))
    n_rings = 2 + n // 200_000
    ring_members, regular_new = _pick_from(rng, regular_new, n_rings * 8)
    sizes = rng.integers(4, 9, n_rings)
    offset = 0
    for size in sizes:
        members = np.sort(ring_members[offset : offset + size])
        offset += size
        if members.shape[0] < 3:
            break
        pop.segment[members] = Segment.FRAUD
        pop.device[members] = rng.integers(1, 2**62)
        pop.phone[members] = rng.integers(1, 2**62)
        pop.fraud_rings.append(members)
    n_self = 2 + n // 500_000
    second, _ = _pick_from(rng, regular_new, n_self)
    regular_old = np.flatnonzero((pop.segment == Segment.REGULAR) & (np.arange(n) < n_pre))
    first, regular_old = _pick_from(rng, regular_old, n_self)
    for a, b in zip(first.tolist(), second.tolist(), strict=True):
        pop.segment[b] = Segment.FRAUD
        pop.device[b] = pop.device[a] = pop.device[a] or int(rng.integers(1, 2**62))
        pop.phone[b] = pop.phone[a] = pop.phone[a] or int(rng.integers(1, 2**62))
        pop.self_referrals.append((a, b))
    cycle, _ = _pick_from(rng, regular_old, 3)
    pop.cycle = tuple(int(u) for u in cycle)
