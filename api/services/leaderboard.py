"""Reading ranking runs: leaderboards, user profiles and rank changes between runs.

Ranks
-----
A run stores, per user, the *overall* rank (1 = highest score among all users,
equal scores ordered by ``user_id``). Leaderboards filter that list (role,
community, minimum score; staff left out unless asked) and number the rows
1, 2, ... again (``rank``), keeping ``overall_rank``. ``rank_change`` is the
previous succeeded run's overall rank minus this run's (positive = rising; ``None``
for a user the previous run did not rank).

The functions are re-exported by :mod:`api.services.ranking`, which the CLI and the
HTTP API import.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from api.services.board import ComponentReader, RowMask, RunBoard, build_board
from api.services.cache import RunCache
from graph.arrays import node_index
from graph.errors import ConfigError, NotFoundError
from graph.events import Role
from graph.store import GraphStore, RunRecord
from influence.config import COMPONENTS

__all__ = [
    "SORT_KEYS",
    "resolve_run",
    "previous_run",
    "leaderboard",
    "user_profile",
    "rank_changes",
    "run_board",
    "prepare_board",
]

#: Leaderboard sort keys.
SORT_KEYS: tuple[str, ...] = ("score", "rank_change", "falling", *COMPONENTS)


def resolve_run(store: GraphStore, run_id: str | None = None) -> RunRecord:
    """The run ``run_id``, or the latest succeeded run.

    Raises
    ------
    NotFoundError
        Unknown id, or no succeeded run yet.
    """
    if run_id is not None:
        return store.get_run(run_id)
    run = store.latest_run("succeeded")
    if run is None:
        raise NotFoundError("No ranking run yet; run `koc rank` first.")
    return run


def previous_run(store: GraphStore, run: RunRecord) -> RunRecord | None:
    """The succeeded run created just before ``run`` (None for the first)."""
    for other in store.list_runs(limit=10_000):
        if other.status == "succeeded" and other.created_at < run.created_at:
            return other
    return None


def _staff_roles(run: RunRecord) -> tuple[str, ...]:
    cfg = run.params.get("config", {}) if run.params else {}
    roles = cfg.get("leaderboard", {}).get("staff_roles")
    return tuple(roles) if roles is not None else (Role.EMPLOYEE.value, Role.KOL.value)


#: up to this many users, previous ranks are read for those users only
_POINT_READ_MAX = 10_000


def _with_changes(store: GraphStore, scores: pa.Table, prev: RunRecord | None) -> pa.Table:
    """Add ``previous_rank`` and ``rank_change`` against ``prev`` to a few rows (a
    profile); whole leaderboards take them from the run's :class:`RunBoard`."""
    n = scores.num_rows
    if prev is None:
        return scores.append_column("previous_rank", pa.nulls(n, pa.int32())).append_column(
            "rank_change", pa.nulls(n, pa.int32())
        )
    ids = scores.column("user_id")
    before = (
        store.read_scores(prev.run_id, user_ids=ids.to_pylist())
        if n <= _POINT_READ_MAX
        else store.read_scores(prev.run_id)
    )
    pos = pc.index_in(scores.column("user_id"), value_set=before.column("user_id"))
    previous = before.column("rank").take(pos)
    change = pc.subtract(previous, scores.column("rank"))
    return scores.append_column("previous_rank", previous).append_column("rank_change", change)


def _component_reader(store: GraphStore, run_id: str, user_ids: pa.ChunkedArray) -> ComponentReader:
    """Raw values of one component aligned to the rows of the run's scores: from the
    run cache's pivot when it holds one, else one store read and one id lookup."""

    def read(component: str) -> tuple[np.ndarray, np.ndarray]:
        if isinstance(store, RunCache) and store.is_finished(run_id):
            column = store.component_column(run_id, component)
            if column is not None:
                return column
        comp = store.read_components(run_id, component=component, ordered=False)
        pos = node_index(comp.column("user_id").combine_chunks(), user_ids)
        raw = comp.column("raw")
        values = np.asarray(raw.fill_null(np.nan).to_numpy(zero_copy_only=False), np.float64)
        found = pos >= 0
        out = np.full(pos.shape[0], np.nan)
        out[found] = values[pos[found]]
        return out, ~np.isnan(out)

    return read


def _new_board(store: GraphStore, run: RunRecord, prev: RunRecord | None) -> RunBoard:
    scores = store.read_scores(run.run_id)
    return build_board(
        run,
        scores,
        None if prev is None else (prev.run_id, store.read_scores(prev.run_id)),
        staff=_staff_roles(run),
        components=_component_reader(store, run.run_id, scores.column("user_id")),
    )


def run_board(store: GraphStore, run: RunRecord) -> RunBoard:
    """The :class:`~api.services.board.RunBoard` of ``run`` against its previous run:
    built once per finished run and kept when ``store`` is the HTTP app's run cache,
    built afresh otherwise (one CLI command, one board)."""
    if isinstance(store, RunCache) and store.is_finished(run.run_id):
        return store.derived(
            "board", run.run_id, lambda: _new_board(store, run, previous_run(store, run))
        )
    return _new_board(store, run, previous_run(store, run))


def prepare_board(store: RunCache, run_id: str) -> None:
    """Warm-up hook of the run cache: build a finished run's board and its sort orders
    before the run is served (:class:`api.services.cache.RunCache` ``on_warm``)."""
    run_board(store, store.get_run(run_id)).prepare(SORT_KEYS)


#: Detail rows that explain a score in facts (``why`` of each leaderboard row): distinct
#: buyers by attribution rule, their net GMV, the refund share, the audience, the flags.
WHY_FACTS: tuple[str, ...] = (
    "conversion.buyers_token",
    "conversion.buyers_code",
    "conversion.buyers_view",
    "conversion.buyers_referral",
    "conversion.attributed_gmv",
    "conversion.evidence_buyers",
    "conversion.refund_share",
    "engagement.unique_audience",
    "flags.staff_orders",
    "flags.collusion",
)


def _breakdowns(
    store: GraphStore, run_id: str, user_ids: list[str]
) -> tuple[dict[str, dict], dict[str, dict]]:
    """Contribution per component and the :data:`WHY_FACTS` of each user (absent = 0)."""
    if not user_ids:
        return {}, {}
    rows = store.read_components(run_id, user_ids=user_ids).to_pylist()
    out: dict[str, dict[str, Any]] = {u: {} for u in user_ids}
    why: dict[str, dict[str, Any]] = {u: dict.fromkeys(WHY_FACTS, 0.0) for u in user_ids}
    for r in rows:
        if r["component"] in COMPONENTS:
            out[r["user_id"]][r["component"]] = r["contribution"]
        elif r["component"] in WHY_FACTS:
            why[r["user_id"]][r["component"]] = r["raw"]
    return out, why


def _pivot_breakdowns(
    store: RunCache, board: RunBoard, rows: np.ndarray, user_ids: list[str]
) -> tuple[dict[str, dict], dict[str, dict]] | None:
    """:func:`_breakdowns` from the run cache's pivoted breakdown (None: not in memory)."""
    table_rows = board.table_rows(rows)
    contribution = store.component_block(board.run.run_id, COMPONENTS, table_rows, "contribution")
    raw = store.component_block(board.run.run_id, WHY_FACTS, table_rows, "raw")
    if contribution is None or raw is None:
        return None
    (c_values, c_present), (w_values, w_present) = contribution, raw
    c_list, c_has = c_values.T.tolist(), c_present.T.tolist()
    w_list, w_has = w_values.T.tolist(), w_present.T.tolist()
    out, why = {}, {}
    for i, user in enumerate(user_ids):
        out[user] = {
            name: _number(c_list[i][j]) for j, name in enumerate(COMPONENTS) if c_has[i][j]
        }
        why[user] = {
            name: _number(w_list[i][j]) if w_has[i][j] else 0.0 for j, name in enumerate(WHY_FACTS)
        }
    return out, why


def _number(value: float) -> float | None:
    return None if value != value else value  # NaN stands for null


def leaderboard(
    store: GraphStore,
    *,
    run_id: str | None = None,
    role: str | None = None,
    community: int | None = None,
    min_score: float | None = None,
    sort: str = "score",
    limit: int = 50,
    after_rank: int | None = None,
    include_staff: bool = False,
    mask: RowMask | None = None,
) -> list[dict[str, Any]]:
    """Leaderboard rows of a run (default: the latest succeeded run).

    Parameters
    ----------
    store : graph.store.GraphStore
    run_id : str, optional
    role : str, optional
        Only this role (then staff roles are shown if asked for by name).
    community : int, optional
        Only this community.
    min_score : float, optional
        Only scores >= this.
    sort : {"score", "rank_change", "falling"} or a component name
        ``score``: best first; ``rank_change``: biggest risers first (new users last);
        ``falling``: only users who fell, biggest fall first;
        a component (``pagerank``, ``reach``, ``conversion``, ...): highest raw value of
        that component first, ties by overall rank.
    limit : int
        At most this many rows (1..10000).
    after_rank : int, optional
        Keyset pagination: rows whose leaderboard ``rank`` is greater.
    include_staff : bool
        Keep employees and KOLs (the config's ``leaderboard.staff_roles``) when no
        ``role`` is given; they are left out by default.
    mask : api.services.board.RowMask, optional
        A further filter over the run's rows (e.g. a segment), ANDed with the others;
        computed once per key and run.

    Returns
    -------
    list of dict
        ``rank`` (position in this leaderboard), ``overall_rank``, ``user_id``,
        ``score``, ``role``, ``community``, ``previous_rank``, ``rank_change``,
        ``breakdown`` (contribution per component) and ``run_id``.

    Raises
    ------
    ConfigError
        Bad ``sort`` or ``limit``.
    NotFoundError
        No such run.
    """
    if sort not in SORT_KEYS:
        raise ConfigError(
            f"The 'sort' parameter must be one of {', '.join(SORT_KEYS)}. Got {sort!r} instead.",
            key="sort",
        )
    if not 1 <= int(limit) <= 10_000:
        raise ConfigError(
            f"The 'limit' parameter must be an int in [1, 10000]. Got {limit!r} instead.",
            key="limit",
        )
    run = resolve_run(store, run_id)
    board = run_board(store, run)
    order = board.order(
        sort,
        role=role,
        community=community,
        min_score=min_score,
        include_staff=include_staff,
        extra=mask,
    )
    start = 0 if after_rank is None else max(0, int(after_rank))
    page = order[start : start + int(limit)]
    rows = board.rows(page, first_position=start + 1)
    ids = [r["user_id"] for r in rows]
    cached = isinstance(store, RunCache) and store.is_finished(run.run_id)
    pivot = _pivot_breakdowns(store, board, page, ids) if cached else None  # type: ignore[arg-type]
    breakdown, why = pivot or _breakdowns(store, run.run_id, ids)
    for r in rows:
        r["breakdown"] = breakdown.get(r["user_id"], {})
        r["why"] = why.get(r["user_id"], {})
        r["run_id"] = run.run_id
    return rows


def user_profile(store: GraphStore, user_id: str, run_id: str | None = None) -> dict[str, Any]:
    """One user's score, rank, rank change and full breakdown in a run.

    Returns
    -------
    dict
        ``user_id``, ``run_id``, ``rank``, ``score``, ``role``, ``community``,
        ``previous_rank``, ``rank_change``, ``components`` (list of ``component``,
        ``weight``, ``raw``, ``normalized``, ``contribution``) and ``details``
        (the signals behind each component, e.g. ``engagement.comments_received``).

    Raises
    ------
    NotFoundError
        Unknown run, or the user is not in the run.
    """
    run = resolve_run(store, run_id)
    row = store.read_scores(run.run_id, user_ids=[user_id])
    if row.num_rows == 0:
        raise NotFoundError(
            f"User {user_id!r} is not in ranking run {run.run_id}; check the id "
            "or run `koc rank` after ingesting their events.",
            user_id=user_id,
            run_id=run.run_id,
        )
    r = _with_changes(store, row, previous_run(store, run)).to_pylist()[0]
    weights: Mapping[str, float] = run.params.get("weights", {}) if run.params else {}
    comps, details = [], {}
    for c in store.read_components(run.run_id, user_ids=[user_id]).to_pylist():
        if c["component"] in COMPONENTS:
            comps.append(
                {
                    "component": c["component"],
                    "weight": weights.get(c["component"]),
                    "raw": c["raw"],
                    "normalized": c["normalized"],
                    "contribution": c["contribution"],
                }
            )
        else:
            details[c["component"]] = c["raw"]
    comps.sort(key=lambda c: COMPONENTS.index(c["component"]))
    return {
        "user_id": user_id,
        "run_id": run.run_id,
        "rank": r["rank"],
        "score": r["score"],
        "role": r["role"],
        "community": r["community"],
        "previous_rank": r["previous_rank"],
        "rank_change": r["rank_change"],
        "components": comps,
        "details": details,
    }


def rank_changes(
    store: GraphStore,
    run_id: str | None = None,
    limit: int = 20,
    *,
    against: str | None = None,
    include_staff: bool = False,
) -> dict[str, Any]:
    """Rising and falling users between a run and an earlier one (``koc runs diff``).

    Parameters
    ----------
    store : graph.store.GraphStore
    run_id : str, optional
        The newer run (default: latest succeeded).
    limit : int
        Rows in each of ``rising`` and ``falling``.
    against : str, optional
        The older run (default: the succeeded run just before ``run_id``).
    include_staff : bool
        Keep staff roles (left out by default, as on the leaderboard).

    Returns
    -------
    dict
        ``run_id``, ``previous_run_id`` (None when there is nothing to compare),
        ``rising`` and ``falling`` (rows of ``user_id``, ``role``, ``rank``,
        ``previous_rank``, ``rank_change``, ``score``), ``entered`` (users new to
        the run) and ``compared`` (users ranked in both).
    """
    run = resolve_run(store, run_id)
    prev = store.get_run(against) if against is not None else previous_run(store, run)
    out: dict[str, Any] = {
        "run_id": run.run_id,
        "previous_run_id": None if prev is None else prev.run_id,
        "rising": [],
        "falling": [],
        "entered": 0,
        "compared": 0,
    }
    if prev is None:
        return out
    board = run_board(store, run)
    if prev.run_id != board.previous_run_id:  # compared with an older run than the last
        board = _new_board(store, run, prev)
    keep = board.filter_mask(role=None, community=None, min_score=None, include_staff=include_staff)
    known = board.changed if keep is None else board.changed & keep
    total = board.n if keep is None else int(keep.sum())
    out["compared"] = int(known.sum())
    out["entered"] = total - out["compared"]
    cols = ["user_id", "role", "rank", "previous_rank", "rank_change", "score"]
    rose, fell = board.sort_order("rank_change"), board.sort_order("falling")
    rose = rose[board.rank_change[rose] > 0]
    if keep is not None:
        rose, fell = rose[keep[rose]], fell[keep[fell]]
    for key, rows in (("rising", rose[: int(limit)]), ("falling", fell[: int(limit)])):
        out[key] = [
            {c: (r["overall_rank"] if c == "rank" else r[c]) for c in cols}
            for r in board.rows(rows)
        ]
    return out
