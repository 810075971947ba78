"""``koc sync --to neo4j``: copy the embedded store into Neo4j, batched, resumable."""

from __future__ import annotations

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from api.cli._options import progress_option
from api.cli.context import CliContext, echo_json, pass_cli
from graph.duckdb_store import DuckDBStore
from graph.errors import StoreError
from graph.events import EventType
from graph.neo4j_explain import explain_load_queries
from graph.neo4j_store import Neo4jStore, check_neo4j_uri
from graph.neo4j_sync import sync_stores

__all__ = ["command"]


@click.command("sync")
@click.option(
    "--to",
    "target",
    type=click.Choice(["neo4j"]),
    required=True,
    help="Target store (Neo4j named by KOC_NEO4J_URI / KOC_NEO4J_USER / KOC_NEO4J_PASSWORD).",
)
@click.option(
    "--chunk-rows",
    type=click.IntRange(1, 10_000_000),
    default=100_000,
    show_default=True,
    help="Rows per target transaction (each sent as KOC_NEO4J_BATCH_SIZE-row statements).",
)
@click.option("--replace", is_flag=True, help="Delete everything in the target database first.")
@click.option(
    "--check-plans",
    is_flag=True,
    help="EXPLAIN every load statement first and stop if any plan has an Eager operator.",
)
@click.option("--no-run", is_flag=True, help="Do not copy the latest ranking run.")
@click.option("--json", "as_json", is_flag=True, help="Print the copied counts as JSON.")
@progress_option
@pass_cli
def command(
    ctx: CliContext,
    target: str,
    chunk_rows: int,
    replace: bool,
    check_plans: bool,
    no_run: bool,
    as_json: bool,
    progress: bool,
) -> None:
    """Copy users, events, orders, refunds, rejects and the latest run into Neo4j.

    Each chunk is one transaction; loads are idempotent MERGEs, so running the
    command again after an interruption completes the copy and changes nothing
    once complete.

    \b
    Example:
      KOC_NEO4J_URI=neo4j://localhost:7687 KOC_NEO4J_PASSWORD=... koc sync --to neo4j
    """
    settings = ctx.settings
    check_neo4j_uri(settings.neo4j_uri)  # fail on a missing/invalid URI before any work
    console = Console(stderr=True)
    with (
        DuckDBStore(
            settings.db_path,
            threads=settings.db_threads,
            memory_limit=settings.db_memory_limit,
            read_only=True,
        ) as source,
        Neo4jStore.from_settings(settings) as neo,
    ):
        if check_plans:
            eager = {k: v for k, v in explain_load_queries(neo._driver, neo.database).items() if v}
            if eager:
                listed = "; ".join(f"{name}: {', '.join(ops)}" for name, ops in eager.items())
                raise StoreError(
                    f"Load plans with an Eager operator ({listed}). Check the Neo4j version "
                    "(5.7+ needed) and docs/neo4j.md before loading.",
                    eager=eager,
                )
        if replace:
            neo.wipe()
        counts = source.counts()
        total = sum(counts[t.value] for t in EventType) + counts["rejects"]
        show = progress and not as_json and console.is_terminal
        with Progress(
            TextColumn("{task.description:>10}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=console,
            disable=not show,
            transient=True,
        ) as bar:
            task = bar.add_task("sync", total=total)

            def on_progress(record_type: str, rows: int) -> None:
                bar.update(task, advance=rows, description=record_type)

            result = sync_stores(
                source, neo, chunk_rows=chunk_rows, progress=on_progress, include_run=not no_run
            )
    payload = {
        "target": settings.neo4j_uri,
        "inserted": result.inserted,
        "duplicates": result.duplicates,
        "rejects": result.rejects,
        "run_id": result.run_id,
    }
    if as_json:
        echo_json(payload)
        return
    out = Console()
    for name, n in result.inserted.items():
        out.print(f"{name:>10}  {n:>12,} new  {result.duplicates[name]:>12,} already there")
    out.print(f"rejects: {result.rejects:,} new; run copied: {result.run_id or 'none'}")
