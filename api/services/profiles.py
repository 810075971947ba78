"""The user profile of ``GET /v1/users/{id}``, assembled from the services.

Score, rank, rank change and breakdown come from
:func:`api.services.ranking.user_profile`; the role with its source and
confidence from :func:`graph.roles.role_at`; the rank history from the stored
results of recent runs; referral counts from :mod:`referral.service`. The
in-memory :class:`api.services.facts.ProfileFacts` answer the last three for every user
at once when they are current. No formula lives here: this module only gathers.
"""

from __future__ import annotations

from typing import Any

from api.services import ranking
from api.services.facts import HISTORY_RUNS, ProfileFacts, history_runs
from api.services.store_view import store_view
from graph.errors import NotFoundError
from graph.store import GraphStore
from referral import service

__all__ = [
    "HISTORY_RUNS",
    "REFERRAL_LEVELS",
    "user_view",
    "rank_history",
    "referral_summary",
    "referral_tree",
    "require_user",
]

#: Referral levels counted in a profile (the commission policy's maximum depth).
REFERRAL_LEVELS = 3


def rank_history(store: GraphStore, user_id: str, runs: int = HISTORY_RUNS) -> list[dict[str, Any]]:
    """The user's rank and score in each of the latest ``runs`` succeeded runs that
    ranked them, newest first (point reads; :class:`api.services.facts.ProfileFacts` answers
    the same from memory)."""
    point = getattr(store, "wrapped", store)  # don't load whole old runs into the API cache
    out = []
    for run in history_runs(store, runs):
        row = point.read_scores(run.run_id, user_ids=[user_id]).to_pylist()
        if row:
            out.append(
                {
                    "run_id": run.run_id,
                    "created_at": run.created_at,
                    "rank": row[0]["rank"],
                    "score": row[0]["score"],
                }
            )
    return out


def referral_summary(
    store: GraphStore, user_id: str, levels: int = REFERRAL_LEVELS
) -> dict[str, Any]:
    """Direct referrer and downline counts and GMV (from :func:`referral.service.referral_tree`),
    without the commission amounts, which need the ``finance`` scope."""
    with store_view(store) as view:
        totals = service.referral_counts(view, user_id, levels)
    return {
        "referred_by": totals["referrer"],
        "direct_referrals": totals["direct_referees"],
        "downline_users": totals["downline_users"],
        "downline_buyers": totals["downline_buyers"],
        "downline_gmv": totals["downline_gmv"],
        "levels": levels,
    }


def _role(store: GraphStore, user_id: str, fallback: str | None) -> dict[str, Any]:
    if store.tables.holds_graph:  # role history joins the graph's users in SQL
        from graph.roles import role_at

        row = role_at(store.tables.cursor().conn, [user_id]).to_pylist()[0]
        return {
            "role": row["role"],
            "source": row["source"],
            "inferred": row["source"] == "inferred",
            "confidence": row["confidence"],
            "model_version": row.get("model_version"),
        }
    return _declared(fallback)


def _declared(role: str | None) -> dict[str, Any]:
    return {"role": role, "source": "declared", "inferred": False, "confidence": None}


def user_view(
    store: GraphStore,
    user_id: str,
    run_id: str | None = None,
    facts: ProfileFacts | None = None,
) -> dict[str, Any]:
    """Everything ``GET /v1/users/{id}`` shows about one user.

    ``facts`` (from :class:`api.services.facts.FactsCache`) answer the role, rank history
    and referral counts from memory; without them, or for a user they do not know
    yet, the store is queried.

    Raises
    ------
    graph.errors.NotFoundError
        No run yet, unknown run, or the user is not in the run.
    """
    profile = ranking.user_profile(store, user_id, run_id)
    v = facts.node(user_id) if facts is not None else None
    if facts is None or v is None:
        return {
            **profile,
            "role_info": _role(store, user_id, profile.get("role")),
            "rank_history": rank_history(store, user_id),
            "referrals": referral_summary(store, user_id),
        }
    return {
        **profile,
        "role_info": facts.role(v) or _declared(profile.get("role")),
        "rank_history": facts.rank_history(v),
        "referrals": facts.referral_summary(v),
    }


def require_user(store: GraphStore, user_id: str) -> None:
    """Raise NotFoundError unless the store knows ``user_id`` (declared or seen in an event)."""
    found: object
    if store.tables.holds_graph:  # the embedded store: one indexed SQL lookup
        found = (
            store.tables.cursor()
            .conn.execute("SELECT 1 FROM users WHERE user_id = ?", [user_id])
            .fetchone()
        )
    else:
        found = user_id in set(store.node_ids().tolist())
    if not found:
        raise NotFoundError(f"No user {user_id!r} in the store; check the id.", user_id=user_id)


def referral_tree(store: GraphStore, user_id: str, levels: int = REFERRAL_LEVELS) -> dict[str, Any]:
    """:func:`referral.service.referral_tree` with downline totals; 404 for unknown users.

    Raises
    ------
    NotFoundError
        Unknown user.
    """
    require_user(store, user_id)
    tree = service.referral_tree(store, user_id, levels)
    totals = service.tree_totals(tree)
    return {
        **tree,
        "downline_users": totals["downline_users"],
        "downline_gmv": totals["downline_gmv"],
    }
