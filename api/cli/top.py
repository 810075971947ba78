"""``koc top``: the KOC leaderboard of a ranking run."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from api.cli._ranking_common import format_breakdown, format_change, format_why
from api.cli.context import CliContext, echo_json, pass_cli
from api.services.ranking import SORT_KEYS, leaderboard
from graph.events import Role

__all__ = ["command"]


@click.command("top")
@click.option(
    "--limit",
    "-n",
    type=click.IntRange(1, 10_000),
    default=20,
    show_default=True,
    help="Rows to show.",
)
@click.option("--run", "run_id", default=None, help="Run id (default: the latest succeeded run).")
@click.option(
    "--role",
    type=click.Choice([r.value for r in Role]),
    default=None,
    help="Only this role (as at the run).",
)
@click.option("--community", type=int, default=None, help="Only this community.")
@click.option("--min-score", type=float, default=None, help="Only scores at or above this.")
@click.option(
    "--sort",
    type=click.Choice(SORT_KEYS),
    default="score",
    show_default=True,
    help="score: best first; rank_change: biggest risers first.",
)
@click.option("--after-rank", type=int, default=None, help="Page on: rows after this rank.")
@click.option(
    "--segment",
    default=None,
    help="Only members of this saved or built-in segment (`koc segments list`).",
)
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
    segment: str | None,
    include_staff: bool,
    as_json: bool,
) -> None:
    """Show the leaderboard: rank, user, score, change since the previous run, breakdown.

    `#` is the position in this list, `rank` the user's rank in the whole run.
    Employees and KOLs are left out of the consumer KOC leaderboard unless
    --include-staff is given or --role names them. Roles are the run's (as at
    ranking time), and a role that changed since (`koc roles import/infer`) is
    shown as `now (run: then)`; --json rows carry both (`role`, `role_now`).

    \b
    Examples:
      koc top --limit 50
      koc top --role consumer --community 3
      koc top --sort rank_change --json
      koc top --segment at_risk_kocs
    """
    from api.services.roles import current_roles
    from api.services.segments import segment_row_mask

    with ctx.open_store(read_only=True) as store:
        mask = None if segment is None else segment_row_mask(store, segment, run_id)
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
            mask=mask,
        )
        now = current_roles(store, [r["user_id"] for r in rows])
    for r in rows:
        r["role_now"] = now.get(r["user_id"], {}).get("role", r["role"])
    if as_json:
        echo_json(rows)
        return
    console = Console()
    run_label = rows[0]["run_id"] if rows else (run_id or "latest run")
    table = Table(title=f"KOC leaderboard ({run_label})")
    for name, justify in (
        ("#", "right"),
        ("rank", "right"),
        ("user", "left"),
        ("score", "right"),
        ("change", "right"),
        ("role", "left"),
        ("community", "right"),
        ("top contributions", "left"),
        ("why", "left"),
    ):
        table.add_column(name, justify=justify, no_wrap=name == "user")  # type: ignore[arg-type]
    for r in rows:
        role = r["role"] or ""
        if r["role_now"] != r["role"]:
            role = f"{r['role_now']} (run: {role})"
        table.add_row(
            str(r["rank"]),
            str(r["overall_rank"]),
            r["user_id"],
            f"{r['score']:.4f}",
            format_change(r["rank_change"]),
            role,
            "" if r["community"] is None else str(r["community"]),
            format_breakdown(r["breakdown"]),
            format_why(r.get("why", {})),
        )
    console.print(table)
    changed = sum(r["role_now"] != r["role"] for r in rows)
    if changed:
        console.print(
            f"{changed} row(s) have another role now than at this run (shown as 'now (run: "
            "then)'); filters and the staff rule use the run's roles until the next `koc rank`."
        )
    if not rows:
        console.print("No rows match; loosen the filters (or --include-staff).")
