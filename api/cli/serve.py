"""``koc serve``: run the HTTP API with uvicorn over the configured store."""

from __future__ import annotations

import os
from contextlib import closing

import click

from api.cli.context import CliContext, pass_cli

__all__ = ["command"]


@click.command("serve")
@click.option("--host", default=None, help="Interface to bind (default: KOC_API_HOST).")
@click.option("--port", type=int, default=None, help="TCP port (default: KOC_API_PORT).")
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=None,
    help="Worker processes (default: KOC_API_WORKERS). More than 1 opens the store "
    "read-only in every worker and disables POST /events and POST /runs.",
)
@click.option(
    "--public/--private",
    "public",
    default=None,
    help="Serve the HTML leaderboard at / without a key (default: KOC_API_PUBLIC_LEADERBOARD).",
)
@click.option(
    "--log-level",
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
    default="info",
    show_default=True,
)
@pass_cli
def command(
    ctx: CliContext,
    host: str | None,
    port: int | None,
    workers: int | None,
    public: bool | None,
    log_level: str,
) -> None:
    """Serve the KOC Graph API (OpenAPI docs at /docs, leaderboard page at /).

    \b
    With one worker the server is the store's single writer: keep other writing
    koc commands (ingest, rank, keys) for when it is stopped, or use the API.
    With several workers every worker reads; writes answer 503.

    Each worker keeps the latest runs and an index of every user's referral counts,
    role and rank history in memory, built in the background (a few seconds per
    million users; `GET /readyz` reports it and starts it, so probe it at start-up).
    """
    import uvicorn

    from api.app import create_app
    from api.keys import ensure_schema

    overrides = {
        "api_host": host,
        "api_port": port,
        "api_workers": workers,
        "api_public_leaderboard": public,
    }
    settings = ctx.settings.model_copy(update={k: v for k, v in overrides.items() if v is not None})
    if settings.api_workers == 1:
        app = create_app(settings)
        app.state.store_provider.get()  # fail now, not on the first request
        click.echo(
            f"KOC Graph API on http://{settings.api_host}:{settings.api_port} (docs at /docs)"
        )
        uvicorn.run(app, host=settings.api_host, port=settings.api_port, log_level=log_level)
        return
    # several processes: migrate once here, then each worker builds its app from the environment
    with closing(ctx.open_store()) as store:
        if hasattr(store, "cursor"):
            ensure_schema(store)
    os.environ.update(
        {
            "KOC_STORE": settings.store,
            "KOC_DB_PATH": str(settings.db_path),
            "KOC_API_WORKERS": str(settings.api_workers),
            "KOC_API_PUBLIC_LEADERBOARD": str(settings.api_public_leaderboard).lower(),
        }
    )
    click.echo(
        f"KOC Graph API on http://{settings.api_host}:{settings.api_port} with "
        f"{settings.api_workers} read-only workers (docs at /docs)"
    )
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=settings.api_host,
        port=settings.api_port,
        workers=settings.api_workers,
        log_level=log_level,
    )
