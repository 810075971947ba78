"""The relational side of the store contract: SQL tables next to the graph.

API keys, the commission ledger and role history are relational: append-only
tables with constraints, versioned by :mod:`graph.migrations`, queried with SQL.
Every :class:`graph.store.GraphStore` carries them as ``store.tables``, a
:class:`TableStore`, opened with the graph by :func:`graph.factory.open_store`:

* the embedded store keeps them in its own DuckDB file (``store.tables`` shares
  the store's connection);
* the Neo4j store keeps them in the DuckDB file named by ``KOC_LEDGER_PATH``
  (:class:`DuckDBTables`); without that setting its ``tables`` say so when used
  (:class:`NoTables`).

Services reach the tables only through this contract (``store.tables.conn``, or
``store.tables.cursor()`` for another thread), never by probing the store's type.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import duckdb

from graph.errors import StoreError

__all__ = ["TableStore", "DuckDBTables", "NoTables"]


@runtime_checkable
class TableStore(Protocol):
    """SQL tables of keys, the ledger and role history.

    Attributes
    ----------
    available : bool
        Whether there are tables at all (False only for :class:`NoTables`).
    holds_graph : bool
        Whether the same database also holds the graph's tables (``users``...): true
        for the embedded store. Role history resolves roles with SQL joins on
        ``users``, so it needs this (on Neo4j it is not available yet).
    path : pathlib.Path or None
        The DuckDB file holding them (None in memory).
    """

    available: bool
    holds_graph: bool
    path: Path | None

    @property
    def conn(self) -> duckdb.DuckDBPyConnection:
        """The DuckDB connection of this thread (raises :class:`StoreError` when unavailable)."""
        ...

    def cursor(self) -> TableStore:
        """The same tables on a private cursor, for another thread; close it after use."""
        ...

    def close(self) -> None:
        """Close the connection if this object owns it."""
        ...


class DuckDBTables:
    """:class:`TableStore` on a DuckDB connection.

    Parameters
    ----------
    conn : duckdb.DuckDBPyConnection
        The connection (the embedded store's own, or one of a separate file).
    path : pathlib.Path, optional
        The file, for messages and to recognise the same file opened twice.
    owns : bool
        Close ``conn`` in :meth:`close`.
    holds_graph : bool
        The database also holds the graph (the embedded store's own file).
    """

    available = True

    def __init__(
        self,
        conn: duckdb.DuckDBPyConnection,
        *,
        path: Path | None = None,
        owns: bool = False,
        holds_graph: bool = False,
    ) -> None:
        self._conn = conn
        self.path = path
        self._owns = owns
        self.holds_graph = holds_graph

    @classmethod
    def open(cls, path: str | Path, *, read_only: bool = False) -> DuckDBTables:
        """Open (creating it unless ``read_only``) the DuckDB file ``path``.

        Raises
        ------
        StoreError
            When the file cannot be opened (locked by another process, not DuckDB...).
        """
        path = Path(path)
        if not read_only:
            path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = duckdb.connect(str(path), read_only=read_only and path.exists())
            conn.execute("SET TimeZone = 'UTC'")
        except duckdb.Error as exc:
            raise StoreError(
                f"Cannot open the tables file {path} (KOC_LEDGER_PATH): {exc}", path=str(path)
            ) from exc
        return cls(conn, path=path, owns=True)

    @property
    def conn(self) -> duckdb.DuckDBPyConnection:
        return self._conn

    def cursor(self) -> DuckDBTables:
        return DuckDBTables(
            self._conn.cursor(), path=self.path, owns=True, holds_graph=self.holds_graph
        )

    def close(self) -> None:
        if self._owns:
            self._conn.close()

    def __repr__(self) -> str:
        return f"DuckDBTables({str(self.path) if self.path else ':memory:'})"


class NoTables:
    """The tables of a store opened without a tables file: every use names the setting."""

    available = False
    holds_graph = False
    path: Path | None = None

    def __init__(self, reason: str) -> None:
        self.reason = reason

    @property
    def conn(self) -> Any:
        raise StoreError(
            f"{self.reason} API keys, the commission ledger and role history need SQL "
            "tables: set KOC_LEDGER_PATH to a DuckDB file (created if missing).",
            key="ledger_path",
        )

    def cursor(self) -> NoTables:
        return self

    def close(self) -> None:
        pass
