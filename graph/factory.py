"""Open the configured :class:`graph.store.GraphStore` from settings."""

from __future__ import annotations

from graph.errors import ConfigError
from graph.settings import Settings
from graph.store import GraphStore

__all__ = ["open_store"]


def open_store(settings: Settings, *, read_only: bool = False) -> GraphStore:
    """Open the store named by ``settings.store`` (``duckdb`` by default), with its tables.

    The relational side (``store.tables``: API keys, the ledger, role history) is the
    embedded store's own file, or beside Neo4j the DuckDB file ``KOC_LEDGER_PATH``.

    Raises
    ------
    ConfigError
        For ``neo4j`` without ``KOC_NEO4J_URI``.
    """
    if settings.store == "neo4j":
        if not settings.neo4j_uri:
            raise ConfigError(
                "KOC_STORE=neo4j needs KOC_NEO4J_URI (for example neo4j://localhost:7687).",
                key="neo4j_uri",
            )
        from graph.neo4j_store import Neo4jStore  # imported lazily: needs a server

        return Neo4jStore.from_settings(settings, read_only=read_only)
    from graph.duckdb_store import DuckDBStore

    return DuckDBStore(
        settings.db_path,
        threads=settings.db_threads,
        memory_limit=settings.db_memory_limit,
        read_only=read_only,
    )
