"""``koc ingest``: validate files, quarantine bad rows, load the rest idempotently."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from api.cli._options import progress_option
from api.cli.context import CliContext, echo_json, pass_cli
from graph.events import EventType
from graph.ingest import IngestOptions, IngestSummary, ingest_files
from graph.ingest.readers import FORMATS
from graph.ingest.sources import SOURCES

__all__ = ["command", "print_summary"]


def print_summary(summary: IngestSummary, console: Console) -> None:
    """Human-readable summary: counts per record type, warnings, example rejects."""
    table = Table(title="koc ingest")
    for col in ("records", "inserted", "duplicates", "rejected"):
        table.add_column(col, justify="left" if col == "records" else "right")
    for name, c in summary.by_type.items():
        table.add_row(name, f"{c.inserted:,}", f"{c.duplicates:,}", f"{c.rejected:,}")
    table.add_row(
        "[bold]total[/bold]",
        f"{summary.inserted:,}",
        f"{summary.duplicates:,}",
        f"{summary.rejected:,}",
    )
    console.print(table)
    rate = f", {summary.read / summary.seconds:,.0f} rows/s" if summary.seconds > 0 else ""
    console.print(
        f"read {summary.read:,} rows from {len(summary.files)} file(s) in {summary.seconds:.1f} s{rate}"
    )
    for w in summary.warnings:
        console.print(f"[yellow]warning:[/yellow] {w}")
    if summary.rejected:
        console.print(f"[red]{summary.rejected:,} row(s) quarantined[/red], for example:")
        for sample in summary.reject_samples[:10]:
            console.print(f"  {sample.message}", markup=False, highlight=False)
        console.print("List them all with `koc rejects` (or pass --rejects FILE).")


@click.command("ingest")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default=None,
    help="Input format (default: from the extension; .gz is read transparently).",
)
@click.option(
    "--type",
    "event_type",
    type=click.Choice([t.value for t in EventType]),
    default=None,
    help="Record type of every row (default: each row's 'type' column).",
)
@click.option(
    "--map",
    "mapping",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Column mapping TOML (your column names -> KOC fields); see docs/ingestion.md.",
)
@click.option(
    "--source",
    "dataset",
    type=click.Choice(sorted(SOURCES)),
    default=None,
    help="Read the files as a known public dataset: higgs (SNAP Higgs Twitter activity: "
    "RT -> forward, RE/MT -> comment) or beibei (BeiBei group-buying lines "
    "'initiator item participant...': a share per line, then a view and a 1.00 CNY "
    "order per participant, line order as time); see docs/ingestion.md.",
)
@click.option(
    "--rejects",
    "rejects_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the quarantined rows of this run to this CSV file.",
)
@click.option(
    "--unknown-columns",
    type=click.Choice(["warn", "reject", "ignore"]),
    default=None,
    help="Columns that are not KOC fields (default: KOC_UNKNOWN_COLUMNS or warn).",
)
@click.option(
    "--batch-rows",
    type=click.IntRange(1, 10_000_000),
    default=None,
    help="Rows per batch / transaction (default: KOC_INGEST_BATCH_ROWS, else 500,000; "
    "50,000 on Neo4j).",
)
@click.option("--strict", is_flag=True, help="Exit with status 1 when any row was rejected.")
@click.option(
    "--allow-all-rejected",
    is_flag=True,
    help="Exit with status 0 even when every row of a file was rejected (by default that "
    "exits with status 1: usually a wrong --map or --type).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON (for scripts).")
@progress_option
@pass_cli
def command(
    ctx: CliContext,
    files: tuple[Path, ...],
    fmt: str | None,
    event_type: str | None,
    mapping: Path | None,
    dataset: str | None,
    rejects_path: Path | None,
    unknown_columns: str | None,
    batch_rows: int | None,
    strict: bool,
    allow_all_rejected: bool,
    as_json: bool,
    progress: bool,
) -> None:
    """Validate FILES (CSV, JSON Lines, Parquet, XLSX; optionally .gz) and load them into the store.

    Every row is checked; invalid rows go to the quarantine (see `koc rejects`)
    with file, line, field, value and reason. Loading the same file twice
    changes nothing, and an interrupted load can simply be run again. A file whose
    rows were all rejected makes the command exit with status 1.

    \b
    Examples:
      koc ingest events.csv.gz                      # rows carry a 'type' column
      koc ingest orders.parquet --type order
      koc ingest export.csv --map mapping.toml --rejects bad.csv --strict
      koc ingest --source higgs higgs-activity_time.txt.gz
      koc ingest --source beibei test.txt tune.txt invalid.txt
    """
    if dataset is not None and (event_type is not None or mapping is not None):
        raise click.UsageError(
            f"--source {dataset} fixes the record types and columns of its files; "
            "drop --type and --mapping (they are for your own CSV/JSONL/Parquet files)."
        )
    settings = ctx.settings
    console = Console(stderr=True)
    show = progress and not as_json and console.is_terminal
    with (
        ctx.open_store(create=True) as store,
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
            console=console,
            disable=not show,
            transient=True,
        ) as bar,
    ):
        tasks: dict[str, TaskID] = {}

        def on_progress(source: str, done: int, total: int) -> None:
            if source not in tasks:
                tasks[source] = bar.add_task(Path(source).name, total=total)
            bar.update(tasks[source], completed=done, total=total)

        options = IngestOptions.from_settings(
            settings,
            fmt=fmt,
            event_type=event_type,
            mapping=mapping,
            strict=strict,
            unknown_columns=unknown_columns,
            batch_rows=batch_rows,
            dataset=dataset,
        )
        summary = ingest_files(
            store, list(files), options, progress=on_progress, rejects_path=rejects_path
        )
    if as_json:
        echo_json(summary.to_dict())
    else:
        print_summary(summary, Console())
    refused = [] if allow_all_rejected else summary.all_rejected
    for source in refused:
        click.echo(
            f"Error: every row of {source} was rejected; nothing of it was loaded. Check "
            "--map / --type against `koc rejects`, fix and load it again, then "
            f"`koc rejects --clear --source {source}` (or pass --allow-all-rejected).",
            err=True,
        )
    if summary.failed or refused:
        # sys.exit, not ctx.exit: `koc` runs click with standalone_mode=False,
        # where ctx.exit's status would be swallowed
        sys.exit(1)
