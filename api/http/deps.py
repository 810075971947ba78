"""FastAPI dependencies: settings, the store and the background-run registry.

The app opens its store lazily, once per process, through a
:class:`StoreProvider`; handlers receive it as :data:`StoreDep` and tests swap
it with ``app.dependency_overrides[get_store]``. Store methods open a DuckDB
cursor per call, so one store object serves the request threads safely.

Concurrency (see ``docs/api.md``): with ``api_workers == 1`` the process opens
the store read-write and is the single writer; with more workers every worker
opens it read-only and the write endpoints answer 503 ``read_only``.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import anyio
import anyio.to_thread
from fastapi import Depends, Request

from api.http.errors import ApiError
from api.services.runs import RunSlot
from graph.factory import open_store
from graph.settings import Settings
from graph.store import GraphStore

__all__ = [
    "StoreProvider",
    "get_settings_dep",
    "get_store",
    "get_provider",
    "get_run_slot",
    "require_writable",
    "in_read_lane",
    "SettingsDep",
    "StoreDep",
    "ProviderDep",
    "RunSlotDep",
    "WritableDep",
]

StoreFactory = Callable[[], GraphStore]
T = TypeVar("T")


class StoreProvider:
    """Opens the store on first use (thread-safe) and closes it at shutdown.

    Parameters
    ----------
    settings : Settings
        Where the store is.
    factory : callable, optional
        Returns an open store; defaults to :func:`graph.factory.open_store`.
    read_only : bool
        Open read-only (multi-worker mode); writes are then refused.
    """

    def __init__(
        self, settings: Settings, factory: StoreFactory | None = None, *, read_only: bool = False
    ) -> None:
        self.settings = settings
        self.read_only = read_only
        self._factory = factory or (lambda: open_store(settings, read_only=read_only))
        self._store: GraphStore | None = None
        self._lock = threading.Lock()

    def get(self) -> GraphStore:
        """The open store (opened on the first call)."""
        if self._store is None:
            with self._lock:
                if self._store is None:
                    self._store = self._factory()
        return self._store

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None


def get_settings_dep(request: Request) -> Settings:
    """The app's settings."""
    return request.app.state.settings


def get_provider(request: Request) -> StoreProvider:
    """The app's store provider."""
    return request.app.state.store_provider


async def get_store(request: Request) -> GraphStore:
    """The app's store (override this in tests); async, so no thread hop per request."""
    return request.app.state.store_provider.get()


def get_run_slot(request: Request) -> RunSlot:
    """The app's one-run-at-a-time slot."""
    return request.app.state.run_slot


async def in_read_lane(request: Request, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run ``fn`` in the read lane: the few threads (``api_read_threads``) that serve the
    hot read endpoints, apart from FastAPI's general pool of 40.

    Under load, dozens of threads each doing a little Python work mostly wait for the
    interpreter lock in turn, which is what stretches the slowest requests (p99 87 ms
    at 4 connections with 40 threads, 13 ms with 2: ``benchmarks/results/api.md``).
    """
    state = request.app.state
    lane = getattr(state, "read_lane", None)
    if lane is None:  # created in the event loop, on first use
        lane = state.read_lane = anyio.CapacityLimiter(state.settings.api_read_threads)
    return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs), limiter=lane)


def require_writable(request: Request) -> None:
    """Refuse writes when this process opened the store read-only (several workers)."""
    if request.app.state.store_provider.read_only:
        raise ApiError(
            503,
            "read_only",
            "This server runs several workers on a read-only store; writes need "
            "api_workers=1 (one writer process). See docs/api.md.",
            headers={"Retry-After": "60"},
        )


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
StoreDep = Annotated[GraphStore, Depends(get_store)]
ProviderDep = Annotated[StoreProvider, Depends(get_provider)]
RunSlotDep = Annotated[RunSlot, Depends(get_run_slot)]
WritableDep = Annotated[None, Depends(require_writable)]
