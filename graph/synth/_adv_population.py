"""The adversarial world's people: segments, friend circles, stores, persuasiveness, devices.

* friend circles with log-normal sizes; each user's number of friendship stubs is
  log-normal (heavy tail; socialites x5); a stub joins a random member of the same
  circle with probability 0.85, else a random user; ties are symmetric;
* persuasiveness: ``median[segment] x LogNormal(0, 1)``, drawn independently of the
  number of friends (so audience size says nothing about it);
* fraud rings: 4-8 new accounts in one circle, all friends, sharing one device and
  phone; self-dealers: a main account with 1-3 alt accounts on its device and phone;
* 1% of users share a device with a friend (family noise).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from graph.synth._adv_params import (
    FRIEND_MULT,
    PERSUASION_MEDIAN,
    AdversarialParams,
    AdvSegment,
)
from graph.synth._time import END_S, START_S
from graph.synth._writer import prefixed_ids

__all__ = ["AdvPopulation", "build_adv_population", "csr_pick"]

_LONG_AGO_S = START_S - 3 * 365 * 86_400


@dataclass
class AdvPopulation:
    """Per-user arrays of one adversarial world (index = user number)."""

    n: int
    ids: pa.Array
    segment: np.ndarray  # int8 AdvSegment
    community: np.ndarray
    store: np.ndarray  # home store (employees: the store they work in)
    n_stores: int
    store_ids: pa.Array
    friend_ptr: np.ndarray  # CSR of the symmetric friendship graph
    friends: np.ndarray
    persuasion: np.ndarray
    activity: np.ndarray
    spend: np.ndarray
    created_at: np.ndarray  # epoch seconds
    declared_role: pa.Array  # role written on the user record
    device: np.ndarray  # int64 codes
    phone: np.ndarray
    group: np.ndarray  # fraud ring / self-dealing group number, -1 for none
    rings: list[np.ndarray]
    self_dealers: list[tuple[int, np.ndarray]]
    store_ptr: np.ndarray  # users by home store (CSR)
    store_users: np.ndarray
    employee_ptr: np.ndarray  # employees by store (CSR)
    employees: np.ndarray

    @property
    def degree(self) -> np.ndarray:
        """Number of friends of each user."""
        return np.diff(self.friend_ptr)

    @property
    def is_staff(self) -> np.ndarray:
        return self.segment == AdvSegment.EMPLOYEE

    @property
    def is_fraud(self) -> np.ndarray:
        return np.isin(
            self.segment, [AdvSegment.FRAUD_RING, AdvSegment.SELF_DEALER, AdvSegment.ALT_ACCOUNT]
        )


def csr_pick(
    rng: np.random.Generator, ptr: np.ndarray, items: np.ndarray, rows: np.ndarray
) -> np.ndarray:
    """One uniformly random item of each requested CSR row (-1 for an empty row)."""
    lo, size = ptr[rows], ptr[rows + 1] - ptr[rows]
    pos = lo + np.floor(rng.random(rows.shape[0]) * size).astype(np.int64)
    out = np.full(rows.shape[0], -1, dtype=np.int64)
    ok = size > 0
    out[ok] = items[pos[ok]]
    return out


def _csr(labels: np.ndarray, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(labels, kind="stable")
    ptr = np.concatenate([[0], np.cumsum(np.bincount(labels, minlength=n_rows))])
    return ptr.astype(np.int64), order.astype(np.int64)


def _segments(params: AdversarialParams, rng: np.random.Generator) -> tuple[np.ndarray, list]:
    n = params.users
    seg = np.full(n, AdvSegment.REGULAR, dtype=np.int8)
    perm = rng.permutation(n)
    pos = 0

    def take(k: int, s: AdvSegment) -> np.ndarray:
        nonlocal pos
        chosen = perm[pos : pos + k]
        seg[chosen] = s
        pos += k
        return chosen

    for frac, s, least in (
        (params.kol_fraction, AdvSegment.KOL, 5),
        (params.employee_fraction, AdvSegment.EMPLOYEE, 3),
        (params.socialite_fraction, AdvSegment.SOCIALITE, 3),
        (params.big_spender_fraction, AdvSegment.BIG_SPENDER, 3),
        (params.coupon_fraction, AdvSegment.COUPON_HUNTER, 3),
    ):
        take(max(least, int(round(frac * n))), s)
    rings = [
        take(int(rng.integers(4, 9)), AdvSegment.FRAUD_RING)
        for _ in range(max(3, n // params.users_per_ring))
    ]
    dealers = []
    for _ in range(max(3, n // params.users_per_self_dealer)):
        main = int(take(1, AdvSegment.SELF_DEALER)[0])
        dealers.append((main, take(int(rng.integers(1, 4)), AdvSegment.ALT_ACCOUNT)))
    return seg, [rings, dealers]


def _friendships(
    rng: np.random.Generator,
    n: int,
    seg: np.ndarray,
    community: np.ndarray,
    n_comm: int,
    mean_friends: float,
    extra: list[tuple[np.ndarray, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray]:
    stubs = np.maximum(
        1, np.rint(rng.lognormal(np.log(mean_friends / 2) - 0.4, 0.9, n) * FRIEND_MULT[seg])
    ).astype(np.int64)
    owner = np.repeat(np.arange(n, dtype=np.int64), stubs)
    comm_ptr, comm_users = _csr(community, n_comm)
    partner = csr_pick(rng, comm_ptr, comm_users, community[owner])
    stranger = rng.random(owner.shape[0]) >= 0.85
    partner[stranger] = rng.integers(0, n, int(stranger.sum()))
    a = np.concatenate([owner, *(e[0] for e in extra)])
    b = np.concatenate([partner, *(e[1] for e in extra)])
    keep = a != b
    lo, hi = np.minimum(a[keep], b[keep]), np.maximum(a[keep], b[keep])
    key = np.unique(lo * n + hi)
    lo, hi = key // n, key % n
    src, dst = np.concatenate([lo, hi]), np.concatenate([hi, lo])
    ptr, order = _csr(src, n)
    return ptr, dst[order]


def _clique(members: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.meshgrid(members, members)
    return a.ravel().astype(np.int64), b.ravel().astype(np.int64)


def _declared_roles(
    params: AdversarialParams, rng: np.random.Generator, seg: np.ndarray
) -> pa.Array:
    n = seg.shape[0]
    role = np.full(n, "consumer", dtype=object)
    u = np.asarray(rng.random(n))
    role[u < 0.15] = "unknown"
    kol = seg == AdvSegment.KOL
    role[kol] = np.where(u[kol] < 0.8, "kol", "unknown")
    emp = seg == AdvSegment.EMPLOYEE
    undeclared = rng.random(n) < params.undeclared_employee_share
    as_consumer = np.asarray(rng.random(n)) < params.undeclared_as_consumer
    role[emp & ~undeclared] = "employee"
    role[emp & undeclared] = np.where(as_consumer[emp & undeclared], "consumer", "unknown")
    return pa.array(role.tolist(), pa.string())


def build_adv_population(params: AdversarialParams, rng: np.random.Generator) -> AdvPopulation:
    """Draw every per-user property of the adversarial world (module docstring)."""
    n = params.users
    seg, (rings, dealers) = _segments(params, rng)
    n_comm = max(1, n // params.mean_community_size)
    weights = rng.lognormal(0.0, 1.0, n_comm)
    community = rng.choice(n_comm, size=n, p=weights / weights.sum()).astype(np.int64)
    group = np.full(n, -1, dtype=np.int64)
    extra = []
    for g, ring in enumerate(rings):
        community[ring] = community[ring[0]]
        group[ring] = g
        extra.append(_clique(ring))
    for g, (main, alts) in enumerate(dealers, start=len(rings)):
        members = np.concatenate([[main], alts])
        community[members] = community[main]
        group[members] = g
        extra.append(_clique(members))
    n_stores = max(1, -(-n // params.users_per_store))
    store = rng.integers(0, n_stores, n_comm)[community]
    friend_ptr, friends = _friendships(rng, n, seg, community, n_comm, params.mean_friends, extra)

    base = rng.lognormal(-0.5, 1.0, n)
    activity = np.where(seg == AdvSegment.REGULAR, base, 0.6 + 0.4 * base)
    persuasion = np.minimum(0.25, PERSUASION_MEDIAN[seg] * rng.lognormal(0.0, 1.0, n))
    spend = rng.lognormal(-0.5, 1.0, n)

    new = rng.random(n) < 0.25
    new |= np.isin(seg, [AdvSegment.FRAUD_RING, AdvSegment.ALT_ACCOUNT])
    new &= ~np.isin(seg, [AdvSegment.KOL, AdvSegment.EMPLOYEE, AdvSegment.SELF_DEALER])
    created = rng.integers(_LONG_AGO_S, START_S, n)
    created[new] = rng.integers(START_S, END_S - 7 * 86_400, int(new.sum()))

    device = rng.integers(1, 2**62, n)
    phone = rng.integers(1, 2**62, n)
    family = np.flatnonzero(rng.random(n) < 0.01)
    mate = csr_pick(rng, friend_ptr, friends, family)
    ok = mate >= 0
    device[family[ok]] = device[mate[ok]]
    for members in [*rings, *(np.concatenate([[m], a]) for m, a in dealers)]:
        device[members] = device[members[0]]
        phone[members] = phone[members[0]]

    store_ptr, store_users = _csr(store, n_stores)
    emp = np.flatnonzero(seg == AdvSegment.EMPLOYEE)
    employee_ptr, order = _csr(store[emp], n_stores)
    return AdvPopulation(
        n=n,
        ids=pa.array([f"u{i:07d}" for i in range(n)], pa.string()),
        segment=seg,
        community=community,
        store=store,
        n_stores=n_stores,
        store_ids=prefixed_ids("s", np.arange(n_stores) + 10_000),
        friend_ptr=friend_ptr,
        friends=friends,
        persuasion=persuasion,
        activity=activity,
        spend=spend,
        created_at=created,
        declared_role=_declared_roles(params, rng, seg),
        device=device,
        phone=phone,
        group=group,
        rings=rings,
        self_dealers=dealers,
        store_ptr=store_ptr,
        store_users=store_users,
        employee_ptr=employee_ptr,
        employees=emp[order],
    )
