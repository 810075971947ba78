"""The referral tree's one rule: the first referral binds the referee.

Definition
----------
Among the ``referral`` events that name user ``v`` as referee, self-referrals left
out, the one with the smallest ``(ts, event_id)`` *binds* ``v`` to its referrer:
``v``'s parent in the referral tree, its level-1 upline, the referrer whose
``referrals_converted`` it counts for. Every user has at most one parent.

Ties on ``ts`` go to the smallest ``event_id`` (byte-wise, as DuckDB's ``ORDER BY``
and Arrow's sort compare strings). This module is the array version, used by the
referral forest, the commission candidates, re-attribution, the drawn referral
tree and the score's engagement signals; the stores keep the same rule in their
own engines, written once each: :data:`graph.duckdb_store.FIRST_REFERRAL_SQL` (the
maintained ``referral_first`` table) and the ``FIRST_REFERRAL_ORDER`` of
:mod:`graph.cypher`. ``tests/graph/test_referrals.py`` checks all three agree on
tied timestamps.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from graph.arrays import micros

__all__ = ["binding_rows", "first_referrers", "first_referrals"]


def _empty() -> np.ndarray:
    return np.zeros(0, dtype=np.int64)


def binding_rows(
    referee: np.ndarray,
    ts: np.ndarray,
    event_id: pa.Array | pa.ChunkedArray | None = None,
    keep: np.ndarray | None = None,
) -> np.ndarray:
    """Row of the binding referral of every referee (one row per distinct referee).

    Parameters
    ----------
    referee : numpy.ndarray of int
        Referee code of each referral (any integer code, e.g. a node index).
    ts : numpy.ndarray of int64
        Referral time in any monotone unit.
    event_id : pyarrow.Array, optional
        Event id of each referral, the tie-break on equal ``(referee, ts)``. Without
        it, the rows must already be in ``(ts, event_id)`` order (the first row wins).
    keep : numpy.ndarray of bool, optional
        Rows that may bind (e.g. not a self-referral); all when omitted.

    Returns
    -------
    numpy.ndarray of int64
        Row indices, ordered by referee code.

    Notes
    -----
    One stable sort by ``(referee, ts)``; event ids are compared only inside the
    blocks of rows tied with a referee's earliest time, so the cost of the string
    comparison follows the ties, not the number of referrals.
    """
    referee = np.asarray(referee, dtype=np.int64)
    ts = np.asarray(ts, dtype=np.int64)
    rows = np.arange(referee.shape[0], dtype=np.int64) if keep is None else np.flatnonzero(keep)
    if rows.size == 0:
        return _empty()
    order = rows[np.lexsort((ts[rows], referee[rows]))]  # stable: ties keep input order
    r, t = referee[order], ts[order]
    new_group = np.ones(order.size, dtype=bool)
    new_group[1:] = r[1:] != r[:-1]
    chosen = order[new_group]
    if event_id is None or order.size < 2:
        return chosen
    tie = np.zeros(order.size, dtype=bool)  # row ties with the one before on (referee, ts)
    tie[1:] = ~new_group[1:] & (t[1:] == t[:-1])
    if not tie.any():
        return chosen
    block = np.cumsum(~tie) - 1  # runs of tied rows
    group = np.cumsum(new_group) - 1
    lead = block == block[new_group][group]  # in the block of the group's earliest time
    tied_groups = np.bincount(group[lead], minlength=chosen.size) > 1
    cand = np.flatnonzero(lead & tied_groups[group])
    ids = event_id.combine_chunks() if isinstance(event_id, pa.ChunkedArray) else event_id
    ties = pa.table({"g": group[cand], "id": ids.take(pa.array(order[cand]))})
    by_id = np.asarray(
        pc.sort_indices(ties, sort_keys=[("g", "ascending"), ("id", "ascending")]), dtype=np.int64
    )
    g_sorted = group[cand][by_id]
    first = np.ones(by_id.size, dtype=bool)
    first[1:] = g_sorted[1:] != g_sorted[:-1]
    chosen[g_sorted[first]] = order[cand][by_id[first]]
    return chosen


def first_referrers(
    n: int,
    referrer: np.ndarray,
    referee: np.ndarray,
    ts: np.ndarray,
    event_id: pa.Array | pa.ChunkedArray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The binding (first) referral of every referee, in node-index space.

    Parameters
    ----------
    n : int
        Number of nodes.
    referrer, referee : numpy.ndarray of int
        Node index of each referral's two ends (``-1`` rows are ignored).
    ts : numpy.ndarray of int64
        Referral time (any monotone unit, e.g. epoch microseconds).
    event_id : pyarrow.Array, optional
        The tie-break on equal times (smallest id binds). Without it the rows must
        be in ``(ts, event_id)`` order, as every store returns referral events.

    Returns
    -------
    parent : numpy.ndarray of int64
        ``parent[v]`` = the referrer that binds ``v``, or ``-1``. A self-referral
        (rejected at ingestion) binds nothing.
    bound_ts : numpy.ndarray of int64
        ``ts`` of that referral (0 where ``parent`` is ``-1``).
    """
    referrer = np.asarray(referrer, dtype=np.int64)
    referee = np.asarray(referee, dtype=np.int64)
    ts = np.asarray(ts, dtype=np.int64)
    keep = (referrer >= 0) & (referee >= 0) & (referrer != referee)
    chosen = binding_rows(referee, ts, event_id, keep)
    parent = np.full(int(n), -1, dtype=np.int64)
    bound_ts = np.zeros(int(n), dtype=np.int64)
    parent[referee[chosen]] = referrer[chosen]
    bound_ts[referee[chosen]] = ts[chosen]
    return parent, bound_ts


def first_referrals(referrals: pa.Table) -> pa.Table:
    """The binding referral event of every referee, as rows of ``referrals``.

    Parameters
    ----------
    referrals : pyarrow.Table
        Referral events with ``referrer``, ``referee``, ``ts`` and ``event_id`` (as
        :meth:`graph.store.GraphStore.read_events` returns them). Without an
        ``event_id`` column the rows must be in ``(ts, event_id)`` order.

    Returns
    -------
    pyarrow.Table
        The same columns, one row per referee that has a binding referral.
    """
    if referrals.num_rows == 0:
        return referrals
    referee = referrals.column("referee").combine_chunks()
    codes = np.asarray(
        referee.dictionary_encode().indices.fill_null(-1).to_numpy(zero_copy_only=False),
        dtype=np.int64,
    )
    differ = pc.fill_null(
        pc.not_equal(referrals.column("referrer").combine_chunks(), referee), False
    )
    keep = np.asarray(differ.to_numpy(zero_copy_only=False), dtype=bool) & (codes >= 0)
    ts = micros(referrals.column("ts"))
    ids = referrals.column("event_id") if "event_id" in referrals.column_names else None
    rows = binding_rows(codes, ts, ids, keep)
    return referrals.take(pa.array(rows))
