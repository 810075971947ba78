"""``koc rank``: score every user and store the result as a ranking run."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from api.cli._options import progress_option
from api.cli._ranking_common import UtcDateTime, config_option, run_summary, step_progress
from api.cli.context import CliContext, echo_json, pass_cli
from api.services.ranking import run_ranking
from influence.config import load_score_config

__all__ = ["command"]


@click.command("rank")
@config_option
@click.option("--start", type=UtcDateTime(), default=None, help="Window start (inclusive).")
@click.option("--end", type=UtcDateTime(), default=None, help="Window end (exclusive).")
@click.option(
    "--engine",
    type=click.Choice(["numpy", "spark"]),
    default="numpy",
    show_default=True,
    help="numpy: one machine, in memory. spark: Apache Spark DataFrames over the Parquet lake "
    "(same results; communities by the same method on a strongest-ties backbone).",
)
@click.option(
    "--master",
    default=None,
    help="Spark master for --engine spark: local[2], spark://host:7077, yarn, k8s://https://... "
    "(default: KOC_SPARK_MASTER or local[2]).",
)
@click.option(
    "--lake",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Lake folder --engine spark exports the store to and reads "
    "(default: KOC_LAKE_PATH or <db>.lake).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the run record as JSON.")
@progress_option
@pass_cli
def command(
    ctx: CliContext,
    config_path: Path | None,
    start: datetime | None,
    end: datetime | None,
    engine: str,
    master: str | None,
    lake: Path | None,
    as_json: bool,
    progress: bool,
) -> None:
    """Rank every user: snapshot, PageRank, reach, engagement, conversion, spend -> KOC score.

    Each call is a run with its own id, config hash, window and timings; `koc top`
    shows its leaderboard and `koc runs diff` compares it with the previous run.

    With --engine spark the store is exported to the Parquet lake (`koc export
    parquet`) and ranked by Spark (needs the 'spark' extra and Java 17); the run is
    stored like any other. For a cluster without the store, see docs/scale.md.
    """
    config = load_score_config(config_path or ctx.settings.scoring_config)
    with (
        ctx.open_store() as store,
        step_progress(progress and not as_json, "ranking") as on_step,
    ):
        if engine == "spark":
            from api.services.spark_components import spark_for_run
            from api.services.spark_ranking import run_ranking_spark

            settings = ctx.settings
            lake_dir = lake or settings.lake_path or Path(f"{settings.db_path}.lake")
            with spark_for_run(master or settings.spark_master) as spark:
                run = run_ranking_spark(
                    store, spark, lake_dir, config, start=start, end=end, progress=on_step
                )
        else:
            run = run_ranking(store, config, start=start, end=end, progress=on_step)
    if as_json:
        echo_json(run_summary(run))
        return
    console = Console()
    table = Table(title=f"ranking run {run.run_id}", show_header=True)
    table.add_column("step")
    table.add_column("seconds", justify="right")
    for step, seconds in run.timings.items():
        table.add_row(step, f"{seconds:.3f}")
    console.print(table)
    counts = run.row_counts
    console.print(
        f"{counts.get('users', 0):,} users, {counts.get('edges', 0):,} edges, "
        f"{counts.get('orders', 0):,} orders ({counts.get('orders_attributed', 0):,} attributed); "
        f"config {run.config_hash}. Next: `koc top`."
    )
    stale = counts.get("staff_by_store_codes", 0)
    if stale:
        click.echo(
            f"Warning: {stale:,} users whose role says consumer or unknown key their referral "
            "code into store orders (the staff channel); they are ranked as employees and "
            "left off the consumer leaderboard. The roster is stale: import it with "
            "`koc roles import FILE --kind employee` (docs/scoring.md).",
            err=True,
        )
    if counts.get("collusion_flagged", 0):
        click.echo(
            f"{counts['collusion_flagged']:,} users were flagged for collusion (buyers on their "
            "device or phone, or buying through each other's links) and score 0.",
            err=True,
        )
