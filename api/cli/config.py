"""``koc config``: show the effective settings and where each comes from."""

from __future__ import annotations

import json
import os

import click

from api.cli.context import CliContext, pass_cli
from graph.settings import Settings

__all__ = ["command"]


@click.command("config")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of TOML-like lines.")
@pass_cli
def command(ctx: CliContext, as_json: bool) -> None:
    """Show every setting with its effective value (secrets masked) and its KOC_* variable.

    Settings are read from keyword options, KOC_* environment variables, then the TOML
    file named by KOC_CONFIG (default ./koc.toml when present), then defaults.
    """
    values = json.loads(ctx.settings.model_dump_json())
    if as_json:
        click.echo(json.dumps(values, indent=2, sort_keys=True))
        return
    for name, field in Settings.model_fields.items():
        env = f"KOC_{name.upper()}"
        origin = "env" if env in os.environ else "default/config"
        value = json.dumps(values[name])
        doc = f"  # {field.description}" if field.description else ""
        click.echo(f"{name} = {value}   ({env}, {origin}){doc}")
