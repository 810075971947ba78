"""A run's leaderboard as arrays: every filter, sort and page without touching the store.

A finished run never changes, so everything a leaderboard page needs is computed
once per run and kept in memory (:class:`RunBoard`, built by :func:`build_board`):

* the run's rows in rank order as numpy arrays (rank, score, role code, community);
* the previous run's rank of every row and the rank change, from **one** id lookup
  against the previous run (a page used to repeat that lookup over every user);
* per sort key, the order of all rows (``score``: rank order; ``rank_change``,
  ``falling`` and each component: one stable sort, ties by rank);
* per query (sort, filters, an optional caller's mask such as a segment), the
  filtered order ``order[mask[order]]``, kept in a small LRU.

A page is then a slice of that order: ``order[after:after + limit]``. The costs
(1M users, 2 cores): building a board about 1 s (the id lookup against the
previous run), a sort order 0.1-0.2 s the first time it is asked for, a new
filter 5-15 ms, a page well under 1 ms plus assembling its rows.

Extra masks (``?segment=`` and the like) come in as a :class:`RowMask`: a hashable
key and a function that returns a boolean array over the board's rows (use
:meth:`RunBoard.rows_of` to turn user ids into row numbers). The board computes
each mask once per key and caches the filtered orders built with it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from graph.arrays import node_index
from graph.store import RunRecord

__all__ = ["RowMask", "RunBoard", "ComponentReader", "build_board", "ORDER_CACHE_BYTES"]

#: Bytes of filtered orders kept per board (4 bytes per row kept by a query: every sort
#: times every filter of a 1M-user run is about 45 x 3.6 MB).
ORDER_CACHE_BYTES = 256 * 2**20
#: Extra masks (segments) kept per board.
MASK_CACHE_SIZE = 64
#: Reads a component's raw value per row of the run's scores table: values (NaN where
#: absent) and a validity mask, both aligned to the table's rows.
ComponentReader = Callable[[str], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class RowMask:
    """An extra filter over a board's rows (e.g. a segment).

    Attributes
    ----------
    key : Hashable
        Identifies the mask: equal keys must give equal masks for one run.
    build : callable
        ``build(board) -> numpy.ndarray`` of bool, one value per row of ``board``
        (its rank order, :attr:`RunBoard.user_ids`).
    """

    key: Hashable
    build: Callable[[RunBoard], np.ndarray]


def _codes(column: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, list[Any]]:
    """Dictionary codes of a column (-1 for nulls) and the values they stand for."""
    encoded = pc.dictionary_encode(column)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    codes = np.asarray(encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False), np.int32)
    return codes, encoded.dictionary.to_pylist()


def _descending_nulls_last(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Row order by ``values`` high to low, invalid rows last; ties keep row order
    (rank order, so ties go by rank)."""
    key = np.where(valid, -values, 0.0)
    order = np.argsort(key, kind="stable")
    keep = valid[order]
    return np.concatenate([order[keep], order[~keep]]).astype(np.int32)


class RunBoard:
    """One finished run's leaderboard in memory (see the module docstring).

    Parameters
    ----------
    run : RunRecord
    scores : pyarrow.Table
        The run's scores (``user_id``, ``rank``, ``score``, ``role``, ``community``).
    previous : pyarrow.Table, optional
        The previous succeeded run's scores (``user_id``, ``rank``); None for a first run.
    previous_run_id : str, optional
    staff : sequence of str
        Roles left out unless asked for (the run's ``leaderboard.staff_roles``).
    components : callable
        A :data:`ComponentReader` over ``scores``' rows (the component sorts).
    """

    def __init__(
        self,
        run: RunRecord,
        scores: pa.Table,
        previous: pa.Table | None,
        *,
        previous_run_id: str | None,
        staff: Sequence[str],
        components: ComponentReader,
    ) -> None:
        self.run = run
        self.previous_run_id = previous_run_id
        rank = np.asarray(scores.column("rank").to_numpy(zero_copy_only=False), np.int64)
        by_rank = np.argsort(rank, kind="stable")
        ordered = bool(np.all(by_rank == np.arange(rank.shape[0])))
        #: row of the scores table behind each board row (None: the same rows)
        self._table_row = None if ordered else by_rank
        table = scores if ordered else scores.take(pa.array(by_rank))
        self.n = table.num_rows
        self.user_ids: pa.Array = table.column("user_id").combine_chunks()
        self.rank = rank[by_rank].astype(np.int32)
        score = table.column("score")
        self.score = np.asarray(score.to_numpy(zero_copy_only=False), np.float64)
        self.score_valid = np.asarray(score.is_valid().to_numpy(zero_copy_only=False), bool)
        self.role, self.role_names = _codes(table.column("role"))
        community = table.column("community")
        self.community_valid = np.asarray(community.is_valid().to_numpy(zero_copy_only=False), bool)
        self.community = np.asarray(
            community.fill_null(-1).to_numpy(zero_copy_only=False), np.int64
        )
        self.previous_rank = np.zeros(self.n, np.int32)  # 0: not ranked by the previous run
        if previous is not None and previous.num_rows:
            pos = node_index(previous.column("user_id").combine_chunks(), self.user_ids)
            hit = pos >= 0
            before = np.asarray(previous.column("rank").to_numpy(zero_copy_only=False), np.int32)
            self.previous_rank[hit] = before[pos[hit]]
        self.changed = self.previous_rank > 0
        self.rank_change = np.where(self.changed, self.previous_rank - self.rank, 0).astype(
            np.int32
        )
        codes = [i for i, name in enumerate(self.role_names) if name in set(staff)]
        self.staff = np.isin(self.role, np.asarray(codes, np.int32))
        self._components = components
        self._lock = threading.Lock()
        self._sorts: dict[str, np.ndarray] = {}
        self._masks: dict[Hashable, np.ndarray] = {}
        self._orders: OrderedDict[Hashable, np.ndarray] = OrderedDict()
        self._order_bytes = 0

    # --- lookups ------------------------------------------------------------------------
    def rows_of(self, user_ids: pa.Array | pa.ChunkedArray) -> np.ndarray:
        """Board row of each user id (-1 for users the run did not rank)."""
        return node_index(self.user_ids, user_ids)

    def mask_of(self, user_ids: pa.Array | pa.ChunkedArray) -> np.ndarray:
        """A boolean mask over the board's rows: True for the given users."""
        rows = self.rows_of(user_ids)
        mask = np.zeros(self.n, bool)
        mask[rows[rows >= 0]] = True
        return mask

    def table_rows(self, rows: np.ndarray) -> np.ndarray:
        """Rows of the run's scores table (as read from the store) behind board rows."""
        return rows if self._table_row is None else self._table_row[rows]

    # --- orders -------------------------------------------------------------------------
    def sort_order(self, sort: str) -> np.ndarray:
        """Every row in the order of ``sort`` (``falling``: only the users who fell)."""
        order = self._sorts.get(sort)
        if order is None:
            order = self._sort(sort)
            with self._lock:
                self._sorts[sort] = order
        return order

    def _sort(self, sort: str) -> np.ndarray:
        if sort == "score":
            return np.arange(self.n, dtype=np.int32)
        if sort == "rank_change":
            return _descending_nulls_last(self.rank_change.astype(np.float64), self.changed)
        if sort == "falling":  # biggest fall first; risers, unchanged and new users left out
            fell = np.flatnonzero(self.rank_change < 0)
            return fell[np.argsort(self.rank_change[fell], kind="stable")].astype(np.int32)
        values, valid = self._components(sort)
        if self._table_row is not None:
            values, valid = values[self._table_row], valid[self._table_row]
        return _descending_nulls_last(values, valid & ~np.isnan(values))

    def _mask(self, key: Hashable, build: Callable[[], np.ndarray]) -> np.ndarray:
        mask = self._masks.get(key)
        if mask is None:
            mask = np.asarray(build(), dtype=bool)
            if mask.shape != (self.n,):
                raise ValueError(f"A row mask must have one value per row ({self.n}).")
            with self._lock:
                self._masks[key] = mask
                while len(self._masks) > MASK_CACHE_SIZE:
                    self._masks.pop(next(iter(self._masks)))
        return mask

    def filter_mask(
        self,
        *,
        role: str | None,
        community: int | None,
        min_score: float | None,
        include_staff: bool,
        extra: RowMask | None = None,
    ) -> np.ndarray | None:
        """The rows a query keeps (None: all of them)."""
        mask: np.ndarray | None = None
        if role is not None:
            code = self.role_names.index(role) if role in self.role_names else -2
            mask = self.role == code
        elif not include_staff and self.staff.any():
            mask = ~self.staff
        if community is not None:
            keep = self.community_valid & (self.community == community)
            mask = keep if mask is None else mask & keep
        if min_score is not None:
            keep = self.score_valid & (self.score >= min_score)
            mask = keep if mask is None else mask & keep
        if extra is not None:
            keep = self._mask(extra.key, lambda: extra.build(self))
            mask = keep if mask is None else mask & keep
        return mask

    def order(
        self,
        sort: str,
        *,
        role: str | None = None,
        community: int | None = None,
        min_score: float | None = None,
        include_staff: bool = False,
        extra: RowMask | None = None,
    ) -> np.ndarray:
        """The board rows of a query, in its order: position ``p`` (1-based) of the
        leaderboard is row ``order[p - 1]``. Cached per query."""
        key = (
            sort,
            role,
            community,
            min_score,
            include_staff,
            None if extra is None else extra.key,
        )
        hit = self._orders.get(key)
        if hit is not None:
            with self._lock:
                if key in self._orders:
                    self._orders.move_to_end(key)
            return hit
        base = self.sort_order(sort)
        mask = self.filter_mask(
            role=role,
            community=community,
            min_score=min_score,
            include_staff=include_staff,
            extra=extra,
        )
        if mask is None:
            order = base
        elif sort == "score":
            order = np.flatnonzero(mask).astype(np.int32)
        else:
            order = base[mask[base]]
        with self._lock:
            if key not in self._orders:
                self._orders[key] = order
                self._order_bytes += order.nbytes
            while self._order_bytes > ORDER_CACHE_BYTES and len(self._orders) > 1:
                self._order_bytes -= self._orders.popitem(last=False)[1].nbytes
        return order

    # --- rows ---------------------------------------------------------------------------
    def rows(self, rows: np.ndarray, *, first_position: int = 1) -> list[dict[str, Any]]:
        """Leaderboard rows (without breakdowns) for board rows ``rows``, numbered from
        ``first_position``."""
        rows = np.asarray(rows, dtype=np.int64)
        ids = self.user_ids.take(pa.array(rows)).to_pylist()
        ranks = self.rank[rows].tolist()
        scores = self.score[rows].tolist()
        score_ok = self.score_valid[rows].tolist()
        roles = self.role[rows].tolist()
        communities = self.community[rows].tolist()
        community_ok = self.community_valid[rows].tolist()
        before = self.previous_rank[rows].tolist()
        change = self.rank_change[rows].tolist()
        names = self.role_names
        return [
            {
                "rank": first_position + i,
                "overall_rank": ranks[i],
                "user_id": ids[i],
                "score": scores[i] if score_ok[i] else None,
                "role": names[roles[i]] if roles[i] >= 0 else None,
                "community": communities[i] if community_ok[i] else None,
                "previous_rank": before[i] or None,
                "rank_change": change[i] if before[i] else None,
            }
            for i in range(len(ids))
        ]

    def prepare(self, sorts: Sequence[str]) -> None:
        """Compute the sort orders ``sorts`` and their default leaderboards (staff left
        out) now (warm-up), so no request waits for them."""
        for sort in sorts:
            self.order(sort)


def build_board(
    run: RunRecord,
    scores: pa.Table,
    previous: tuple[str, pa.Table] | None,
    *,
    staff: Sequence[str],
    components: ComponentReader,
) -> RunBoard:
    """A :class:`RunBoard` of ``run`` (``previous``: the previous run's id and scores)."""
    return RunBoard(
        run,
        scores,
        None if previous is None else previous[1],
        previous_run_id=None if previous is None else previous[0],
        staff=staff,
        components=components,
    )
