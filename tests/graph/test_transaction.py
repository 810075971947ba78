"""graph.transaction: one transaction, committed at the end or rolled back on any exception."""

from __future__ import annotations

import duckdb
import pytest

from graph.duckdb_store import DuckDBStore
from graph.transaction import transaction


@pytest.fixture
def conn(tmp_path):
    c = duckdb.connect(str(tmp_path / "t.duckdb"))
    c.execute("CREATE TABLE t (x INTEGER)")
    yield c
    c.close()


def _rows(c: duckdb.DuckDBPyConnection) -> list[int]:
    return [r[0] for r in c.execute("SELECT x FROM t ORDER BY x").fetchall()]


def test_transaction_commits_the_block(conn):
    with transaction(conn) as c:
        c.execute("INSERT INTO t VALUES (1), (2)")
    assert _rows(conn) == [1, 2]


@pytest.mark.parametrize("exc", [ValueError("bad"), KeyboardInterrupt()])
def test_transaction_rolls_back_on_any_exception(conn, exc):
    with pytest.raises(type(exc)), transaction(conn) as c:
        c.execute("INSERT INTO t VALUES (1)")
        raise exc
    assert _rows(conn) == []
    with transaction(conn) as c:  # no transaction was left open
        c.execute("INSERT INTO t VALUES (3)")
    assert _rows(conn) == [3]


def test_store_transaction_rolls_back(tmp_path):
    with DuckDBStore(tmp_path / "s.duckdb") as store:
        before = store.revision()
        with pytest.raises(RuntimeError), store.transaction() as c:
            c.execute("UPDATE store_revision SET revision = revision + 1")
            raise RuntimeError("stop")
        assert store.revision() == before
