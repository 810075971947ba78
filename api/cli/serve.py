"""``koc serve``: run the HTTP API with uvicorn over the configured store.

This command is the one place where the CLI reaches into the HTTP package: it calls
:func:`api.http.server.serve`, imported inside the command so that no other ``koc``
command loads FastAPI (the layering test in ``tests/test_architecture.py`` allows
exactly this import).
"""

from __future__ import annotations

from contextlib import closing

import click

from api.cli.context import CliContext, pass_cli
from api.services.keys import ensure_schema

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
    from api.http.server import serve  # the CLI's one way into the HTTP package

    overrides = {
        "api_host": host,
        "api_port": port,
        "api_workers": workers,
        "api_public_leaderboard": public,
    }
    settings = ctx.settings.model_copy(update={k: v for k, v in overrides.items() if v is not None})
    if settings.api_workers > 1:  # several processes: migrate once here, before they start
        with closing(ctx.open_store()) as store:
            ensure_schema(store)
    serve(settings, log_level=log_level, announce=click.echo)
