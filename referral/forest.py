"""The whole referral forest at once: every user's upline and downline per level.

:meth:`graph.store.GraphStore.upline` and ``downline`` answer for one user with a
recursive query. This module computes the same answers for *all* users in one
pass over arrays, so the HTTP API can serve profiles from memory
(:mod:`api.services.facts`). Pure functions: the inputs are node-indexed numpy arrays.

Tree definition (:mod:`graph.referrals`, the store's, see ``docs/commissions.md``):
the first referral of each referee (earliest ``ts``, then smallest ``event_id``)
binds it to its referrer, so every user has at most one parent. Walking up from ``v``,
``a_0 = v``, ``a_k = parent(a_{k-1})``; the walk stops at the first repeated
user (a referral cycle). Hence ``v`` is in the downline of ``a_k(v)`` at level
``k`` exactly when ``a_0, ..., a_k`` are all distinct, and the upline of ``v``
is ``a_1, a_2, ...`` while that holds. Counting level ``k`` of every user is
then one ``bincount`` over ``a_k``: O(levels x users), no per-user walk.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from graph.arrays import micros, node_indexes
from graph.errors import ConfigError
from graph.events import EventType
from graph.money import to_units
from graph.referrals import first_referrers
from graph.store import GraphStore

__all__ = [
    "ReferralForest",
    "referral_forest",
    "store_forest",
]

#: Deepest level a forest is built for (the commission policy's cap is 3).
MAX_LEVELS = 10


@dataclass(frozen=True)
class ReferralForest:
    """Every user's upline and per-level downline totals (see the module docstring).

    Attributes
    ----------
    levels : int
    ancestors : numpy.ndarray of int64, shape (levels, n)
        ``ancestors[k - 1, v]`` = the level-``k`` upline of ``v``, or ``-1`` when the
        walk ends (no referrer, or a cycle) before level ``k``.
    bound_ts : numpy.ndarray of int64, shape (n,)
        Time of the referral that binds each user to its parent.
    users, buyers : numpy.ndarray of int64, shape (levels, n)
        ``users[k - 1, u]``: users in ``u``'s downline at level ``k``; ``buyers``:
        those of them with at least one order.
    gmv_units : numpy.ndarray of int64, shape (levels, n)
        Their orders net of refunds, exact, in units of ``10**-4``.
    """

    levels: int
    ancestors: np.ndarray
    bound_ts: np.ndarray
    users: np.ndarray
    buyers: np.ndarray
    gmv_units: np.ndarray

    @property
    def n(self) -> int:
        """Number of nodes."""
        return int(self.bound_ts.shape[0])

    def upline(self, v: int) -> list[tuple[int, int, int]]:
        """``(level, ancestor, referred_at)`` from level 1 up, ``referred_at`` being the
        time the user one level below was bound to that ancestor."""
        out, below = [], v
        for k in range(self.levels):
            a = int(self.ancestors[k, v])
            if a < 0:
                break
            out.append((k + 1, a, int(self.bound_ts[below])))
            below = a
        return out


def referral_forest(
    parent: np.ndarray,
    bound_ts: np.ndarray,
    net_units: np.ndarray,
    bought: np.ndarray,
    levels: int = 3,
) -> ReferralForest:
    """Upline chains and per-level downline counts and GMV of every user.

    Parameters
    ----------
    parent, bound_ts : numpy.ndarray of int64
        From :func:`graph.referrals.first_referrers`.
    net_units : numpy.ndarray of int64
        Each user's orders net of refunds (each refund capped at its order), exact
        units of ``10**-4``.
    bought : numpy.ndarray of bool
        Users with at least one order.
    levels : int
        Depth, 1..10.

    Returns
    -------
    ReferralForest

    Raises
    ------
    ConfigError
        ``levels`` out of range.
    """
    if not 1 <= int(levels) <= MAX_LEVELS:
        raise ConfigError(
            f"The 'levels' of a referral forest must be in 1..{MAX_LEVELS}. Got {levels} instead.",
            key="levels",
        )
    parent = np.asarray(parent, dtype=np.int64)
    n = parent.shape[0]
    net_units = np.asarray(net_units, dtype=np.int64)
    bought = np.asarray(bought, dtype=bool)
    ancestors = np.full((levels, n), -1, dtype=np.int64)
    users = np.zeros((levels, n), dtype=np.int64)
    buyers = np.zeros((levels, n), dtype=np.int64)
    gmv = np.zeros((levels, n), dtype=np.int64)
    chain = [np.arange(n, dtype=np.int64)]  # a_0 .. a_k of every node
    alive = np.ones(n, dtype=bool)  # a_0 .. a_k distinct so far
    for k in range(levels):
        prev = chain[-1]
        nxt = np.where(prev >= 0, parent[np.maximum(prev, 0)], -1)
        alive &= nxt >= 0
        for earlier in chain:  # a_{k+1} must differ from a_0 .. a_k (levels <= 10: cheap)
            alive &= nxt != earlier
        nxt = np.where(alive, nxt, -1)
        chain.append(nxt)
        ancestors[k] = nxt
        members = np.flatnonzero(alive)
        top = nxt[members]
        users[k] = np.bincount(top, minlength=n)
        buyers[k] = np.bincount(top[bought[members]], minlength=n)
        np.add.at(gmv[k], top, net_units[members])  # int64: exact money
    return ReferralForest(
        levels=int(levels),
        ancestors=ancestors,
        bound_ts=np.asarray(bound_ts, dtype=np.int64),
        users=users,
        buyers=buyers,
        gmv_units=gmv,
    )


def store_forest(store: GraphStore, node_ids: pa.Array, levels: int = 3) -> ReferralForest:
    """The forest of every referral and order in ``store`` (no time window).

    Parameters
    ----------
    store : graph.store.GraphStore
    node_ids : pyarrow.Array of str
        The users, in node-index order (``store.node_ids()``); referrals and
        buyers outside it are ignored.
    levels : int

    Returns
    -------
    ReferralForest
        Equal, user by user, to :meth:`~graph.store.GraphStore.upline` and
        :meth:`~graph.store.GraphStore.downline` (``tests/referral/test_forest.py``).
    """
    n = len(node_ids)
    refs = store.read_events(EventType.REFERRAL)
    spend = store.read_spend()  # net of refunds, each capped at its order
    referrer, referee, buyer = node_indexes(
        node_ids, refs.column("referrer"), refs.column("referee"), spend.column("user_id")
    )
    parent, bound = first_referrers(
        n, referrer, referee, micros(refs.column("ts")), refs.column("event_id")
    )
    known = buyer >= 0
    net = np.zeros(n, dtype=np.int64)
    bought = np.zeros(n, dtype=bool)
    net[buyer[known]] = to_units(spend.column("net"))[known]
    bought[buyer[known]] = True
    return referral_forest(parent, bound, net, bought, levels)
