"""One DuckDB transaction as a context manager: commit at the end, roll back on any exception.

Every writer of the embedded store, the ledger, the role history and the
migrations opens its transactions here, so ``BEGIN`` / ``COMMIT`` / ``ROLLBACK``
are written once and an interrupted block (also Ctrl-C) never leaves one open.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

__all__ = ["transaction"]


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
