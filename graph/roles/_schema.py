"""Storage of the role history: the ``roles`` migrations and their helpers.

The tables (``role_declarations``, ``role_models``, ``role_inferences``) are
described in :mod:`graph.roles`.
"""

from __future__ import annotations

import duckdb

from graph.duckdb_store import BUMP_REVISION
from graph.migrations import Migration, migrate

__all__ = ["MIGRATIONS", "ensure_schema", "has_tables", "bump_revision"]

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "role declarations, role models, role inferences",
        (
            """CREATE TABLE role_declarations (
                role        VARCHAR NOT NULL,
                user_id     VARCHAR NOT NULL,
                valid_from  TIMESTAMPTZ NOT NULL,
                valid_to    TIMESTAMPTZ,
                store_id    VARCHAR,
                agency      VARCHAR,
                fee         DECIMAL(20, 4),
                currency    VARCHAR,
                source      VARCHAR,
                row_number  BIGINT,
                imported_at TIMESTAMPTZ NOT NULL DEFAULT now()
            )""",
            """CREATE TABLE role_models (
                model_version VARCHAR PRIMARY KEY,
                created_at    TIMESTAMPTZ NOT NULL,
                threshold     DOUBLE NOT NULL,
                params        VARCHAR,
                metrics       VARCHAR
            )""",
            """CREATE TABLE role_inferences (
                model_version  VARCHAR NOT NULL,
                user_id        VARCHAR NOT NULL,
                predicted_role VARCHAR NOT NULL,
                role           VARCHAR NOT NULL,
                confidence     DOUBLE NOT NULL
            )""",
        ),
    ),
)


def ensure_schema(conn: duckdb.DuckDBPyConnection) -> int:
    """Create or upgrade the ``roles`` tables on ``conn`` (the store's connection)."""
    return migrate(conn.cursor(), "roles", MIGRATIONS)


def has_tables(conn: duckdb.DuckDBPyConnection) -> bool:
    """Whether the role tables exist on ``conn`` (a store that never held roles has none)."""
    row = (
        conn.cursor()
        .execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'role_declarations'")
        .fetchone()
    )
    return bool(row and row[0])


def bump_revision(cur: duckdb.DuckDBPyConnection) -> None:
    """Tell caches that roles changed: bump the store's revision when the roles live in
    the store's own file (a separate ledger file of a Neo4j setup has no counter)."""
    found = cur.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'store_revision' "
        "AND schema_name = 'main' AND database_name = current_database()"
    ).fetchone()
    if found and found[0]:
        cur.execute(BUMP_REVISION)
