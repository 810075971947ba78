"""``koc rejects``: list or clear the quarantine (rows refused by ``koc ingest`` or ``POST /events``)."""

from __future__ import annotations

from pathlib import Path

import click
import pyarrow.csv as pacsv
from rich.console import Console
from rich.table import Table

from api.cli.context import CliContext, echo_json, pass_cli

__all__ = ["command"]


@click.command("rejects")
@click.option(
    "--limit", "-n", type=click.IntRange(1), default=50, show_default=True, help="Rows to show."
)
@click.option("--all", "show_all", is_flag=True, help="Show every quarantined row.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the rows (with the raw input) to this CSV file instead.",
)
@click.option(
    "--clear",
    is_flag=True,
    help="Delete quarantined rows instead of listing them: those of each --source FILE, "
    "or all of them (after a fixed file was loaded again).",
)
@click.option(
    "--source",
    "sources",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="With --clear: only the rows of this input file (repeatable; 'api' for POST /events).",
)
@pass_cli
def command(
    ctx: CliContext,
    limit: int,
    show_all: bool,
    as_json: bool,
    csv_path: Path | None,
    clear: bool,
    sources: tuple[Path, ...],
) -> None:
    """List quarantined rows, oldest first: source, row, field, value and reason.

    \b
    After fixing a file and loading it again, clear its old rejects:
      koc rejects --clear --source orders.csv
      koc rejects --clear                      # the whole quarantine
    """
    if sources and not clear:
        raise click.UsageError("--source selects what --clear deletes; add --clear.")
    if clear:
        # stored sources are resolved paths (koc ingest) or 'api' (POST /events)
        names = [str(s) if str(s) == "api" else str(s.resolve()) for s in sources] or None
        with ctx.open_store() as store:
            n = store.clear_rejects(names)
        what = ", ".join(names) if names else "every source"
        if as_json:
            echo_json({"cleared": n, "sources": names})
        else:
            click.echo(f"cleared {n:,} quarantined row(s) of {what}")
        return
    with ctx.open_store(read_only=True) as store:
        total = store.counts()["rejects"]
        rows = store.read_rejects(limit=None if (show_all or csv_path) else limit)
    if csv_path is not None:
        pacsv.write_csv(rows, str(csv_path))
        click.echo(f"wrote {rows.num_rows:,} quarantined row(s) to {csv_path}")
        return
    if as_json:
        echo_json(rows.to_pylist())
        return
    console = Console()
    if not total:
        console.print("The quarantine is empty.")
        return
    table = Table(title=f"Quarantine: {rows.num_rows:,} of {total:,} row(s)")
    for col in ("source", "row", "type", "field", "value", "reason"):
        table.add_column(col, overflow="fold")
    for r in rows.to_pylist():
        table.add_row(
            Path(r["source"] or "-").name,
            str(r["row_number"]),
            r["event_type"] or "-",
            r["field"] or "-",
            (r["value"] or "")[:40],
            r["reason"],
        )
    console.print(table)
    if rows.num_rows < total:
        console.print(f"{total - rows.num_rows:,} more; use --all, --json or --csv FILE.")
