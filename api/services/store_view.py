"""A per-request view of the store whose tables are on a private DuckDB cursor.

Services that run SQL on ``store.tables`` (the ledger, role history, keys) would
share one connection between request threads, which DuckDB does not allow; handing
them a :class:`StoreView` gives each request its own cursor on the same tables.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from graph.store import GraphStore

__all__ = ["StoreView", "store_view"]


class StoreView:
    """A store whose ``tables`` are on a private cursor; everything else is the store's."""

    def __init__(self, store: GraphStore) -> None:
        self._store = store
        self.tables = store.tables.cursor()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


@contextmanager
def store_view(store: GraphStore) -> Iterator[Any]:
    """A :class:`StoreView` closed afterwards."""
    view = StoreView(store)
    try:
        yield view
    finally:
        view.tables.close()
