"""The user profile of ``GET /v1/users/{id}``, assembled from the services.

Score, rank, rank change and breakdown come from
:func:`api.services.ranking.user_profile`; the role with its source and
confidence from :func:`graph.roles.role_at`; the rank history from the stored
results of recent runs; referral counts from :mod:`referral.service`. No
formula lives here: this module only gathers.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from api.cursors import store_view
from api.services import ranking
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

#: Recent runs shown in a profile's rank history.
HISTORY_RUNS = 10
#: Referral levels counted in a profile (the commission policy's maximum depth).
REFERRAL_LEVELS = 3


def rank_history(store: GraphStore, user_id: str, runs: int = HISTORY_RUNS) -> list[dict[str, Any]]:
    """The user's rank and score in each of the latest ``runs`` succeeded runs, newest first."""
    out = []
    for run in store.list_runs(limit=runs * 3):
        if run.status != "succeeded":
            continue
        row = store.read_scores(run.run_id, user_ids=[user_id]).to_pylist()
        if row:
            out.append(
                {
                    "run_id": run.run_id,
                    "created_at": run.created_at,
                    "rank": row[0]["rank"],
                    "score": row[0]["score"],
                }
            )
        if len(out) >= runs:
            break
    return out


def referral_summary(
    store: GraphStore, user_id: str, levels: int = REFERRAL_LEVELS
) -> dict[str, Any]:
    """Direct referrer and downline counts and GMV (:func:`referral.service.referral_stats`),
    without the commission amounts, which need the ``finance`` scope."""
    with store_view(store) as view:
        stats = service.referral_stats(view, user_id, levels=levels)
    return {
        "referred_by": stats["referrer"],
        "direct_referrals": stats["direct_referees"],
        "downline_users": stats["downline_users"],
        "downline_buyers": stats["downline_buyers"],
        "downline_gmv": stats["downline_gmv"],
        "levels": levels,
    }


def _role(store: GraphStore, user_id: str, fallback: str | None) -> dict[str, Any]:
    cursor = getattr(store, "cursor", None)
    if cursor is not None:
        from graph.roles import role_at

        row = role_at(cursor(), [user_id]).to_pylist()[0]
        return {
            "role": row["role"],
            "source": row["source"],
            "inferred": row["source"] == "inferred",
            "confidence": row["confidence"],
            "model_version": row.get("model_version"),
        }
    return {"role": fallback, "source": "declared", "inferred": False, "confidence": None}


def user_view(store: GraphStore, user_id: str, run_id: str | None = None) -> dict[str, Any]:
    """Everything ``GET /v1/users/{id}`` shows about one user.

    Raises
    ------
    graph.errors.NotFoundError
        No run yet, unknown run, or the user is not in the run.
    """
    profile = ranking.user_profile(store, user_id, run_id)
    return {
        **profile,
        "role_info": _role(store, user_id, profile.get("role")),
        "rank_history": rank_history(store, user_id),
        "referrals": referral_summary(store, user_id),
    }


def require_user(store: GraphStore, user_id: str) -> None:
    """Raise NotFoundError unless the store knows ``user_id`` (declared or seen in an event)."""
    cursor = getattr(store, "cursor", None)
    if cursor is not None:
        found = cursor().execute("SELECT 1 FROM users WHERE user_id = ?", [user_id]).fetchone()
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
    down = tree["downline"]
    return {
        **tree,
        "downline_users": sum(d["users"] for d in down),
        "downline_gmv": sum((d["gmv"] for d in down), Decimal(0)),
    }
