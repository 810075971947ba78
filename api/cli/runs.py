"""``koc runs``: list ranking runs, show one, and diff two (rising and falling KOCs)."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from api.cli._ranking_common import format_change, run_summary
from api.cli.context import CliContext, echo_json, pass_cli
from api.services.ranking import is_abandoned, rank_changes, resolve_run

__all__ = ["command"]


@click.group("runs", invoke_without_command=True)
@click.option(
    "--limit",
    "-n",
    type=click.IntRange(1, 10_000),
    default=20,
    show_default=True,
    help="Runs to show, newest first.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def command(click_ctx: click.Context, limit: int, as_json: bool) -> None:
    """List ranking runs, newest first (subcommands: show, diff)."""
    if click_ctx.invoked_subcommand is not None:
        return
    ctx = click_ctx.find_object(CliContext) or CliContext()
    with ctx.open_store(read_only=True) as store:
        runs = store.list_runs(limit=limit)
    if as_json:
        echo_json([run_summary(r) for r in runs])
        return
    table = Table(title="ranking runs")
    for name in ("run", "created", "status", "config", "users", "seconds"):
        table.add_column(name)
    for r in runs:
        table.add_row(
            r.run_id,
            f"{r.created_at:%Y-%m-%d %H:%M:%S}",
            "abandoned" if is_abandoned(r) else r.status,
            r.config_hash,
            f"{r.row_counts.get('users', 0):,}",
            f"{r.timings.get('total', 0):.2f}",
        )
    Console().print(table)
    if not runs:
        Console().print("No runs yet; run `koc rank`.")


@command.command("show")
@click.argument("run_id", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_cli
def show(ctx: CliContext, run_id: str | None, as_json: bool) -> None:
    """Show the run RUN_ID (default: the latest succeeded): window, watermark, timings, counts."""
    with ctx.open_store(read_only=True) as store:
        run = resolve_run(store, run_id)
    payload = run_summary(run)
    if as_json:
        echo_json({**payload, "params": run.params})
        return
    console = Console()
    for key in (
        "run_id",
        "created_at",
        "status",
        "config_hash",
        "window_start",
        "window_end",
        "watermark",
        "error",
    ):
        console.print(f"[bold]{key}[/bold]: {payload[key] if payload[key] is not None else '-'}")
    console.print(
        "[bold]timings (s)[/bold]: " + ", ".join(f"{k} {v:.3f}" for k, v in run.timings.items())
    )
    console.print(
        "[bold]rows[/bold]: " + ", ".join(f"{k} {v:,}" for k, v in run.row_counts.items())
    )
    weights = run.params.get("weights", {}) if run.params else {}
    console.print("[bold]weights[/bold]: " + ", ".join(f"{k} {v:.3f}" for k, v in weights.items()))


@command.command("diff")
@click.argument("run_id", required=False)
@click.option("--against", default=None, help="Older run (default: the run before RUN_ID).")
@click.option(
    "--limit",
    "-n",
    type=click.IntRange(1, 10_000),
    default=10,
    show_default=True,
    help="Risers and fallers to show, each.",
)
@click.option("--include-staff", is_flag=True, help="Keep employees and KOLs.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_cli
def diff(
    ctx: CliContext,
    run_id: str | None,
    against: str | None,
    limit: int,
    include_staff: bool,
    as_json: bool,
) -> None:
    """Rising and falling users between RUN_ID (default: latest) and the run before it."""
    with ctx.open_store(read_only=True) as store:
        changes = rank_changes(store, run_id, limit, against=against, include_staff=include_staff)
    if as_json:
        echo_json(changes)
        return
    console = Console()
    if changes["previous_run_id"] is None:
        console.print(f"Run {changes['run_id']} has no earlier run to compare with.")
        return
    console.print(
        f"{changes['run_id']} vs {changes['previous_run_id']}: {changes['compared']:,} users "
        f"in both, {changes['entered']:,} new"
    )
    for key in ("rising", "falling"):
        table = Table(title=key)
        for name in ("rank", "was", "change", "user", "role", "score"):
            table.add_column(name)
        for r in changes[key]:
            table.add_row(
                str(r["rank"]),
                str(r["previous_rank"]),
                format_change(r["rank_change"]),
                r["user_id"],
                r["role"] or "",
                f"{r['score']:.4f}",
            )
        console.print(table)
