"""``koc demo``: the main job end to end on the embedded store.

It runs the same subcommands a user would type, in order, so the demo exercises
exactly the product's own code paths:

``synth`` -> ``ingest`` -> ``roles infer`` -> ``rank`` -> ``top`` -> ``commissions run`` ->
``commissions close`` -> ``commissions report`` (csv, xlsx, html) -> ``evaluate``.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import click

from api.cli._options import progress_option
from api.cli.context import CliContext
from graph.errors import ConflictError, ScoringError

__all__ = ["command"]

#: the demo data covers 2026-07 .. 2026-10 (see docs/synth.md); these months get closed
DEMO_PERIODS = ("2026-07", "2026-08", "2026-09", "2026-10")


def _step(title: str) -> None:
    click.secho(f"\n==> {title}", fg="cyan", bold=True)


def _run(ctx: click.Context, path: str, **params: Any) -> Any:
    """Invoke the subcommand named by ``path`` (``"commissions run"``) with ``params``.

    Options not given take their defaults, exactly as on the command line.
    """
    command: click.Command | None = ctx.find_root().command
    for name in path.split():
        assert isinstance(command, click.Group)
        command = command.get_command(ctx, name)
        if command is None:
            raise click.ClickException(f"`koc {path}` is not available in this installation")
    assert command is not None
    return ctx.invoke(command, **params)


def _write_leaderboard(ctx: CliContext, path: Path, limit: int) -> int:
    from api.services.ranking import leaderboard

    with ctx.open_store() as store:
        rows = leaderboard(store, limit=limit)
    path.parent.mkdir(parents=True, exist_ok=True)
    # rank: position on this consumer leaderboard; overall_rank: the user's rank in the run
    columns = ["rank", "overall_rank", "user_id", "score", "rank_change", "role", "community"]
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow([*columns, "breakdown"])
        for row in rows:
            breakdown = " ".join(
                f"{k}={v:.4f}" for k, v in sorted((row.get("breakdown") or {}).items()) if v
            )
            writer.writerow([row.get(c) for c in columns] + [breakdown])
    return len(rows)


@click.command("demo")
@click.option(
    "--users",
    "-n",
    type=click.IntRange(200),
    default=20_000,
    show_default=True,
    help="Size of the generated demo population.",
)
@click.option(
    "--seed",
    "-s",
    type=click.IntRange(0),
    default=7,
    show_default=True,
    help="Random seed of the generator (same seed, same files).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("demo"),
    show_default=True,
    help="Where the generated files go.",
)
@click.option(
    "--reports",
    "reports_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("reports"),
    show_default=True,
    help="Where the leaderboard, commission reports and quarantine file go.",
)
@click.option(
    "--top",
    "top_n",
    type=click.IntRange(1, 1000),
    default=20,
    show_default=True,
    help="Leaderboard rows to print.",
)
@progress_option
@click.pass_context
def command(
    click_ctx: click.Context,
    users: int,
    seed: int,
    out_dir: Path,
    reports_dir: Path,
    top_n: int,
    progress: bool,
) -> None:
    """Run the whole pipeline on generated data: synth, ingest, rank, leaderboard, commissions.

    Safe to run again: ingestion is idempotent, a new ranking run is recorded, and the
    commission ledger only appends. Outputs: the store that every later koc command
    reads (--db or KOC_DB_PATH, default data/koc.duckdb), the generated files in --out,
    and in --reports: leaderboard.csv, rejects.csv and the commission reports of the
    last demo month (CSV, XLSX, HTML).
    """
    ctx: CliContext = click_ctx.obj
    reports_dir.mkdir(parents=True, exist_ok=True)

    _step(f"1/7 generate {users:,} users of demo data into {out_dir}/")
    _run(click_ctx, "synth", users=users, seed=seed, out_dir=out_dir, progress=progress)

    _step("2/7 validate and load (bad rows go to the quarantine)")
    files = sorted(out_dir.glob("*.csv.gz")) + [out_dir / "broken.csv"]
    # broken.csv is bad rows only, on purpose: it must not fail the demo
    _run(
        click_ctx,
        "ingest",
        files=tuple(files),
        rejects_path=reports_dir / "rejects.csv",
        allow_all_rejected=True,
        progress=progress,
    )

    _step("3/7 infer the roles of undeclared users (employees, KOLs, consumers)")
    try:
        _run(click_ctx, "roles infer")
    except ScoringError as exc:  # a small demo may have too few declared staff to learn from
        click.echo(f"roles stay as declared: {exc.message}")

    _step("4/7 rank every user (PageRank, reach, engagement, conversion, spend)")
    _run(click_ctx, "rank", progress=progress)

    _step(f"5/7 the KOC leaderboard (top {top_n})")
    _run(click_ctx, "top", limit=top_n)
    n = _write_leaderboard(ctx, reports_dir / "leaderboard.csv", limit=1000)
    click.echo(f"wrote {reports_dir / 'leaderboard.csv'} ({n} rows)")

    _step("6/7 referral commissions: attribute, close the demo months, report")
    _run(click_ctx, "commissions run")
    try:
        _run(click_ctx, "commissions close", period=DEMO_PERIODS[-1], yes=True)
    except ConflictError as exc:  # a second demo run: the months are closed already
        click.echo(f"kept as is: {exc.message}")
    _run(
        click_ctx, "commissions report", period=DEMO_PERIODS[-1], fmts=("all",), out_dir=reports_dir
    )

    _step("7/7 ranking quality against the generator's ground truth")
    _run(click_ctx, "evaluate", truth_dir=out_dir, progress=progress)

    click.secho(
        f"\nDone. Store: {ctx.settings.db_path}; reports: {reports_dir}/ "
        f"(open {reports_dir}/commissions-{DEMO_PERIODS[-1]}.html in a browser). "
        "Next: `koc serve` for the HTTP API and the leaderboard page.",
        fg="green",
    )
