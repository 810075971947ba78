"""``koc status``: what the store holds."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from api.cli.context import CliContext, echo_json, pass_cli

__all__ = ["command"]


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object instead of a table.")
@pass_cli
def command(ctx: CliContext, as_json: bool) -> None:
    """Show the store: schema version, row counts per record type, data watermark, latest run."""
    with ctx.open_store(read_only=True) as store:
        counts = store.counts()
        latest = store.latest_run()
        payload = {
            "store": ctx.settings.store,
            "location": str(ctx.settings.db_path)
            if ctx.settings.store == "duckdb"
            else ctx.settings.neo4j_uri,
            "schema_version": store.schema_version(),
            "counts": counts,
            "watermark": store.watermark(),
            "latest_run": latest.run_id if latest else None,
        }
    if as_json:
        echo_json(payload)
        return
    table = Table(title=f"KOC Graph store: {payload['location']}")
    table.add_column("records")
    table.add_column("rows", justify="right")
    for key, value in counts.items():
        table.add_row(key, f"{value:,}")
    console = Console()
    console.print(table)
    console.print(
        f"schema v{payload['schema_version']}, data up to {payload['watermark'] or '-'}, "
        f"latest ranking run: {payload['latest_run'] or 'none (run `koc rank`)'}"
    )
