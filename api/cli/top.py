"""``koc top``: the KOC leaderboard of a ranking run."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from api.cli._ranking_common import format_breakdown, format_change
from api.cli.context import CliContext, echo_json, pass_cli
from api.services.ranking import SORT_KEYS, leaderboard
from graph.events import Role

__all__ = ["command"]


@click.command("top")
@click.option("--limit", "-n", type=click.IntRange(1, 10_000), default=20, show_default=True)
@click.option("--run", "run_id", default=None, help="Run id (default: the latest succeeded run).")
@click.option("--role", type=click.Choice([r.value for r in Role]), default=None)
@click.option("--community", type=int, default=None, help="Only this community.")
@click.option("--min-score", type=float, default=None, help="Only scores at or above this.")
@click.option("--sort", type=click.Choice(SORT_KEYS), default="score", show_default=True)
@click.option("--after-rank", type=int, default=None, help="Page on: rows after this rank.")
@click.option(
    "--include-staff", is_flag=True, help="Keep employees and KOLs (left out by default)."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON rows.")
@pass_cli
def command(
    ctx: CliContext,
    limit: int,
    run_id: str | None,
    role: str | None,
    community: int | None,
    min_score: float | None,
    sort: str,
    after_rank: int | None,
    include_staff: bool,
    as_json: bool,
) -> None:
    """Show the leaderboard: rank, user, score, change since the previous run, breakdown.

    Employees and KOLs are left out of the consumer KOC leaderboard unless
    --include-staff is given or --role names them.

    \b
    Examples:
      koc top --limit 50
      koc top --role consumer --community 3
      koc top --sort rank_change --json
    """
    with ctx.open_store() as store:
        rows = leaderboard(
            store,
            run_id=run_id,
            role=role,
            community=community,
            min_score=min_score,
            sort=sort,
            limit=limit,
            after_rank=after_rank,
            include_staff=include_staff,
        )
    if as_json:
        echo_json(rows)
        return
    console = Console()
    run_label = rows[0]["run_id"] if rows else (run_id or "latest run")
    table = Table(title=f"KOC leaderboard ({run_label})")
    for name, justify in (
        ("#", "right"),
        ("user", "left"),
        ("score", "right"),
        ("change", "right"),
        ("role", "left"),
        ("community", "right"),
        ("top contributions", "left"),
    ):
        table.add_column(name, justify=justify, no_wrap=name == "user")  # type: ignore[arg-type]
    for r in rows:
        table.add_row(
            str(r["rank"]),
            r["user_id"],
            f"{r['score']:.4f}",
            format_change(r["rank_change"]),
            r["role"] or "",
            "" if r["community"] is None else str(r["community"]),
            format_breakdown(r["breakdown"]),
        )
    console.print(table)
    if not rows:
        console.print("No rows match; loosen the filters (or --include-staff).")
