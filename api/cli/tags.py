"""``koc tags``: user tags (import from a file, list, one user's tags)."""

from __future__ import annotations

from pathlib import Path

import click

from api.cli.context import CliContext, echo_json, pass_cli
from api.services import tags as service

__all__ = ["command"]


@click.group("tags")
def command() -> None:
    """User tags for segments (`tag:NAME`), each with its source and time.

    \b
    Examples:
      koc tags import vip.csv          # columns user_id,tag[,action]; action set|remove
      koc tags list
      koc tags show u0000042
    """


@command.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--source", default=None, help="Source recorded with the tags (default: the file).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_cli
def import_(ctx: CliContext, path: Path, source: str | None, as_json: bool) -> None:
    """Set or remove tags from the CSV file PATH with columns user_id, tag and optional action.

    Bad rows are listed (line, field, reason) and not stored; the command exits with
    status 1 when every row was rejected.
    """
    with ctx.open_store() as store:
        result = service.import_tags(store, path, source=source)
    if as_json:
        echo_json(result)
    else:
        click.echo(
            f"{result['file']}: read {result['read']:,} = set {result['set']:,} + removed "
            f"{result['removed']:,} + unchanged {result['unchanged']:,} + rejected "
            f"{result['rejected']:,}; {result['unknown_users']:,} tagged users not in the store yet."
        )
        for e in result["errors"]:
            click.echo(f"  line {e['line']}: {e['field']} {e['value']!r}: {e['reason']}", err=True)
    if result["read"] and result["rejected"] == result["read"]:
        raise SystemExit(1)


@command.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_cli
def list_(ctx: CliContext, as_json: bool) -> None:
    """User tags in effect (users per tag) and the fact tags every run derives."""
    with ctx.open_store(read_only=True) as store:
        info = service.list_tags(store)
    if as_json:
        echo_json(info)
        return
    for tag, n in info["user_tags"].items():
        click.echo(f"{tag}: {n:,} users")
    click.echo("fact tags: " + ", ".join(info["fact_tags"] + info["fact_tag_families"]))


@command.command("show")
@click.argument("user_id")
@click.option("--run", "run_id", default=None, help="Fact tags of this run (default: latest).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_cli
def show(ctx: CliContext, user_id: str, run_id: str | None, as_json: bool) -> None:
    """The tags of USER_ID, user and fact tags, each with its source and time."""
    with ctx.open_store(read_only=True) as store:
        rows = service.user_tags(store, user_id, run_id=run_id)
    if as_json:
        echo_json(rows)
        return
    for r in rows:
        rule = f"; {r['rule']}" if r["rule"] else ""
        click.echo(f"{r['tag']}  [{r['kind']}] ({r['source']}, {r['tagged_at']}{rule})")
    if not rows:
        click.echo(f"{user_id} has no tags.")
