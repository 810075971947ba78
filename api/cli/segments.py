"""``koc segments``: saved audiences (create, list, show, members, export, check, lifecycle,
channels). The language is in ``docs/segments.md``."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from api.cli.context import CliContext, echo_json, pass_cli
from api.services import segments as service

__all__ = ["command"]

_RUN = click.option(
    "--run", "run_id", default=None, help="Run id (default: the latest succeeded run)."
)
_JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


@click.group("segments")
def command() -> None:
    """Audiences: named, versioned segment expressions over a ranking run.

    \b
    Examples:
      koc segments create xhs-fans "role = consumer and community in (3, 7) and forwards(30d) >= 2 and not tag:fraud_held and channel_pref = 'xiaohongshu'"
      koc segments list
      koc segments show xhs-fans
      koc segments export at_risk_kocs --out at_risk.csv
      koc top --segment xhs-fans
    """


@command.command("create")
@click.argument("name")
@click.argument("expression")
@click.option("--description", "-d", default=None, help="What the audience is for.")
@click.option("--by", "created_by", default=None, help="Who saves it (kept with the version).")
@_JSON
@pass_cli
def create(
    ctx: CliContext,
    name: str,
    expression: str,
    description: str | None,
    created_by: str | None,
    as_json: bool,
) -> None:
    """Check EXPRESSION against the latest run and save it as NAME (a new version when
    NAME exists and the expression changed)."""
    with ctx.open_store() as store:
        saved = service.create_segment(
            store, name, expression, description=description, created_by=created_by
        )
    if as_json:
        echo_json(saved)
        return
    click.echo(
        f"Saved segment {saved['name']} version {saved['version']}: {saved['members']:,} "
        f"members in run {saved['run_id']}."
    )


@command.command("check")
@click.argument("expression")
@_RUN
@_JSON
@pass_cli
def check(ctx: CliContext, expression: str, run_id: str | None, as_json: bool) -> None:
    """Parse and evaluate EXPRESSION without saving it: its canonical form and members."""
    with ctx.open_store(read_only=True) as store:
        compiled = service.check_expression(store, expression, run_id)
        frame = service.run_frame(store, run_id)
        members = int(compiled.evaluate(frame).sum())
    out = {"expression": compiled.text, "run_id": frame.run.run_id, "members": members}
    if as_json:
        echo_json(out)
        return
    click.echo(f"{out['expression']}\n{members:,} members in run {frame.run.run_id}.")


@command.command("list")
@click.option("--no-counts", is_flag=True, help="Do not evaluate (faster on large runs).")
@_JSON
@pass_cli
def list_(ctx: CliContext, no_counts: bool, as_json: bool) -> None:
    """Saved segments (newest versions) and built-ins, with members in the latest run."""
    with ctx.open_store() as store:
        rows = service.list_segments(store, counts=not no_counts)
    if as_json:
        echo_json(rows)
        return
    table = Table(title="segments")
    for col in ("name", "version", "members", "expression"):
        table.add_column(col, justify="right" if col in ("version", "members") else "left")
    for r in rows:
        members = r.get("members")
        table.add_row(
            r["name"] + (" (built-in)" if r["builtin"] else ""),
            str(r["version"]),
            "-" if members is None else f"{members:,}",
            r["expression"],
        )
    Console().print(table)


@command.command("show")
@click.argument("name")
@_RUN
@_JSON
@pass_cli
def show(ctx: CliContext, name: str, run_id: str | None, as_json: bool) -> None:
    """The segment NAME: expression, versions, members in the run and the change since the
    previous run."""
    with ctx.open_store() as store:
        info = service.show_segment(store, name, run_id=run_id)
    if as_json:
        echo_json(info)
        return
    change = info["change"]
    click.echo(f"{info['name']} v{info['version']}: {info['expression']}")
    if info["description"]:
        click.echo(info["description"])
    click.echo(
        f"members: {info['members']:,} in run {info['run_id']}"
        + (
            f" ({change:+,} since {info['previous_run_id']}: {info['previous_members']:,})"
            if change is not None
            else ""
        )
    )
    for v in info["versions"]:
        click.echo(
            f"  v{v['version']} {v['created_at']} {v['created_by'] or ''}: {v['expression']}"
        )


@command.command("members")
@click.argument("name")
@_RUN
@click.option(
    "--limit",
    "-n",
    type=click.IntRange(1, 10_000),
    default=20,
    show_default=True,
    help="Rows to show.",
)
@click.option(
    "--offset", type=click.IntRange(0), default=0, show_default=True, help="Rows to skip."
)
@_JSON
@pass_cli
def members(
    ctx: CliContext, name: str, run_id: str | None, limit: int, offset: int, as_json: bool
) -> None:
    """A page of the members of the segment NAME, best rank first."""
    with ctx.open_store() as store:
        page = service.members(store, name, run_id=run_id, limit=limit, offset=offset)
    if as_json:
        echo_json(page)
        return
    table = Table(title=f"{name}: {page['total']:,} members ({page['run_id']})")
    cols = ("rank", "user_id", "score", "role", "community", "stage", "tier", "channel_pref")
    for col in cols:
        table.add_column(col)
    for r in page["data"]:
        table.add_row(
            *("" if r[c] is None else (f"{r[c]:.4f}" if c == "score" else str(r[c])) for c in cols)
        )
    Console().print(table)


@command.command("export")
@click.argument("name")
@_RUN
@click.option(
    "--out",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="CSV file to write (default: standard output).",
)
@pass_cli
def export(ctx: CliContext, name: str, run_id: str | None, out: Path | None) -> None:
    """Every member of the segment NAME as CSV: rank, user_id, score, role, community, stage,
    tier, channel_pref."""
    with ctx.open_store() as store:
        if out is None:
            service.export_members(store, name, sys.stdout.buffer, run_id=run_id)
            return
        done = service.export_members(store, name, out, run_id=run_id)
    click.echo(
        f"Wrote {done['members']:,} members of {name} (run {done['run_id']}) to {out}.", err=True
    )


@command.command("delete")
@click.argument("name")
@pass_cli
def delete(ctx: CliContext, name: str) -> None:
    """Hide the saved segment NAME (its versions stay in the history)."""
    with ctx.open_store() as store:
        service.delete_segment(store, name)
    click.echo(f"Deleted segment {name}.")


@command.command("lifecycle")
@_RUN
@_JSON
@pass_cli
def lifecycle(ctx: CliContext, run_id: str | None, as_json: bool) -> None:
    """Users per lifecycle stage (aware, trusting, loyal, lapsing, lost) and the moves
    between stages since the previous run."""
    with ctx.open_store(read_only=True) as store:
        info = service.lifecycle_transitions(store, run_id)
    if as_json:
        echo_json(info)
        return
    click.echo(
        f"run {info['run_id']}: " + ", ".join(f"{k} {v:,}" for k, v in info["stages"].items())
    )
    if info["transitions"]:
        click.echo(f"since {info['previous_run_id']} (from -> to: users):")
        for src, row in info["transitions"].items():
            moved = ", ".join(f"{dst} {n:,}" for dst, n in row.items())
            click.echo(f"  {src} -> {moved}")


@command.command("channels")
@_RUN
@click.option(
    "--limit",
    "-n",
    type=click.IntRange(1, 1000),
    default=5,
    show_default=True,
    help="KOCs per channel.",
)
@_JSON
@pass_cli
def channels(ctx: CliContext, run_id: str | None, limit: int, as_json: bool) -> None:
    """Per channel: users who prefer it and the KOCs whose content performs best there."""
    with ctx.open_store(read_only=True) as store:
        info = service.channel_leaders(store, run_id=run_id, k=limit)
    if as_json:
        echo_json(info)
        return
    for channel, row in info["channels"].items():
        top = ", ".join(f"{t['user_id']} ({t['performance']:.0f})" for t in row["top"])
        click.echo(f"{channel}: preferred by {row['preferred_by']:,}; best: {top}")
