"""``koc campaign plan|review|list|show``: choose seed customers, record and review plans."""

from __future__ import annotations

from contextlib import closing
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from api.cli._ranking_common import UtcDateTime
from api.cli.context import CliContext, echo_json, pass_cli
from api.services.campaigns import PlanRequest, list_plans, load_plan, plan_campaign, review_plan
from graph.money import format_money

__all__ = ["command"]


@click.group("campaign")
def command() -> None:
    """Plan a seeding campaign: the K customers whose shares reach the most people.

    \b
    Independent cascade (or linear threshold) with per-tie probabilities learned from
    the history (Goyal et al. 2010, smoothed toward a global prior), seeds by IMM
    (Tang, Shi, Xiao 2015: (1 - 1/e - epsilon)-optimal) or CELF; expected spread with
    a 95% interval from independent simulations, next to top K by KOC score, top K by
    degree and random K. Plans are recorded; `koc campaign review ID` compares them
    with what happened.
    """


def _decimal(_ctx: Any, _param: Any, value: str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        raise click.BadParameter(f"{value!r} is not an amount (e.g. 500 or 499.50).") from None


def _print_plan(plan: dict[str, Any]) -> None:
    spread = plan["expected_spread"]
    click.echo(
        f"Plan {plan['plan_id']}: {len(plan['seeds'])} seeds by {plan['algorithm'].upper()} "
        f"({plan['model'].upper()}); expected spread {spread['mean']:.1f} "
        f"(95% CI {spread['low']:.1f}-{spread['high']:.1f}, {plan['params']['runs']} simulations)"
    )
    table = Table(title="Seeds, in order of choice")
    for col in ("#", "user", "marginal gain", "cost"):
        table.add_column(col, justify="right" if col != "user" else "left")
    for i, s in enumerate(plan["seeds"], 1):
        cost = s.get("cost")
        table.add_row(
            str(i),
            s["user_id"],
            f"{s['marginal_gain']:.2f}",
            "" if cost is None else format_money(cost),
        )
    Console().print(table)
    base = Table(title="Same simulations for the baselines")
    for col in ("seeds", "expected spread", "95% CI"):
        base.add_column(col)
    base.add_row("this plan", f"{spread['mean']:.1f}", f"{spread['low']:.1f}-{spread['high']:.1f}")
    for name, b in plan["baselines"].items():
        base.add_row(name.replace("_", " "), f"{b['mean']:.1f}", f"{b['low']:.1f}-{b['high']:.1f}")
    Console().print(base)


@command.command("plan")
@click.option(
    "--k",
    "k",
    type=int,
    default=50,
    show_default=True,
    help="Seeds to choose (with a budget: the most).",
)
@click.option(
    "--segment",
    default=None,
    help="Only members of this saved segment (koc segments) may be seeds.",
)
@click.option(
    "--exclude-recent-seeds",
    "exclude_recent",
    type=float,
    default=None,
    metavar="DAYS",
    help="Leave out the seeds of plans recorded in the last DAYS days.",
)
@click.option(
    "--exclude", multiple=True, metavar="USER", help="A user who must not be a seed (repeatable)."
)
@click.option(
    "--budget",
    callback=_decimal,
    default=None,
    metavar="AMOUNT",
    help="Largest total seed cost (needs --cost-field).",
)
@click.option(
    "--cost-field",
    default=None,
    metavar="F",
    help="The user attrs key holding each user's seed cost (users without it are never seeds).",
)
@click.option(
    "--model",
    type=click.Choice(["ic", "lt"]),
    default="ic",
    show_default=True,
    help="Independent cascade or linear threshold.",
)
@click.option(
    "--algorithm",
    type=click.Choice(["imm", "celf"]),
    default="imm",
    show_default=True,
    help="IMM (scales) or CELF on Monte-Carlo spread (small graphs).",
)
@click.option(
    "--epsilon", type=float, default=0.2, show_default=True, help="IMM's approximation slack."
)
@click.option(
    "--probability",
    type=click.Choice(["learned", "global"]),
    default="learned",
    show_default=True,
    help="Per-tie probabilities from history, or one for every tie.",
)
@click.option(
    "--global-p",
    type=float,
    default=0.01,
    show_default=True,
    help="The probability of every tie with --probability global (the GDS mode).",
)
@click.option(
    "--runs",
    type=int,
    default=1000,
    show_default=True,
    help="Simulations for the confidence intervals.",
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Random seed (same seed, same plan)."
)
@click.option("--start", type=UtcDateTime(), default=None, help="History window start (inclusive).")
@click.option("--end", type=UtcDateTime(), default=None, help="History window end (exclusive).")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@pass_cli
def plan(
    ctx: CliContext,
    k: int,
    segment: str | None,
    exclude_recent: float | None,
    exclude: tuple[str, ...],
    budget: Decimal | None,
    cost_field: str | None,
    model: str,
    algorithm: str,
    epsilon: float,
    probability: str,
    global_p: float,
    runs: int,
    seed: int,
    start: datetime | None,
    end: datetime | None,
    as_json: bool,
) -> None:
    """Choose and record the seeds of a campaign; print them with the baselines."""
    request = PlanRequest(
        k=k,
        epsilon=epsilon,
        model=model,
        algorithm=algorithm,
        probability=probability,
        global_p=global_p,
        budget=budget,
        cost_field=cost_field,
        exclude_recent_seeds=exclude_recent,
        exclude=tuple(exclude),
        segment=segment,
        runs=runs,
        seed=seed,
        start=start,
        end=end,
    )
    with closing(ctx.open_store()) as store:
        result = plan_campaign(store, request)
    if as_json:
        echo_json(result)
    else:
        _print_plan(result)


@command.command("review")
@click.argument("plan_id")
@click.option(
    "--start",
    type=UtcDateTime(),
    default=None,
    help="When the campaign started (default: when the plan was recorded).",
)
@click.option("--end", type=UtcDateTime(), default=None, help="End of the review window.")
@click.option("--json", "as_json", is_flag=True, help="Print the review as JSON.")
@pass_cli
def review(
    ctx: CliContext, plan_id: str, start: datetime | None, end: datetime | None, as_json: bool
) -> None:
    """Compare PLAN_ID's predicted spread with the realised spread and GMV (recorded)."""
    with closing(ctx.open_store()) as store:
        result = review_plan(store, plan_id, start=start, end=end)
    if as_json:
        echo_json(result)
        return
    click.echo(
        f"Plan {result['plan_id']} from {result['start']:%Y-%m-%d %H:%M}: predicted spread "
        f"{result['predicted_spread']:.1f} (95% CI {result['predicted_low']:.1f}-"
        f"{result['predicted_high']:.1f}), realised {result['realised_spread']} users; "
        f"{result['orders']} orders by reached users, GMV {format_money(result['gmv'])}."
    )


@command.command("list")
@click.option(
    "--limit",
    "-n",
    type=click.IntRange(1, 10_000),
    default=20,
    show_default=True,
    help="Plans to show, newest first.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@pass_cli
def list_(ctx: CliContext, limit: int, as_json: bool) -> None:
    """Recorded plans, newest first."""
    with closing(ctx.open_store()) as store:
        plans = list_plans(store, limit)
    if as_json:
        echo_json(plans)
        return
    table = Table(title="Campaign plans")
    for col in ("plan", "created", "algorithm", "model", "seeds", "expected spread"):
        table.add_column(col)
    for p in plans:
        table.add_row(
            p["plan_id"],
            f"{p['created_at']:%Y-%m-%d %H:%M}",
            p["algorithm"],
            p["model"],
            str(p["seeds"]),
            f"{p['expected_spread']:.1f}",
        )
    Console().print(table)


@command.command("show")
@click.argument("plan_id")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@pass_cli
def show(ctx: CliContext, plan_id: str, as_json: bool) -> None:
    """The recorded plan PLAN_ID with its seeds, baselines and reviews."""
    with closing(ctx.open_store()) as store:
        result = load_plan(store, plan_id)
    if as_json:
        echo_json(result)
    else:
        _print_plan(result)
        for r in result["reviews"]:
            click.echo(
                f"review {r['review_id']}: realised {r['realised_spread']}, GMV {format_money(r['gmv'])}"
            )
