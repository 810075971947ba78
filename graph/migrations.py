"""Versioned schema migrations for the embedded store.

Each component (``graph``, ``referral``, ...) owns an ordered list of
:class:`Migration` and applies it with :func:`migrate`. The applied version per
component is kept in ``schema_migrations``; a migration runs in the same
transaction as the version bump, so a crash never leaves half a migration.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb

from graph.errors import SchemaError
from graph.transaction import transaction

__all__ = ["Migration", "migrate", "applied_version"]


@dataclass(frozen=True)
class Migration:
    """One schema step: ``version`` (1, 2, ...), a description and its SQL statements."""

    version: int
    description: str
    statements: tuple[str, ...]


_BOOTSTRAP = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    component   VARCHAR NOT NULL,
    version     INTEGER NOT NULL,
    description VARCHAR,
    applied_at  TIMESTAMPTZ DEFAULT now(),
    PRIMARY KEY (component, version)
)
"""


def applied_version(conn: duckdb.DuckDBPyConnection, component: str) -> int:
    """Highest applied migration of ``component`` (0 when none); never writes, so it
    also works on a store opened read-only."""
    exists = conn.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'schema_migrations' "
        "AND schema_name = 'main' AND database_name = current_database()"
    ).fetchone()
    if not exists or not exists[0]:
        return 0
    row = conn.execute(
        "SELECT coalesce(max(version), 0) FROM schema_migrations WHERE component = ?",
        [component],
    ).fetchone()
    return int(row[0]) if row else 0


def migrate(
    conn: duckdb.DuckDBPyConnection, component: str, migrations: Sequence[Migration]
) -> int:
    """Apply the pending migrations of ``component``; return the resulting version.

    Raises
    ------
    SchemaError
        When the database was written by a newer KOC Graph (its version is above
        the newest migration known here), or a migration fails.
    """
    versions = [m.version for m in migrations]
    if versions != list(range(1, len(versions) + 1)):
        raise SchemaError(f"migrations of {component!r} must be numbered 1..n, got {versions}")
    conn.execute(_BOOTSTRAP)
    current = applied_version(conn, component)
    if current > len(migrations):
        raise SchemaError(
            f"The store's {component!r} schema is version {current}, newer than this "
            f"KOC Graph knows ({len(migrations)}). Upgrade KOC Graph or use another --db.",
            component=component,
            version=current,
        )
    for m in migrations[current:]:
        try:
            with transaction(conn):
                for stmt in m.statements:
                    conn.execute(stmt)
                conn.execute(
                    "INSERT INTO schema_migrations (component, version, description) "
                    "VALUES (?, ?, ?)",
                    [component, m.version, m.description],
                )
        except duckdb.Error as exc:
            raise SchemaError(
                f"Migration {component} v{m.version} ({m.description}) failed: {exc}",
                component=component,
                version=m.version,
            ) from exc
    return len(migrations)
