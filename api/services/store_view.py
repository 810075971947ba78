"""A per-request view of the store whose ``conn`` is a private DuckDB cursor.

Services that run SQL on ``store.conn`` (the ledger, role history) would share
one connection between request threads, which DuckDB does not allow; handing
them a :class:`StoreView` gives each request its own cursor on the same database.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from graph.store import GraphStore

__all__ = ["StoreView", "store_view"]


class StoreView:
    """A store whose ``conn`` is a private cursor; everything else is the store's."""

    def __init__(self, store: GraphStore) -> None:
        self._store = store
        self.conn = store.cursor() if hasattr(store, "cursor") else None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


@contextmanager
def store_view(store: GraphStore) -> Iterator[Any]:
    """A :class:`StoreView` closed afterwards."""
    view = StoreView(store)
    try:
        yield view
    finally:
        if view.conn is not None:
            view.conn.close()
