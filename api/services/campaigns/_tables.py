"""Stored campaign plans, their seeds and their reviews (relational side, ``store.tables``).

Tables of the migration component ``"campaign"``: ``campaign_plans`` (one row per
plan: parameters, expected spread with its confidence interval, baselines),
``campaign_seeds`` (the ordered seeds with marginal gains) and ``campaign_reviews``
(one row per review: realised spread and GMV next to the prediction). Rows are only
ever inserted: a second review of a plan is a new row.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from graph.errors import NotFoundError
from graph.migrations import Migration, migrate
from graph.store import GraphStore
from graph.transaction import transaction

__all__ = [
    "MIGRATIONS",
    "ensure_schema",
    "save_plan",
    "load_plan",
    "list_plans",
    "recent_seeds",
    "save_review",
]

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "campaign plans, seeds and reviews",
        (
            """CREATE TABLE campaign_plans (
                plan_id         VARCHAR PRIMARY KEY,
                created_at      TIMESTAMPTZ NOT NULL,
                params          VARCHAR NOT NULL,
                algorithm       VARCHAR NOT NULL,
                model           VARCHAR NOT NULL,
                expected_spread DOUBLE NOT NULL,
                spread_low      DOUBLE NOT NULL,
                spread_high     DOUBLE NOT NULL,
                details         VARCHAR NOT NULL,
                baselines       VARCHAR NOT NULL
            )""",
            """CREATE TABLE campaign_seeds (
                plan_id       VARCHAR NOT NULL,
                position      INTEGER NOT NULL,
                user_id       VARCHAR NOT NULL,
                marginal_gain DOUBLE NOT NULL,
                cost          DECIMAL(20, 4),
                PRIMARY KEY (plan_id, position)
            )""",
            """CREATE TABLE campaign_reviews (
                review_id        VARCHAR PRIMARY KEY,
                plan_id          VARCHAR NOT NULL,
                reviewed_at      TIMESTAMPTZ NOT NULL,
                start_at         TIMESTAMPTZ NOT NULL,
                end_at           TIMESTAMPTZ,
                predicted_spread DOUBLE NOT NULL,
                realised_spread  BIGINT NOT NULL,
                orders           BIGINT NOT NULL,
                gmv              DECIMAL(20, 4) NOT NULL
            )""",
        ),
    ),
)


def _conn(store: GraphStore) -> Any:
    return store.tables.cursor().conn


def ensure_schema(store: GraphStore) -> None:
    """Apply the ``campaign`` migrations (creates the tables on first use)."""
    migrate(_conn(store), "campaign", MIGRATIONS)


def save_plan(store: GraphStore, plan: dict[str, Any]) -> None:
    """Insert a plan (the dict of :func:`api.services.campaigns.plan_campaign`) and its seeds."""
    conn = _conn(store)
    with transaction(conn):
        conn.execute(
            "INSERT INTO campaign_plans VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                plan["plan_id"],
                plan["created_at"],
                json.dumps(plan["params"]),
                plan["algorithm"],
                plan["model"],
                plan["expected_spread"]["mean"],
                plan["expected_spread"]["low"],
                plan["expected_spread"]["high"],
                json.dumps(plan["details"]),
                json.dumps(plan["baselines"]),
            ],
        )
        conn.executemany(
            "INSERT INTO campaign_seeds VALUES (?, ?, ?, ?, ?)",
            [
                [plan["plan_id"], i, s["user_id"], s["marginal_gain"], s["cost"]]
                for i, s in enumerate(plan["seeds"])
            ],
        )


def load_plan(store: GraphStore, plan_id: str) -> dict[str, Any]:
    """A stored plan with its seeds and reviews (ids may be shortened to a unique prefix).

    Raises
    ------
    NotFoundError
        No plan has this id (or the prefix is ambiguous).
    """
    ensure_schema(store)
    conn = _conn(store)
    rows = conn.execute(
        "SELECT plan_id, created_at, params, algorithm, model, expected_spread, spread_low, "
        "spread_high, details, baselines FROM campaign_plans WHERE starts_with(plan_id, ?) "
        "LIMIT 2",
        [plan_id],
    ).fetchall()
    if len(rows) != 1:
        raise NotFoundError(
            f"No campaign plan {plan_id!r}"
            + (
                " (the prefix matches several; give more of it)."
                if rows
                else ". List the plans to find its id."
            ),
            plan_id=plan_id,
        )
    r = rows[0]
    seeds = conn.execute(
        "SELECT user_id, marginal_gain, cost FROM campaign_seeds WHERE plan_id = ? "
        "ORDER BY position",
        [r[0]],
    ).fetchall()
    reviews = conn.execute(
        "SELECT review_id, reviewed_at, start_at, end_at, predicted_spread, realised_spread, "
        "orders, gmv FROM campaign_reviews WHERE plan_id = ? ORDER BY reviewed_at",
        [r[0]],
    ).fetchall()
    return {
        "plan_id": r[0],
        "created_at": r[1],
        "params": json.loads(r[2]),
        "algorithm": r[3],
        "model": r[4],
        "expected_spread": {"mean": r[5], "low": r[6], "high": r[7]},
        "details": json.loads(r[8]),
        "baselines": json.loads(r[9]),
        "seeds": [
            {"position": i + 1, "user_id": u, "marginal_gain": g, "cost": c}
            for i, (u, g, c) in enumerate(seeds)
        ],
        "reviews": [
            dict(
                zip(
                    (
                        "review_id",
                        "reviewed_at",
                        "start",
                        "end",
                        "predicted_spread",
                        "realised_spread",
                        "orders",
                        "gmv",
                    ),
                    row,
                    strict=True,
                )
            )
            for row in reviews
        ],
    }


def list_plans(store: GraphStore, limit: int = 20) -> list[dict[str, Any]]:
    """Recent plans, newest first (id, time, k, model, expected spread)."""
    ensure_schema(store)
    rows = (
        _conn(store)
        .execute(
            "SELECT p.plan_id, p.created_at, p.algorithm, p.model, p.expected_spread, "
            "(SELECT count(*) FROM campaign_seeds s WHERE s.plan_id = p.plan_id) "
            "FROM campaign_plans p ORDER BY p.created_at DESC, p.plan_id LIMIT ?",
            [limit],
        )
        .fetchall()
    )
    keys = ("plan_id", "created_at", "algorithm", "model", "expected_spread", "seeds")
    return [dict(zip(keys, row, strict=True)) for row in rows]


def recent_seeds(store: GraphStore, since: datetime) -> list[str]:
    """User ids that were seeds of a plan created at or after ``since``."""
    ensure_schema(store)
    rows = (
        _conn(store)
        .execute(
            "SELECT DISTINCT s.user_id FROM campaign_seeds s JOIN campaign_plans p "
            "USING (plan_id) WHERE p.created_at >= ?",
            [since],
        )
        .fetchall()
    )
    return [r[0] for r in rows]


def save_review(store: GraphStore, review: dict[str, Any]) -> None:
    """Insert one review row."""
    _conn(store).execute(
        "INSERT INTO campaign_reviews VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            review["review_id"],
            review["plan_id"],
            review["reviewed_at"],
            review["start"],
            review["end"],
            review["predicted_spread"],
            review["realised_spread"],
            review["orders"],
            review["gmv"],
        ],
    )
