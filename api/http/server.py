"""Run the HTTP API with uvicorn: the one function the ``koc serve`` command calls.

The CLI (:mod:`api.cli`) never imports the HTTP modules otherwise; ``koc serve`` is
the one legitimate place where the command line starts the HTTP server, and it does
so through :func:`serve`, imported inside the command so that no other ``koc``
command loads FastAPI. ``tests/test_architecture.py`` allows exactly this import.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable

from api.services.local_commands import LocalCommands
from graph.settings import Settings

__all__ = ["serve"]

#: the app factory uvicorn imports in every worker process
APP_FACTORY = "api.http.app:create_served_app"


def serve(
    settings: Settings,
    *,
    log_level: str = "info",
    announce: Callable[[str], None] = print,
    local_commands: LocalCommands | None = None,
) -> None:
    """Serve the API on ``settings.api_host:api_port`` until interrupted.

    Parameters
    ----------
    settings : Settings
        With ``api_workers == 1`` this process opens the store read-write (now, so a
        store that cannot be opened fails before the server starts) and is its single
        writer. With more workers, each worker process builds its app from the
        environment (``KOC_STORE``, ``KOC_DB_PATH``, ``KOC_API_WORKERS``,
        ``KOC_API_PUBLIC_LEADERBOARD`` are set from ``settings``, and
        ``KOC_API_SESSION_SECRET`` too, random when unset, so that a web session signed
        by one worker holds in the others) and opens the store read-only; migrate the
        store before calling this.
    log_level : str
        uvicorn's log level.
    announce : callable
        Receives the one line saying where the API listens.
    local_commands : LocalCommands, optional
        Runs the ``koc`` commands that local clients send while this process holds
        the store (one worker only; :mod:`api.http.routes.cli_bridge`).
    """
    import uvicorn

    from api.http.app import create_app

    where = f"http://{settings.api_host}:{settings.api_port}"
    if settings.api_workers == 1:
        app = create_app(settings)
        app.state.store_provider.get()  # fail now, not on the first request
        lock = getattr(app.state.store_provider.get(), "write_lock", None)
        if local_commands is not None and lock is not None:
            local_commands.write_lock = lock  # a command's writes queue behind the server's
        app.state.local_commands = local_commands
        app.state.warm_on_start = True
        announce(f"KOC Graph API on {where} (docs at /docs)")
        uvicorn.run(app, host=settings.api_host, port=settings.api_port, log_level=log_level)
        return
    secret = settings.api_session_secret
    os.environ.update(
        {
            "KOC_API_SESSION_SECRET": (
                secret.get_secret_value() if secret else secrets.token_urlsafe(32)
            ),
            "KOC_STORE": settings.store,
            "KOC_DB_PATH": str(settings.db_path),
            "KOC_API_WORKERS": str(settings.api_workers),
            "KOC_API_PUBLIC_LEADERBOARD": str(settings.api_public_leaderboard).lower(),
        }
    )
    announce(
        f"KOC Graph API on {where} with {settings.api_workers} read-only workers (docs at /docs)"
    )
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=settings.api_host,
        port=settings.api_port,
        workers=settings.api_workers,
        log_level=log_level,
    )
