"""``koc synth``: write a realistic, deterministic demo data set."""

from __future__ import annotations

from pathlib import Path

import click
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from api.cli._options import progress_option
from api.cli.context import echo_json
from graph.synth import (
    MIN_USERS,
    OBSERVABILITY,
    AdversarialParams,
    SynthParams,
    generate,
    generate_adversarial,
)

__all__ = ["command"]


@click.command(name="synth")
@click.option(
    "--users",
    "-n",
    type=click.IntRange(min=MIN_USERS),
    default=20_000,
    show_default=True,
    help="Number of users; about 10 events per user are generated (heavy-tailed).",
)
@click.option(
    "--seed",
    "-s",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Random seed; the same seed, size and format give byte-identical files.",
)
@click.option(
    "--out",
    "-o",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Output directory (created if missing; files of the same names are replaced).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "parquet", "jsonl"]),
    default="csv",
    show_default=True,
    help="Event file format: gzip CSV (*.csv.gz), Parquet (*.parquet, timestamps as "
    "epoch ms) or gzip JSON lines (*.jsonl.gz).",
)
@click.option(
    "--chunk-users",
    type=click.IntRange(min=1_000),
    default=50_000,
    show_default=True,
    help="Users generated and written per chunk; bounds memory. Changing it changes the data.",
)
@click.option(
    "--world",
    type=click.Choice(["standard", "adversarial"]),
    default="standard",
    show_default=True,
    help="standard: the demo world; adversarial: a second model built to break naive "
    "scores (undeclared staff, fraud rings, coincidental tokens, partial view logs; "
    "October held out, only in the ground truth).",
)
@click.option(
    "--observability",
    type=click.Choice(list(OBSERVABILITY)),
    default="high",
    show_default=True,
    help="Adversarial world only: how much of what happened the event log shows.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON (no progress bar).")
@progress_option
def command(
    users: int,
    seed: int,
    out_dir: Path,
    fmt: str,
    chunk_users: int,
    world: str,
    observability: str,
    as_json: bool,
    progress: bool,
) -> None:
    """Generate demo data: users, shares, views, forwards, comments, referrals, orders, refunds.

    \b
    Writes into OUT one file per record type (users.csv.gz, shares.csv.gz, ...),
    broken.csv (about 0.1% deliberately invalid rows, to exercise the quarantine),
    ground_truth.json + ground_truth_users.parquet (planted KOCs, true roles,
    communities, true referred GMV per month: for evaluation only, never ingest
    them) and manifest.json (files, row counts, checksums). Events span
    2026-07-01 to 2026-10-31 China time. See docs/synth.md.

    \b
    Example:
      koc synth --users 20000 --seed 7 --out demo/
      koc ingest demo/*.csv.gz
      koc synth --world adversarial --observability low --users 100000 --out adv/
    """
    params = SynthParams(users=users, seed=seed, chunk_users=chunk_users)
    if world == "adversarial":
        result = generate_adversarial(
            out_dir,
            AdversarialParams(users=users, seed=seed, observability=observability),
            fmt=fmt,
        )
    elif as_json or not progress:
        result = generate(out_dir, params, fmt=fmt)
    else:
        with Progress(
            TextColumn("[bold]koc synth[/bold] {task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            transient=False,
        ) as bar:
            task = bar.add_task("starting", total=None)

            def on_progress(stage: str, done: int, total: int) -> None:
                bar.update(task, description=stage, completed=done, total=total)

            result = generate(out_dir, params, fmt=fmt, progress=on_progress)
    summary = {
        "out_dir": str(result.out_dir.resolve()),
        "rows": result.counts,
        "total_rows": result.total_rows,
        "broken_rows": result.broken_rows,
        "seconds": round(result.seconds, 2),
    }
    if as_json:
        echo_json(summary)
        return
    click.echo(
        f"Wrote {result.total_rows:,} rows ({users:,} users, seed {seed}) "
        f"in {result.seconds:.1f}s to {summary['out_dir']}"
    )
    for entry in result.files:
        click.echo(f"  {entry['name']:<22} {entry['rows']:>12,} rows")
    click.echo("  ground_truth.json, ground_truth_users.parquet: evaluation only, do not ingest")
    if world == "adversarial":
        click.echo("  roster_employees.csv: declared employees, for `koc roles import`")
    click.echo("  manifest.json: files, row counts and SHA-256 checksums")
