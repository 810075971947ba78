"""``koc commissions``: attribute referral commissions, close periods, report, holds.

Subcommands: ``run``, ``close``, ``report``, ``holds``, ``release``, ``void``,
``statement``, ``ledger``. The ledger is kept in the embedded store's file (or ``KOC_LEDGER_PATH``);
rules come from ``--rules`` or ``KOC_COMMISSION_RULES`` (defaults:
``referral/default_rules.toml``); see docs/commissions.md.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from api.cli.context import CliContext, echo_json, pass_cli
from graph.money import format_money, money_row
from referral import service
from referral.attribution import attribute
from referral.ledger import STATUSES, Ledger
from referral.period_report import REPORT_FORMATS, write_period_report
from referral.periods import check_period, check_timezone
from referral.render import FORMATS, cell, render_statement
from referral.reports import LINE_MONEY
from referral.rules import CommissionRules, load_rules
from referral.settlement import close_period, periods_to_close

__all__ = ["command"]

_RULES = click.option(
    "--rules",
    "rules_path",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="Commission rules TOML (default: KOC_COMMISSION_RULES or the shipped defaults).",
)
_JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")


def _rules(ctx: CliContext, path: Path | None) -> CommissionRules:
    return load_rules(path or ctx.settings.commission_rules)


@contextmanager
def _ledger(ctx: CliContext, *, read_only: bool) -> Iterator[tuple[Any, Ledger]]:
    check_timezone(ctx.settings.timezone)
    store = ctx.open_store(read_only=read_only)
    try:
        ledger = Ledger.open(store, ctx.settings.ledger_path, read_only=read_only)
        try:
            yield store, ledger
        finally:
            ledger.close()
    finally:
        store.close()


def _money(amount: Decimal | str, currency: str) -> str:
    """``126,891.68 CNY``: an amount for people (the ledger keeps 4 decimals)."""
    return f"{format_money(amount, currency, thousands=True)} {currency}"


def _entry_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Ledger or hold rows for output: basis and amount as money, rates as stored."""
    return [money_row(r, LINE_MONEY) for r in rows]


def _print_table(title: str, rows: list[dict[str, Any]], columns: list[str]) -> None:
    table = Table(title=title)
    for c in columns:
        table.add_column(c, overflow="fold")
    for r in rows:
        table.add_row(*(str(cell(r.get(c))) for c in columns))
    Console().print(table)


@click.group("commissions")
def command() -> None:
    """Referral commissions: attribution, the append-only ledger, periods and reports.

    \b
      koc commissions run                              # attribute new orders and refunds
      koc commissions holds                            # entries held by fraud checks
      koc commissions release 5f1c0a2b --reason "checked" --by alice
      koc commissions void 5f1c0a2b --reason "fake account" --by alice
      koc commissions close --period 2026-10           # settle the month (and earlier ones)
      koc commissions report --period 2026-10 --format all --out reports/
      koc commissions statement u123 --period 2026-10 --format csv
    """


@command.command("run")
@_RULES
@_JSON
@pass_cli
def run_cmd(ctx: CliContext, rules_path: Path | None, as_json: bool) -> None:
    """Attribute every order and refund not yet in the ledger (idempotent)."""
    rules = _rules(ctx, rules_path)
    with (
        _ledger(ctx, read_only=False) as (store, ledger),
        Console(stderr=True).status("attributing orders..."),
    ):
        summary = attribute(store, ledger, rules, timezone=ctx.settings.timezone)
    if as_json:
        echo_json(summary.to_dict())
        return
    if summary.already_done:
        click.echo(f"Nothing new: run {summary.run_id} already covered these inputs.")
        return
    click.echo(
        f"run {summary.run_id} (rules {summary.rule_version}): {summary.orders_new:,} new "
        f"order(s), {summary.entries_new:,} entries "
        f"({_money(summary.commission, rules.currency)}), "
        f"{summary.refunds_new:,} refund(s) -> {summary.reversals_new:,} reversal(s) "
        f"({_money(summary.reversed, rules.currency)}), {summary.holds_new:,} new hold(s)"
    )
    for outcome, n in summary.outcomes.items():
        click.echo(f"  {outcome}: {n:,}")
    if summary.orders_reexamined:
        click.echo(
            f"  re-attributed (referral arrived late): {summary.orders_reattributed:,} of "
            f"{summary.orders_reexamined:,} re-examined order(s), "
            f"{summary.reattribution_entries:,} new entries "
            f"({_money(summary.reattributed_booked, rules.currency)}), "
            f"{summary.reattribution_reversals:,} reversal(s) "
            f"({_money(summary.reattributed_reversed, rules.currency)})"
        )


@command.command("close")
@click.option("--period", required=True, help="Period to close, YYYY-MM (earlier open ones too).")
@click.option("--by", "by", default="system", show_default=True, help="Who closes the period.")
@click.option(
    "--yes",
    "-y",
    is_flag=True,
    help="Do not ask for confirmation when more than one period would be closed.",
)
@_RULES
@_JSON
@pass_cli
def close_cmd(
    ctx: CliContext, period: str, by: str, yes: bool, rules_path: Path | None, as_json: bool
) -> None:
    """Close a period: settle payable entries into payouts and carried balances.

    Closing is final. Only a period that has ended can be closed; every earlier open
    period is closed with it, oldest first, after confirmation (or --yes) when that is
    more than one period.
    """
    rules = _rules(ctx, rules_path)
    tz = ctx.settings.timezone
    with _ledger(ctx, read_only=False) as (_, ledger):
        todo = periods_to_close(ledger, check_period(period), timezone=tz)
        if len(todo) > 1 and not yes:
            click.confirm(
                f"This closes {len(todo)} periods, {', '.join(todo)}, for good (closed "
                "periods never change; --yes skips this question). Continue?",
                abort=True,
                err=True,
            )
        results = close_period(ledger, period, rules=rules, by=by, timezone=tz)
    if as_json:
        echo_json([r.to_dict() for r in results])
        return
    for r in results:
        click.echo(
            f"closed {r.period}: {r.entries_settled:,} entries, {r.beneficiaries:,} "
            f"beneficiaries, paid {_money(r.paid, rules.currency)}, "
            f"carried {_money(r.carried, rules.currency)}"
        )


@command.command("report")
@click.option("--period", required=True, help="Period, YYYY-MM.")
@click.option(
    "--format",
    "fmts",
    type=click.Choice([*REPORT_FORMATS, "all"]),
    multiple=True,
    default=("html",),
    show_default=True,
    help="Report file format; repeat it (--format csv --format xlsx) or say all: "
    "the report is computed once for every format.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("reports"),
    show_default=True,
    help="Folder the report files go to (created if missing).",
)
@pass_cli
def report_cmd(ctx: CliContext, period: str, fmts: tuple[str, ...], out_dir: Path) -> None:
    """Write a period's report: overview, balances, entries, summary by role and level,
    reconciliation. Exits with status 2 (naming the checks) when the books do not
    reconcile; the files are written anyway, for inspection."""
    with _ledger(ctx, read_only=True) as (_, ledger):
        files = write_period_report(
            ledger, check_period(period), fmts, out_dir, tz=ctx.settings.timezone, check=True
        )
    for f in files:
        click.echo(f"wrote {f}")


@command.command("holds")
@click.option(
    "--limit",
    "-n",
    type=click.IntRange(1, 10_000),
    default=100,
    show_default=True,
    help="Page size.",
)
@click.option("--after", type=int, default=None, help="Cursor: holds after this ledger seq.")
@click.option(
    "--all",
    "include_decided",
    is_flag=True,
    help="Also released and voided holds, with who decided, when and why.",
)
@_JSON
@pass_cli
def holds_cmd(
    ctx: CliContext, limit: int, after: int | None, include_decided: bool, as_json: bool
) -> None:
    """List held commission entries: why and by whom each was held (--all: and decided).

    The 8-character id is enough for `release` and `void`.
    """
    with _ledger(ctx, read_only=True) as (_, ledger):
        page = service.list_holds(ledger, include_decided=include_decided, limit=limit, after=after)
    rows, total = _entry_rows(page["data"]), page["total"]
    if as_json:
        echo_json({**page, "data": rows})
        return
    what = "hold(s)" if include_decided else "held entr(ies)"
    if not total:
        click.echo("No held entries." if not include_decided else "No holds.")
        return
    columns = ["short_id", "beneficiary", "order_id", "level", "amount", "state", "hold_reason"]
    if include_decided:
        columns += ["decided_by", "decided_at", "decision_reason"]
    _print_table(f"{total:,} {what}, showing {len(rows):,}", rows, columns)
    if page["next_after"] is not None:
        click.echo(f"more: --after {page['next_after']}")


_DECISION = [
    click.argument("entry_ids", nargs=-1, required=True),
    click.option("--reason", required=True, help="Why (kept in the ledger)."),
    click.option("--by", "by", required=True, help="Who decided (kept in the ledger)."),
]


def _decision(f: Any) -> Any:
    for deco in reversed(_DECISION):
        f = deco(f)
    return f


@command.command("release")
@_decision
@pass_cli
def release_cmd(ctx: CliContext, entry_ids: tuple[str, ...], reason: str, by: str) -> None:
    """Release the held entries ENTRY_IDS (ids or 8-character short ids): they become payable.

    Recorded with who released what and why.
    """
    with _ledger(ctx, read_only=False) as (_, ledger):
        n = ledger.release(list(entry_ids), reason=reason, by=by)
    click.echo(f"released {n} entr(ies) by {by}: {reason}")


@command.command("void")
@_decision
@pass_cli
def void_cmd(ctx: CliContext, entry_ids: tuple[str, ...], reason: str, by: str) -> None:
    """Void (reject) the held entries ENTRY_IDS: book a reversal that nets each to zero.

    Append-only: the void is a new ledger entry, recorded with who, when and why;
    the commission and its void settle to zero at the next close.
    """
    with _ledger(ctx, read_only=False) as (_, ledger):
        voids = ledger.void(list(entry_ids), reason=reason, by=by)
    click.echo(f"voided {len(entry_ids)} entr(ies) by {by}: {reason} ({len(voids)} void entries)")


@command.command("statement")
@click.argument("beneficiary")
@click.option("--period", required=True, help="Period, YYYY-MM.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="json",
    show_default=True,
    help="Statement format.",
)
@click.option(
    "--out",
    "out_path",
    type=click.Path(path_type=Path),
    default=None,
    help="A folder (existing, or ending in /) for statement-BENEFICIARY-PERIOD.FORMAT, "
    "or a file (default: stdout; xlsx needs --out).",
)
@_RULES
@pass_cli
def statement_cmd(
    ctx: CliContext,
    beneficiary: str,
    period: str,
    fmt: str,
    out_path: Path | None,
    rules_path: Path | None,
) -> None:
    """The statement of BENEFICIARY (a user id): orders, levels, amounts, reversals, holds,
    balances."""
    rules = _rules(ctx, rules_path)
    with _ledger(ctx, read_only=True) as (_, ledger):
        st = service.statement(
            ledger, beneficiary, period, timezone=ctx.settings.timezone, currency=rules.currency
        )
    data = render_statement(st, fmt, tz=ctx.settings.timezone)
    if out_path is not None and (out_path.is_dir() or str(out_path).endswith(("/", os.sep))):
        out_path = out_path / f"statement-{beneficiary}-{period}.{fmt}"
    if out_path is not None:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_bytes(data)
        click.echo(f"wrote {out_path}")
    elif fmt == "xlsx":
        raise click.UsageError("--format xlsx needs --out FILE.")
    else:
        sys.stdout.buffer.write(data)


@command.command("ledger")
@click.option("--period", default=None, help="Only entries booked in this period (YYYY-MM).")
@click.option("--beneficiary", default=None, help="Only this beneficiary.")
@click.option(
    "--status", type=click.Choice(STATUSES), default=None, help="Only entries in this status."
)
@click.option(
    "--limit",
    "-n",
    type=click.IntRange(1, 10_000),
    default=50,
    show_default=True,
    help="Entries to show.",
)
@click.option("--after", type=int, default=None, help="Cursor: entries with seq > AFTER.")
@_JSON
@pass_cli
def ledger_cmd(
    ctx: CliContext,
    period: str | None,
    beneficiary: str | None,
    status: str | None,
    limit: int,
    after: int | None,
    as_json: bool,
) -> None:
    """List ledger entries in ledger order."""
    with _ledger(ctx, read_only=True) as (_, ledger):
        rows = service.list_entries(
            ledger, period=period, beneficiary=beneficiary, status=status, limit=limit, after=after
        )
    rows = _entry_rows(rows)
    if as_json:
        echo_json(rows)
        return
    _print_table(
        f"{len(rows)} entr(ies)",
        rows,
        ["seq", "kind", "order_id", "beneficiary", "level", "amount", "status", "period"],
    )
    if len(rows) == limit:
        click.echo(f"more: --after {rows[-1]['seq']}")
