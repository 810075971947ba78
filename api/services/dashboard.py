"""What the marketers' web pages show beyond the API's own answers.

The pages (:mod:`api.http.routes.web`) call these functions and only render: the
business facts of leaderboard rows (buyers and GMV driven, reach, referrals, the
role now and how sure), communities with their top spreaders, and a user's ego
network. Each works on values the API already computes (a ranking run's scores and
signals, the profile index, the reach snapshot); nothing here renders HTML.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from api.services import ranking
from api.services.roles import current_roles
from graph.events import EDGE_TYPE_CODES
from graph.snapshot import GraphSnapshot
from graph.store import GraphStore

__all__ = ["row_facts", "communities", "ego_network", "FACT_SIGNALS"]

#: the run signals behind each business fact, first present wins
FACT_SIGNALS: dict[str, tuple[str, ...]] = {
    "buyers": ("conversion.distinct_buyers", "conversion.buyers", "conversion.conversions"),
    "gmv": ("conversion.net_gmv", "conversion.attributed_gmv"),
    "audience": ("engagement.unique_audience",),
}


def _first(details: dict[str, Any], names: tuple[str, ...]) -> Any:
    for name in names:
        if details.get(name) is not None:
            return details[name]
    return None


def row_facts(
    store: GraphStore, rows: list[dict[str, Any]], facts: Any | None = None
) -> list[dict[str, Any]]:
    """The business facts of each leaderboard row, in row order.

    Parameters
    ----------
    store : GraphStore
        The store (the run's signals, current roles).
    rows : list of dict
        Rows of :func:`api.services.ranking.leaderboard` (``user_id``, ``run_id``).
    facts : ProfileFacts, optional
        The profile index (:class:`api.services.facts.FactsCache`): referral counts
        from memory; without it referrals are left out.

    Returns
    -------
    list of dict
        ``buyers`` (distinct buyers driven), ``gmv`` (GMV driven, net of refunds, as
        a Decimal), ``reach`` (estimated users reached within 3 hops), ``audience``,
        ``referrals`` (direct referrals) and ``downline`` (users in the downline),
        and ``role_now`` / ``role_source`` / ``confidence`` (the effective role now,
        which may differ from the run's ``role``).
    """
    now = current_roles(store, [r["user_id"] for r in rows])
    out = []
    for r in rows:
        profile = ranking.user_profile(store, r["user_id"], r["run_id"])
        details = profile.get("details") or {}
        raw = {c["component"]: c["raw"] for c in profile.get("components", [])}
        gmv = _first(details, FACT_SIGNALS["gmv"])
        role = now.get(r["user_id"], {})
        node = facts.node(r["user_id"]) if facts is not None else None
        referrals = facts.referral_summary(node) if facts is not None and node is not None else None
        out.append(
            {
                "buyers": _first(details, FACT_SIGNALS["buyers"]),
                "gmv": None if gmv is None else Decimal(str(gmv)),
                "reach": raw.get("reach"),
                "audience": _first(details, FACT_SIGNALS["audience"]),
                "referrals": None if referrals is None else referrals["direct_referrals"],
                "downline": None if referrals is None else referrals["downline_users"],
                "role_now": role.get("role", r.get("role")),
                "role_source": role.get("source"),
                "confidence": role.get("confidence"),
            }
        )
    return out


def communities(
    store: GraphStore, run_id: str | None = None, *, top: int = 5, limit: int = 50
) -> dict[str, Any]:
    """The communities of a run, largest first, each with its top spreaders by score.

    Returns
    -------
    dict
        ``run_id`` and ``communities``: ``community``, ``users``, ``mean_score`` and
        ``top`` (``user_id``, ``score``, ``rank``, ``role`` of its ``top`` best-ranked
        members), for the ``limit`` largest communities.
    """
    run = ranking.resolve_run(store, run_id)
    scores = store.read_scores(run.run_id)
    scores = scores.filter(pc.is_valid(scores.column("community")))
    if scores.num_rows == 0:
        return {"run_id": run.run_id, "communities": []}
    grouped = (
        scores.group_by("community")
        .aggregate([("user_id", "count"), ("score", "mean")])
        .sort_by([("user_id_count", "descending"), ("community", "ascending")])
        .slice(0, limit)
    )
    wanted = grouped.column("community")
    members = scores.filter(pc.is_in(scores.column("community"), value_set=wanted)).sort_by(
        [("community", "ascending"), ("rank", "ascending")]
    )
    by_group: dict[int, list[dict[str, Any]]] = {}
    for row in members.select(["community", "user_id", "score", "rank", "role"]).to_pylist():
        best = by_group.setdefault(row["community"], [])
        if len(best) < top:
            best.append(row)
    return {
        "run_id": run.run_id,
        "communities": [
            {"community": c, "users": n, "mean_score": m, "top": by_group.get(c, [])}
            for c, n, m in zip(
                grouped.column("community").to_pylist(),
                grouped.column("user_id_count").to_pylist(),
                grouped.column("score_mean").to_pylist(),
                strict=True,
            )
        ],
    }


_TYPE_NAMES = {code: name.value for name, code in EDGE_TYPE_CODES.items()}


def ego_network(snapshot: GraphSnapshot, user_id: str, *, limit: int = 24) -> dict[str, Any]:
    """The user's strongest direct ties in ``snapshot``, for a picture.

    Edges point from influencer to influenced (:mod:`graph.events`): ``out`` ties
    are people the user influenced (they viewed, forwarded, bought through, or
    were referred by the user), ``in`` ties people who influenced the user.

    Returns
    -------
    dict
        ``user_id``, ``found`` (the user is in the snapshot), ``ties`` (total
        distinct neighbours) and ``neighbours``: up to ``limit`` dicts of
        ``user_id``, ``weight`` (summed edge weight), ``direction`` (``out``,
        ``in`` or ``both``) and ``types`` (edge types seen), strongest first.
    """
    hit = np.flatnonzero(snapshot.node_ids == user_id)
    if hit.size == 0:
        return {"user_id": user_id, "found": False, "ties": 0, "neighbours": []}
    me = int(hit[0])
    out_mask, in_mask = snapshot.src == me, snapshot.dst == me
    other = np.concatenate([snapshot.dst[out_mask], snapshot.src[in_mask]])
    direction = np.concatenate(
        [np.ones(int(out_mask.sum()), np.int8), np.full(int(in_mask.sum()), 2, np.int8)]
    )
    weight = np.concatenate([snapshot.weight[out_mask], snapshot.weight[in_mask]])
    etype = np.concatenate([snapshot.etype[out_mask], snapshot.etype[in_mask]])
    keep = other != me
    other, direction, weight, etype = other[keep], direction[keep], weight[keep], etype[keep]
    if other.size == 0:
        return {"user_id": user_id, "found": True, "ties": 0, "neighbours": []}
    uniq, inverse = np.unique(other, return_inverse=True)
    total = np.bincount(inverse, weights=weight)
    dirs = np.zeros(uniq.size, np.int8)
    np.bitwise_or.at(dirs, inverse, direction)
    best = np.argsort(-total, kind="stable")[:limit]
    table = pa.table({"n": inverse, "t": etype}).group_by("n").aggregate([("t", "distinct")])
    types_of = dict(
        zip(table.column("n").to_pylist(), table.column("t_distinct").to_pylist(), strict=True)
    )
    names = {1: "out", 2: "in", 3: "both"}
    return {
        "user_id": user_id,
        "found": True,
        "ties": int(uniq.size),
        "neighbours": [
            {
                "user_id": str(snapshot.node_ids[uniq[i]]),
                "weight": float(total[i]),
                "direction": names[int(dirs[i])],
                "types": sorted(_TYPE_NAMES.get(int(t), str(t)) for t in types_of[int(i)]),
            }
            for i in best
        ],
    }
