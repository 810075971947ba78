"""One DuckDB transaction as a context manager: commit at the end, roll back on any exception.

Every writer of the embedded store, the ledger, the role history and the
migrations opens its transactions here, so ``BEGIN`` / ``COMMIT`` / ``ROLLBACK``
are written once and an interrupted block (also Ctrl-C) never leaves one open.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress

import duckdb
import pyarrow as pa

__all__ = ["transaction", "registered"]


@contextmanager
def transaction(conn: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """Run the block in one transaction on ``conn`` (yielded back).

    Commits when the block ends; rolls back and re-raises on any exception,
    ``KeyboardInterrupt`` included. Transactions do not nest: DuckDB refuses a
    ``BEGIN`` inside an open transaction.
    """
    conn.execute("BEGIN TRANSACTION")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


@contextmanager
def registered(conn: duckdb.DuckDBPyConnection, name: str, table: pa.Table) -> Iterator[None]:
    """``table`` visible to SQL as ``name`` for the block.

    When the block fails, the transaction is aborted and ``unregister`` would
    fail too ("Current transaction is aborted"); that second error must not hide
    the first, so it is dropped then.
    """
    conn.register(name, table)
    try:
        yield
    except BaseException:
        with suppress(duckdb.Error):
            conn.unregister(name)
        raise
    conn.unregister(name)
