"""``koc export``: write the embedded store in other systems' bulk formats."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from api.cli.context import CliContext, echo_json, pass_cli
from graph.duckdb_store import DuckDBStore
from graph.neo4j_export import export_neo4j_import

__all__ = ["command"]


@click.group("export")
def command() -> None:
    """Export the embedded store for bulk loading elsewhere."""


@command.command("neo4j-import")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--database",
    default=None,
    help="Database name in the printed command (default: KOC_NEO4J_DATABASE or neo4j).",
)
@click.option(
    "--location",
    default=None,
    help="Folder of the files as neo4j-admin sees them, e.g. /import inside the Docker container.",
)
@click.option(
    "--gzip",
    "compress",
    is_flag=True,
    help="Write .csv.gz data files (smaller; export and import are several times slower).",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print rows per file and the command as JSON."
)
@pass_cli
def neo4j_import(
    ctx: CliContext,
    directory: Path,
    database: str | None,
    location: str | None,
    compress: bool,
    as_json: bool,
) -> None:
    """Write node/relationship CSV files and headers for `neo4j-admin database import full`
    into DIRECTORY.

    Reads the embedded store (--db / KOC_DB_PATH) with DuckDB COPY into plain CSV
    (--gzip for .csv.gz) and prints the exact neo4j-admin command
    (--multiline-fields=true only when a field holds a line break). Import into a stopped or new database, then start
    Neo4j; the first `koc ... --store neo4j` creates constraints and indexes.

    \b
    Example (docker-compose.yml mounts ./import at /import):
      koc export neo4j-import import/ --location /import
      docker compose stop neo4j
      docker compose run --rm neo4j <printed command>
      docker compose start neo4j
    """
    settings = ctx.settings
    with DuckDBStore(
        settings.db_path,
        threads=settings.db_threads,
        memory_limit=settings.db_memory_limit,
        read_only=True,
    ) as store:
        plan = export_neo4j_import(
            store,
            directory,
            database=database or settings.neo4j_database,
            location=location,
            compress=compress,
        )
    if as_json:
        echo_json({"directory": str(plan.directory), "rows": plan.rows, "command": plan.command})
        return
    console = Console()
    for name, rows in plan.rows.items():
        console.print(f"{name:>10}  {rows:>12,} rows", highlight=False)
    console.print(f"\nWrote {len(plan.rows) * 2} files to {plan.directory}. Import with:\n")
    click.echo(plan.command)


@command.command("parquet")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print rows per table as JSON.")
@pass_cli
def parquet(ctx: CliContext, directory: Path, as_json: bool) -> None:
    """Write the store into DIRECTORY as the Parquet lake a Spark job reads (users, events,
    orders, refunds).

    Events are partitioned by type, orders and refunds by month; the layout and
    schemas are in docs/scale.md. Works on either store (--store duckdb|neo4j).

    \b
    Example:
      koc export parquet lake/
      python -m api.cli.spark_job --input lake/ --output ranking/ --master local[2]
    """
    from graph.lake import export_lake

    with ctx.open_store(read_only=True) as store:
        summary = export_lake(store, directory)
    if as_json:
        echo_json({"directory": str(summary.directory), "rows": summary.rows})
        return
    console = Console()
    for name, rows in summary.rows.items():
        console.print(f"{name:>16}  {rows:>12,} rows", highlight=False)
    console.print(f"\nWrote the lake to {summary.directory}.")
