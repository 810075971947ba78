"""``koc keys create|list|revoke``: manage the HTTP API's keys (stored hashed)."""

from __future__ import annotations

from contextlib import closing

import click
from rich.console import Console
from rich.table import Table

from api.cli.context import CliContext, echo_json, pass_cli
from api.services.keys import SCOPES, create_key, list_keys, revoke_key

__all__ = ["command"]


@click.group("keys")
def command() -> None:
    """Create, list and revoke HTTP API keys (scopes: read, ingest, finance, admin).

    \b
    Keys live in the store file, hashed; the secret is printed once, at creation.
    The embedded store allows one writer: manage keys while `koc serve` is stopped.
    """


@command.command("create")
@click.option("--name", required=True, help="Who uses the key (1-100 characters).")
@click.option(
    "--scopes",
    default="read",
    show_default=True,
    help=f"Comma-separated subset of {', '.join(SCOPES)} (admin implies all).",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@pass_cli
def create(ctx: CliContext, name: str, scopes: str, as_json: bool) -> None:
    """Create a key and print its secret (shown only this once)."""
    with closing(ctx.open_store(create=True)) as store:
        key, token = create_key(store, name, scopes)
    if as_json:
        echo_json({**key.to_dict(), "token": token})
        return
    click.echo(f"Created key {key.key_id} ({key.name}; scopes {', '.join(key.scopes)}).")
    click.echo("Store this secret now; it is not kept and cannot be shown again:")
    click.echo(token)


@command.command("list")
@click.option("--active", is_flag=True, help="Hide revoked keys.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@pass_cli
def list_(ctx: CliContext, active: bool, as_json: bool) -> None:
    """List keys (ids, names, scopes, dates; never secrets)."""
    with closing(ctx.open_store()) as store:
        keys = list_keys(store, include_revoked=not active)
    if as_json:
        echo_json([k.to_dict() for k in keys])
        return
    table = Table(title="API keys")
    for col in ("key id", "name", "scopes", "created", "revoked"):
        table.add_column(col)
    for k in keys:
        table.add_row(
            k.key_id,
            k.name,
            ",".join(k.scopes),
            k.created_at.strftime("%Y-%m-%d %H:%M"),
            k.revoked_at.strftime("%Y-%m-%d %H:%M") if k.revoked_at else "",
        )
    Console().print(table)


@command.command("revoke")
@click.argument("key_id")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@pass_cli
def revoke(ctx: CliContext, key_id: str, as_json: bool) -> None:
    """Revoke KEY_ID (idempotent). A running server honours it within 10 s."""
    with closing(ctx.open_store()) as store:
        key = revoke_key(store, key_id)
    if as_json:
        echo_json(key.to_dict())
        return
    click.echo(f"Revoked key {key.key_id} ({key.name}).")
