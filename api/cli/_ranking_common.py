"""Helpers shared by the ranking commands (``koc rank``/``top``/``runs``/``evaluate``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from api.services.ranking import is_abandoned
from graph.money import format_money
from graph.store import RunRecord

__all__ = [
    "UtcDateTime",
    "config_option",
    "run_summary",
    "step_progress",
    "format_breakdown",
    "format_change",
    "format_why",
]


class UtcDateTime(click.ParamType):
    """An ISO-8601 date or date-time; a value without a zone is taken as UTC."""

    name = "datetime"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None):
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=UTC)
        try:
            dt = datetime.fromisoformat(str(value))
        except ValueError:
            self.fail(
                f"{value!r} is not an ISO-8601 date such as 2026-10-01 or 2026-10-01T08:00+08:00",
                param,
                ctx,
            )
        return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


#: ``--config FILE`` of the ranking commands (passed to the command as ``config_path``).
config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="Scoring TOML file (default: KOC_SCORING_CONFIG, else the built-in defaults).",
)


def run_summary(run: RunRecord) -> dict[str, Any]:
    """The JSON-ready fields of a run shown by ``koc rank --json`` and ``koc runs``."""
    return {
        "run_id": run.run_id,
        "created_at": run.created_at,
        "status": "abandoned" if is_abandoned(run) else run.status,
        "config_hash": run.config_hash,
        "window_start": run.window_start,
        "window_end": run.window_end,
        "watermark": run.watermark,
        "timings": run.timings,
        "row_counts": run.row_counts,
        "error": run.error,
    }


@contextmanager
def step_progress(enabled: bool, title: str) -> Iterator:
    """A rich progress bar fed by ``callback(step, done, total)``; a no-op when disabled."""
    if not enabled:
        yield None
        return
    with Progress(
        TextColumn(f"{title} [bold]{{task.description}}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task("starting", total=1)

        def callback(step: str, done: int, total: int) -> None:
            bar.update(task, description=step, completed=done, total=total)

        yield callback


_SHORT = {
    "pagerank": "PR",
    "reach": "reach",
    "conversion": "conv",
    "conversion_rate": "rate",
    "engagement": "eng",
    "spend": "spend",
}


def format_breakdown(breakdown: dict[str, float | None], top: int = 3) -> str:
    """``conv .450 rate .240 PR .120``: the ``top`` largest contributions."""
    items = sorted(((v or 0.0, k) for k, v in breakdown.items()), reverse=True)[:top]
    return (
        " ".join(f"{_SHORT.get(k, k)} {v:.3f}".replace("0.", ".") for v, k in items if v > 0) or "-"
    )


def format_why(why: dict[str, float]) -> str:
    """``9 buyers (token 6, code 1, view 2), 1,630.25 CNY net, refunds 4%, audience 38``.

    The GMV is money: a Decimal rounded half-up to cents (:func:`graph.money.format_money`),
    read from the float the ranking carries through its shortest repr (exact to the
    stored 4 places).
    """
    rules = [
        (r, int(why.get(f"conversion.buyers_{r}", 0)))
        for r in ("token", "code", "view", "referral")
    ]
    buyers = sum(n for _, n in rules)
    parts = [
        f"{buyers} buyers ({', '.join(f'{r} {n}' for r, n in rules if n)})"
        if buyers
        else "0 buyers",
        f"{format_money(Decimal(repr(why.get('conversion.attributed_gmv', 0))), thousands=True)}"
        " CNY net",
        f"refunds {why.get('conversion.refund_share', 0):.0%}",
        f"audience {int(why.get('engagement.unique_audience', 0))}",
    ]
    if why.get("flags.staff_orders"):
        parts.append(f"{int(why['flags.staff_orders'])} store-code orders")
    if why.get("flags.collusion"):
        parts.append("COLLUSION")
    return ", ".join(parts)


def format_change(change: int | None) -> str:
    """``+3`` / ``-2`` / ``=`` / ``new``."""
    if change is None:
        return "new"
    return "=" if change == 0 else f"{change:+d}"
