"""The HTTP application: ``create_app(settings, store_factory)`` builds the FastAPI app.

Routers (one per resource, :mod:`api.http.routes`) only translate HTTP to service
calls; errors become one JSON format (:mod:`api.http.errors`); keys and scopes come
from :mod:`api.http.security`. ``koc serve`` runs it with uvicorn.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from api.http.deps import StoreFactory, StoreProvider
from api.http.errors import install_error_handlers
from api.http.ratelimit import FailureLimiter
from api.http.routes import ROUTERS
from api.http.routes.health import package_version
from api.http.routes.web import install_web
from api.http.security import KeyCache
from api.http.sessions import SessionSigner
from api.services.cache import PageCache, RefreshingCache, RunCache
from api.services.campaigns import CampaignJobs
from api.services.facts import FactsCache
from api.services.keys import ensure_schema
from api.services.leaderboard import prepare_board
from api.services.ranking import reap_interrupted_runs
from api.services.reach import REACH_BUDGET_S, SnapshotCache
from api.services.runs import RunSlot
from api.services.warmup import Warmup
from graph.settings import Settings, get_settings
from graph.store import GraphStore

__all__ = ["create_app", "create_served_app", "API_PREFIX"]

API_PREFIX = "/v1"

_DESCRIPTION = """
Key opinion consumer (KOC) leaderboards, user profiles, referral trees,
commission statements, event ingestion and ranking runs.

Authenticate with an API key (`koc keys create --scopes read`) sent as
`X-API-Key: <key>` or `Authorization: Bearer <key>`. Scopes: `read`,
`ingest`, `finance` (commission data), `admin` (everything, ranking runs).
Every error is `{"code", "message", "details"}`.
"""


def _opening(settings: Settings, factory: StoreFactory | None, read_only: bool) -> StoreFactory:
    """Wrap the store factory so a writable store gets the API-key schema on first open."""

    def open_() -> GraphStore:
        if factory is not None:
            store = factory()
        else:
            from graph.factory import open_store

            store = open_store(settings, read_only=read_only)
        if not read_only:
            ensure_schema(store)
            reap_interrupted_runs(store)  # a killed `koc rank` must not stay "running"
        return RunCache(store, on_warm=prepare_board)  # type: ignore[return-value]

    return open_


def create_app(
    settings: Settings | None = None, store_factory: StoreFactory | None = None
) -> FastAPI:
    """Build the KOC Graph HTTP app.

    Parameters
    ----------
    settings : Settings, optional
        Defaults to :func:`graph.settings.get_settings` (environment and config file).
    store_factory : callable, optional
        Returns an open :class:`graph.store.GraphStore`; defaults to the configured
        store, opened read-only when ``settings.api_workers > 1``. Called once, on
        the first request that needs the store.

    Returns
    -------
    FastAPI
        The app; ``app.state`` holds ``settings``, ``store_provider``, ``key_cache``,
        ``sessions`` (the web app's :class:`api.http.sessions.SessionSigner`),
        ``login_limiter`` (failed sign-ins, :class:`api.http.ratelimit.FailureLimiter`),
        ``run_slot``, the caches (``page_cache``, ``facts``, ``snapshot_cache``) and, when ``warm_on_start`` is set before start-up (as
        ``koc serve`` does), the start-up ``warmup``
        (:class:`api.services.warmup.Warmup`).
    """
    settings = settings or get_settings()
    read_only = settings.api_workers > 1
    provider = StoreProvider(
        settings, _opening(settings, store_factory, read_only), read_only=read_only
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if app.state.warm_on_start:  # `koc serve`: load the latest run before traffic
            app.state.warmup = Warmup(provider.get, app.state.facts).start()
        yield
        if app.state.warmup is not None:
            app.state.warmup.wait(60)
        app.state.facts.close()
        app.state.role_views.close()
        app.state.snapshot_cache.close()
        provider.close()

    app = FastAPI(
        title="KOC Graph API",
        version=package_version(),
        description=_DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # /docs and /redoc: api.http.routes.web, from bundled assets
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.settings = settings
    app.state.store_provider = provider
    app.state.key_cache = KeyCache()
    app.state.sessions = SessionSigner.from_settings(settings)
    app.state.login_limiter = FailureLimiter(
        settings.api_login_max_failures, settings.api_login_window_s
    )
    app.state.run_slot = RunSlot()
    app.state.campaign_jobs = CampaignJobs()
    app.state.snapshot_cache = SnapshotCache()
    app.state.page_cache = PageCache()
    app.state.role_views = RefreshingCache()
    app.state.facts = FactsCache(settings.api_profile_max_stale_s)
    app.state.reach_budget_s = REACH_BUDGET_S
    app.state.local_commands = None  # set by `koc serve` (api.http.server.serve)
    app.state.warm_on_start = False  # set by `koc serve`; tests start cold
    app.state.warmup = None
    install_error_handlers(app)
    install_web(app)
    if settings.api_cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.api_cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type"],
        )
    for router, prefixed in ROUTERS:
        app.include_router(router, prefix=API_PREFIX if prefixed else "")
    return app


def create_served_app() -> FastAPI:
    """The app of one ``koc serve`` worker process: :func:`create_app` from the
    environment, warming the latest run and the profile index at start-up."""
    app = create_app()
    app.state.warm_on_start = True
    return app
