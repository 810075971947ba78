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
    """Add ``previous_rank`` and ``rank_change`` against ``prev`` (previous - current;
    null for users ``prev`` did not rank, or everywhere when there is no ``prev``)."""
    n = scores.num_rows
    if prev is None:
        return scores.append_column("previous_rank", pa.nulls(n, pa.int32())).append_column(
            "rank_change", pa.nulls(n, pa.int32())
        )
    # a profile or one page needs a few previous ranks, not the whole previous run
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


def _filter(
    scores: pa.Table,
    *,
    role: str | None,
    community: int | None,
    min_score: float | None,
    staff: tuple[str, ...],
    include_staff: bool,
) -> pa.Table:
    mask = pc.is_valid(scores.column("user_id"))
    if role is not None:
        mask = pc.and_(mask, pc.equal(scores.column("role"), role))
    elif not include_staff and staff:
        mask = pc.and_(mask, pc.invert(pc.is_in(scores.column("role"), pa.array(staff))))
    if community is not None:
        mask = pc.and_(mask, pc.equal(scores.column("community"), community))
    if min_score is not None:
        mask = pc.and_(mask, pc.greater_equal(scores.column("score"), min_score))
    return scores.filter(pc.fill_null(mask, False))


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
    scores = _filter(
        store.read_scores(run.run_id),
        role=role,
        community=community,
        min_score=min_score,
        staff=_staff_roles(run),
        include_staff=include_staff,
    )
    scores = _with_changes(store, scores, previous_run(store, run))
    if sort in ("rank_change", "falling"):
        direction = "descending" if sort == "rank_change" else "ascending"
        if sort == "falling":  # fallers only (new users and risers are not falling)
            scores = scores.filter(pc.fill_null(pc.less(scores.column("rank_change"), 0), False))
        order = pc.sort_indices(
            scores,
            sort_keys=[("rank_change", direction, "at_end"), ("rank", "ascending")],
        )
        scores = scores.take(order)
    elif sort in COMPONENTS:
        comp = store.read_components(run.run_id, component=sort)
        pos = pc.index_in(scores.column("user_id"), value_set=comp.column("user_id"))
        scores = scores.append_column("_sort", comp.column("raw").take(pos))
        order = pc.sort_indices(
            scores, sort_keys=[("_sort", "descending", "at_end"), ("rank", "ascending")]
        )
        scores = scores.take(order).drop_columns(["_sort"])
    scores = scores.append_column(
        "position", pa.array(np.arange(1, scores.num_rows + 1, dtype=np.int32))
    )
    if after_rank is not None:
        scores = scores.filter(pc.greater(scores.column("position"), int(after_rank)))
    rows = scores.slice(0, int(limit)).to_pylist()
    breakdown, why = _breakdowns(store, run.run_id, [r["user_id"] for r in rows])
    return [
        {
            "rank": r["position"],
            "overall_rank": r["rank"],
            "user_id": r["user_id"],
            "score": r["score"],
            "role": r["role"],
            "community": r["community"],
            "previous_rank": r["previous_rank"],
            "rank_change": r["rank_change"],
            "breakdown": breakdown.get(r["user_id"], {}),
            "why": why.get(r["user_id"], {}),
            "run_id": run.run_id,
        }
        for r in rows
    ]


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
    scores = _filter(
        store.read_scores(run.run_id),
        role=None,
        community=None,
        min_score=None,
        staff=_staff_roles(run),
        include_staff=include_staff,
    )
    scores = _with_changes(store, scores, prev)
    known = scores.filter(pc.is_valid(scores.column("rank_change")))
    out["entered"] = scores.num_rows - known.num_rows
    out["compared"] = known.num_rows
    cols = ["user_id", "role", "rank", "previous_rank", "rank_change", "score"]
    for key, direction, cmp in (
        ("rising", "descending", pc.greater),
        ("falling", "ascending", pc.less),
    ):
        moved = known.filter(cmp(known.column("rank_change"), 0))
        order = pc.sort_indices(
            moved, sort_keys=[("rank_change", direction), ("rank", "ascending")]
        )
        out[key] = moved.take(order).slice(0, int(limit)).select(cols).to_pylist()
    return out
