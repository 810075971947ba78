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
from graph.settings import Settings

__all__ = ["command"]


def _default(name: str) -> str:
    """``--help`` text for a setting's default: its value and its variable."""
    value = Settings.model_fields[name].default
    if isinstance(value, bool):
        value = "public" if value else "private"
    return f"[default: {value}, or KOC_{name.upper()}]"


@click.command("serve")
@click.option("--host", default=None, help=f"Interface to bind. {_default('api_host')}")
@click.option("--port", type=int, default=None, help=f"TCP port. {_default('api_port')}")
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=None,
    help="Worker processes. More than 1 opens the store read-only in every worker and "
    f"disables POST /events and POST /runs. {_default('api_workers')}",
)
@click.option(
    "--public/--private",
    "public",
    default=None,
    help=f"Serve the HTML pages without a key. {_default('api_public_leaderboard')}",
)
@click.option(
    "--log-level",
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
    default="info",
    show_default=True,
    help="Server log level.",
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
    With one worker the server holds the store file, and every other koc command
    on that store (ingest, rank, keys revoke, commissions, ...) is run by the
    server on the same database: it writes its address and a token, readable by
    you only, to STORE.serve.json. With several workers every worker only reads:
    writes answer 503; the reading koc commands (status, top, runs, rejects, role and
    commission reports) work, the writing ones must wait until it stops.

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
    ctx.announce_store()
    if settings.api_workers > 1:  # several processes: migrate once here, before they start
        with closing(ctx.open_store()) as store:
            ensure_schema(store)
        serve(settings, log_level=log_level, announce=click.echo)
        return
    from api.cli._inprocess import CommandRunner
    from api.cli._server_link import publish, store_file

    # other koc commands on this store are sent here and run by this process
    with publish(store_file(settings), settings.api_host, settings.api_port) as link:
        runner = CommandRunner(settings, token=link.token)
        serve(settings, log_level=log_level, announce=click.echo, local_commands=runner)
