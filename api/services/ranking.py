"""Ranking orchestration: store -> snapshot -> metrics -> KOC score -> saved run.

This is the one place where the ranking pipeline does I/O. The metrics themselves
are pure functions in :mod:`influence`; the CLI (``koc rank``/``top``/``runs``) and
the HTTP API call the functions here and only format their results.

Ranks
-----
A run stores, per user, the *overall* rank (1 = highest score among all users,
equal scores ordered by ``user_id``). Leaderboards filter that list (role,
community, minimum score; staff left out unless asked) and number the rows
1, 2, ... again (``rank``), keeping ``overall_rank``. ``rank_change`` is the
previous succeeded run's overall rank minus this run's (positive = rising; ``None``
for a user the previous run did not rank).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from graph.errors import ConfigError, NotFoundError, ScoringError
from graph.events import EDGE_TYPE_CODES, EDGE_TYPES, EventType, Role
from graph.snapshot import GraphSnapshot, build_snapshot
from graph.store import GraphStore, RunRecord
from influence.communities import leiden_communities
from influence.config import COMPONENTS, ENGAGEMENT_SIGNALS, ScoreConfig, load_score_config
from influence.engagement import (
    US_PER_DAY,
    attribute_orders,
    conversion_totals,
    engagement_signals,
    money_units,
    node_index,
    resolve_referral_codes,
    resolve_tokens,
)
from influence.pagerank import pagerank
from influence.reach import reach_hyperanf
from influence.score import ScoreResult, koc_score, score_tables
from influence.spend import rfm_from_spend, rfm_value

__all__ = [
    "Progress",
    "Ranking",
    "compute_ranking",
    "conversion_signals",
    "run_ranking",
    "leaderboard",
    "user_profile",
    "rank_changes",
    "resolve_run",
    "previous_run",
    "SORT_KEYS",
]

#: ``progress(step, done, total)``: called before each pipeline step (``done`` steps finished).
Progress = Callable[[str, int, int], None]

STEPS: tuple[str, ...] = (
    "snapshot",
    "pagerank",
    "reach",
    "communities",
    "engagement",
    "spend",
    "score",
)

#: Leaderboard sort keys.
SORT_KEYS: tuple[str, ...] = ("score", "rank_change")

_UNITS = 10_000  # money units per currency unit (DECIMAL(20, 4))


@dataclass
class Ranking:
    """Everything one ranking computed, before it is stored.

    Attributes
    ----------
    node_ids, roles : numpy.ndarray of object
    communities : numpy.ndarray of int32 or None
    result : influence.score.ScoreResult
    details : dict of str to numpy.ndarray
        Signals behind the components (``engagement.comments_received``, ...).
    timings : dict of str to float
        Seconds per step.
    row_counts : dict of str to int
    """

    node_ids: np.ndarray
    roles: np.ndarray
    communities: np.ndarray | None
    result: ScoreResult
    details: dict[str, np.ndarray]
    timings: dict[str, float] = field(default_factory=dict)
    row_counts: dict[str, int] = field(default_factory=dict)


def _coerce_config(config: ScoreConfig | str | Path | None) -> ScoreConfig:
    if isinstance(config, ScoreConfig):
        return config
    return load_score_config(config)


def _us(dt: datetime | None) -> int | None:
    return None if dt is None else int(dt.timestamp() * 1_000_000)


def _ts_us(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return np.asarray(
        column.cast(pa.timestamp("us", tz="UTC")).cast(pa.int64()).to_numpy(), dtype=np.int64
    )


def _reach(snapshot: GraphSnapshot, config: ScoreConfig) -> np.ndarray:
    """Distinct users reached within ``hops`` hops (HyperANF estimate)."""
    est = np.asarray(
        reach_hyperanf(
            snapshot,
            hops=config.reach.hops,
            registers=config.reach.registers,
            seed=config.reach.seed,
        ),
        dtype=np.float64,
    )
    return est[:, -1] if est.ndim == 2 else est


def _communities(snapshot: GraphSnapshot, config: ScoreConfig) -> np.ndarray | None:
    if not config.communities.enabled:
        return None
    return np.asarray(
        leiden_communities(
            snapshot,
            resolution=config.communities.resolution,
            seed=config.communities.seed,
            n_iterations=config.communities.iterations,
        ),
        dtype=np.int32,
    )


def _roles(store: GraphStore, node_ids: np.ndarray) -> np.ndarray:
    # effective roles now (roster / KOL-list periods, user records, confident inferences)
    from api.services.roles import node_roles

    return node_roles(store, node_ids)


def conversion_signals(
    store: GraphStore,
    snapshot: GraphSnapshot,
    config: ScoreConfig,
    start: datetime | None,
    end: datetime | None,
    counts: dict[str, int],
) -> dict[str, np.ndarray]:
    """Engagement signals and attributed conversions per node (see :mod:`influence.engagement`).

    Reads the window's orders, shares and (all) refunds; views and referrals come from
    ``snapshot``. ``counts`` receives row counts. Returns the arrays of
    :func:`influence.engagement.engagement_signals` plus ``conversions`` and
    ``attributed_gmv_units`` (exact, units of 10**-4).
    """
    n = snapshot.n_nodes
    orders = store.read_events(EventType.ORDER, start, end)
    shares = store.read_events(EventType.SHARE, start, end)
    refunds = store.read_events(EventType.REFUND)  # refunds of window orders, whenever made
    counts.update(orders=orders.num_rows, shares=shares.num_rows, refunds=refunds.num_rows)

    buyer = node_index(snapshot.node_ids, orders.column("buyer"))
    order_ts = _ts_us(orders.column("ts"))
    amount = money_units(orders.column("amount"))
    refunded = np.zeros(orders.num_rows, dtype=np.int64)
    if refunds.num_rows and orders.num_rows:
        per_order = refunds.group_by("order_id").aggregate([("amount", "sum")])
        pos = np.asarray(
            pc.index_in(orders.column("order_id"), value_set=per_order.column("order_id"))
            .fill_null(-1)
            .to_numpy(zero_copy_only=False),
            dtype=np.int64,
        )
        ref_units = money_units(per_order.column("amount_sum"))
        hit = pos >= 0
        refunded[hit] = ref_units[pos[hit]]
    net = amount - np.minimum(refunded, amount)

    share_sharer = node_index(snapshot.node_ids, shares.column("sharer"))
    share_ts = _ts_us(shares.column("ts"))
    token_sharer = None
    if config.attribution.use_token:
        tokens = orders.column("attribution_token")
        token_sharer = resolve_tokens(
            tokens, order_ts, shares.column("content_id"), share_sharer, share_ts
        )
        code = resolve_referral_codes(
            tokens, snapshot.node_ids, config.attribution.referral_code_prefix
        )
        token_sharer = np.where(token_sharer >= 0, token_sharer, code)
    is_view = snapshot.etype == EDGE_TYPE_CODES[EventType.VIEW]
    is_ref = snapshot.etype == EDGE_TYPE_CODES[EventType.REFERRAL]
    attribution = attribute_orders(
        buyer=buyer,
        ts=order_ts,
        token_sharer=token_sharer,
        view_sharer=snapshot.src[is_view],
        view_viewer=snapshot.dst[is_view],
        view_ts=snapshot.ts[is_view],
        referrer=snapshot.src[is_ref],
        referee=snapshot.dst[is_ref],
        referral_ts=snapshot.ts[is_ref],
        view_window_us=int(config.attribution.view_window_days * US_PER_DAY),
        referral_window_us=int(config.attribution.referral_window_days * US_PER_DAY),
    )
    counts["orders_attributed"] = int((attribution.credited >= 0).sum())
    signals = engagement_signals(
        n,
        src=snapshot.src,
        dst=snapshot.dst,
        etype=snapshot.etype,
        ts=snapshot.ts,
        share_sharer=share_sharer[share_sharer >= 0],
        buyer=buyer,
        order_ts=order_ts,
    )
    return {**signals, **conversion_totals(n, attribution, net)}


def compute_ranking(
    store: GraphStore,
    config: ScoreConfig | str | Path | None = None,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    progress: Progress | None = None,
) -> Ranking:
    """Compute every user's KOC score over the window ``start <= ts < end`` (no writes).

    Parameters
    ----------
    store : graph.store.GraphStore
    config : ScoreConfig, path or None
        Scoring configuration (None: the defaults).
    start, end : datetime, optional
        Data window; open when omitted. Decay and recency are measured from ``end``
        (or the store's watermark).
    progress : callable, optional
        ``progress(step, done, total)`` before each step.

    Returns
    -------
    Ranking

    Raises
    ------
    ScoringError
        The store holds no users.
    """
    cfg = _coerce_config(config)
    timings: dict[str, float] = {}
    counts: dict[str, int] = {}
    now = end or store.watermark() or datetime.now(UTC)
    clock = time.perf_counter()

    def step(name: str) -> None:
        nonlocal clock
        t = time.perf_counter()
        if timings or name != STEPS[0]:
            timings[_current[0]] = round(t - clock, 4)
        clock = t
        _current[0] = name
        if progress is not None:
            progress(name, STEPS.index(name), len(STEPS))

    _current = [STEPS[0]]
    step("snapshot")
    weights = {t.value: cfg.graph.type_weights.get(t.value, 0.0) for t in EDGE_TYPES}
    snapshot = build_snapshot(
        store,
        start=start,
        end=end,
        type_weights=weights,
        half_life_days=cfg.graph.half_life_days,
        now=now,
    )
    n = snapshot.n_nodes
    if n == 0:
        raise ScoringError("The store holds no users yet; run `koc ingest` first.")
    counts.update(users=n, edges=snapshot.n_edges)

    step("pagerank")
    pr = pagerank(
        snapshot, alpha=cfg.pagerank.alpha, tol=cfg.pagerank.tol, max_iter=cfg.pagerank.max_iter
    )
    counts["pagerank_iterations"] = int(pr.iterations)

    step("reach")
    reach = _reach(snapshot, cfg)

    step("communities")
    communities = _communities(snapshot, cfg)

    step("engagement")
    signals = conversion_signals(store, snapshot, cfg, start, end, counts)
    ew = cfg.engagement
    engagement = np.zeros(n, dtype=np.float64)
    for name in ENGAGEMENT_SIGNALS:
        engagement += float(getattr(ew, name)) * signals[name]

    step("spend")
    rfm = rfm_from_spend(store.read_spend(start, end), snapshot.node_ids, _us(now) or 0)
    spend = rfm_value(
        rfm, recency=cfg.spend.recency, frequency=cfg.spend.frequency, monetary=cfg.spend.monetary
    )

    step("score")
    raw = {
        "pagerank": pr.scores,
        "reach": reach,
        "conversion": signals["attributed_gmv_units"] / _UNITS,
        "conversion_rate": signals["conversions"]
        / (signals["unique_audience"] + cfg.conversion.rate_prior),
        "engagement": engagement,
        "spend": spend,
    }
    # PageRank gives every node the teleport share; only users someone else acted on are active
    indegree_rev = np.bincount(snapshot.src[snapshot.src != snapshot.dst], minlength=n)
    # HyperLogLog estimates are not exactly 0 for an empty ball: below half a user is nobody
    active = {"pagerank": indegree_rev > 0, "reach": reach >= 0.5}
    result = koc_score(raw, {c: getattr(cfg.weights, c) for c in COMPONENTS}, active=active)
    roles = _roles(store, snapshot.node_ids)
    details: dict[str, np.ndarray] = {f"engagement.{k}": signals[k] for k in ENGAGEMENT_SIGNALS}
    details["conversion.conversions"] = signals["conversions"]
    details["conversion.token_gmv"] = signals["token_gmv_units"] / _UNITS
    details["conversion.attributed_gmv"] = signals["attributed_gmv_units"] / _UNITS
    details["spend.recency_days"] = rfm.recency_days
    details["spend.frequency"] = rfm.frequency
    details["spend.monetary"] = rfm.monetary_units / _UNITS
    timings[_current[0]] = round(time.perf_counter() - clock, 4)
    timings["total"] = round(sum(timings.values()), 4)
    return Ranking(
        node_ids=snapshot.node_ids,
        roles=roles,
        communities=communities,
        result=result,
        details=details,
        timings=timings,
        row_counts=counts,
    )


#: former private name, kept for callers that imported it (``api.services.roles``)
_conversion = conversion_signals


def _new_run_id(now: datetime) -> str:
    return f"r{now:%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"


def run_ranking(
    store: GraphStore,
    config: ScoreConfig | str | Path | None = None,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    progress: Progress | None = None,
) -> RunRecord:
    """Rank every user and store the result as a new run (``koc rank``).

    The run is saved as ``running`` first, then ``succeeded`` with its scores and
    breakdown, or ``failed`` with the error (which is re-raised).

    Parameters
    ----------
    store, config, start, end, progress
        As for :func:`compute_ranking`.

    Returns
    -------
    graph.store.RunRecord
        With ``timings`` (seconds per step, plus ``save``), ``row_counts`` and
        ``params`` (the full config and normalised weights).
    """
    cfg = _coerce_config(config)
    created = datetime.now(UTC)
    run = RunRecord(
        run_id=_new_run_id(created),
        created_at=created,
        config_hash=cfg.digest(),
        window_start=start,
        window_end=end,
        watermark=store.watermark(),
        params={"config": cfg.model_dump(mode="json"), "weights": cfg.weights.normalized()},
    )
    store.save_run(run)
    try:
        ranking = compute_ranking(store, cfg, start=start, end=end, progress=progress)
        t0 = time.perf_counter()
        scores, components = score_tables(
            ranking.result,
            ranking.node_ids,
            roles=ranking.roles,
            communities=ranking.communities,
            details=ranking.details,
        )
        run.status = "succeeded"
        run.row_counts = {**ranking.row_counts, "scores": scores.num_rows}
        run.timings = dict(ranking.timings)
        store.save_run(run, scores, components)
        run.timings["save"] = round(time.perf_counter() - t0, 4)
        run.timings["total"] = round(run.timings["total"] + run.timings["save"], 4)
        store.save_run(run)
    except BaseException as exc:  # record the failure, whatever it was, then re-raise
        run.status = "failed"
        run.error = f"{type(exc).__name__}: {exc}"
        store.save_run(run)
        raise
    return run


# --- reading runs --------------------------------------------------------------------------
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


def _with_changes(store: GraphStore, run: RunRecord, scores: pa.Table) -> pa.Table:
    """Add ``previous_rank`` and ``rank_change`` (previous - current; null when new)."""
    prev = previous_run(store, run)
    n = scores.num_rows
    if prev is None:
        return scores.append_column("previous_rank", pa.nulls(n, pa.int32())).append_column(
            "rank_change", pa.nulls(n, pa.int32())
        )
    before = store.read_scores(prev.run_id)
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


def _breakdowns(store: GraphStore, run_id: str, user_ids: list[str]) -> dict[str, dict]:
    if not user_ids:
        return {}
    rows = store.read_components(run_id, user_ids=user_ids).to_pylist()
    out: dict[str, dict[str, Any]] = {u: {} for u in user_ids}
    for r in rows:
        if r["component"] in COMPONENTS:
            out[r["user_id"]][r["component"]] = r["contribution"]
    return out


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
    sort : {"score", "rank_change"}
        ``score``: best first; ``rank_change``: biggest risers first (new users last).
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
    scores = _with_changes(store, run, scores)
    if sort == "rank_change":
        order = pc.sort_indices(
            scores,
            sort_keys=[("rank_change", "descending", "at_end"), ("rank", "ascending")],
        )
        scores = scores.take(order)
    scores = scores.append_column(
        "position", pa.array(np.arange(1, scores.num_rows + 1, dtype=np.int32))
    )
    if after_rank is not None:
        scores = scores.filter(pc.greater(scores.column("position"), int(after_rank)))
    rows = scores.slice(0, int(limit)).to_pylist()
    breakdown = _breakdowns(store, run.run_id, [r["user_id"] for r in rows])
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
    r = _with_changes(store, run, row).to_pylist()[0]
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
    before = store.read_scores(prev.run_id)
    pos = pc.index_in(scores.column("user_id"), value_set=before.column("user_id"))
    previous = before.column("rank").take(pos)
    scores = scores.append_column("previous_rank", previous).append_column(
        "rank_change", pc.subtract(previous, scores.column("rank"))
    )
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
