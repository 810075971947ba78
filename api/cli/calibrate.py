"""``koc calibrate``: fit the component weights from the store's monthly history."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from api.cli._options import progress_option
from api.cli._ranking_common import config_option, step_progress
from api.cli.context import CliContext, echo_json, pass_cli
from influence.config import COMPONENTS, config_to_toml, load_score_config

__all__ = ["command"]


@click.command("calibrate")
@config_option
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("scoring.calibrated.toml"),
    show_default=True,
    help="Where to write the fitted config for review (never adopted automatically).",
)
@click.option(
    "-k", "k", type=click.IntRange(1), default=100, show_default=True, help="NDCG cut-off."
)
@click.option(
    "--alpha",
    type=click.FloatRange(0, min_open=True),
    default=1.0,
    show_default=True,
    help="Ridge regularisation strength.",
)
@click.option("--timezone", default=None, help="Month boundaries (default: KOC_TIMEZONE).")
@click.option(
    "--target",
    type=click.Choice(["token", "attributed", "evidence"]),
    default="token",
    show_default=True,
    help="Next-month value to predict: GMV credited by explicit tokens, by every attribution "
    "rule, or the score's evidence of caused GMV.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@progress_option
@pass_cli
def command(
    ctx: CliContext,
    config_path: Path | None,
    out: Path,
    k: int,
    alpha: float,
    timezone: str | None,
    target: str,
    as_json: bool,
    progress: bool,
) -> None:
    """Fit weights predicting next month's --target from this month's components.

    Non-negative ridge regression, validated with time-ordered folds (train on
    earlier months, test on later ones) and on the last month held out (fitted on
    the earlier months only). Writes a config file to review: the fitted weights
    only when they beat the current ones on the folds AND on the held-out month,
    otherwise the current weights unchanged (the summary says which).
    """
    from api.services.evaluation import calibrate  # lazy: scikit-learn loads only when needed

    config = load_score_config(config_path or ctx.settings.scoring_config)
    tz = timezone or ctx.settings.timezone
    with (
        ctx.open_store() as store,
        step_progress(progress and not as_json, "calibrating") as on_step,
    ):
        _, fitted, summary = calibrate(
            store, config, timezone=tz, k=k, alpha=alpha, target=target, progress=on_step
        )
    held = summary["holdout"]
    header = (
        f"Calibrated by `koc calibrate --target {target}` on months "
        f"{', '.join(summary['pairs'])} ({tz}).\n"
        f"Mean validation NDCG@{k}: {summary[f'mean_ndcg@{k}_before']:.4f} with the current "
        f"weights, {summary[f'mean_ndcg@{k}_after']:.4f} fitted (gain {summary['gain']:+.4f}).\n"
        f"Held-out month {held['pair']} (fitted on earlier months only): NDCG@{k} "
        f"{held[f'ndcg@{k}_before']:.4f} current, {held[f'ndcg@{k}_after']:.4f} fitted "
        f"(gain {held['gain']:+.4f}).\n"
        + (
            "Review before adopting: koc rank --config THIS_FILE"
            if summary["recommended"]
            else "The fit loses on the folds or on the held-out month: these are the current "
            "weights, unchanged. Keep them."
        )
    )
    out.write_text(config_to_toml(fitted, header=header), "utf-8")
    summary["written"] = str(out)
    if as_json:
        echo_json(summary)
        return
    table = Table(title="component weights")
    table.add_column("component")
    table.add_column("current", justify="right")
    table.add_column("fitted", justify="right")
    for c in COMPONENTS:
        table.add_row(
            c, f"{summary['weights_before'][c]:.3f}", f"{summary['weights_after'][c]:.3f}"
        )
    console = Console()
    console.print(table)
    for fold in summary["cv"]:
        console.print(
            f"fold: train {fold['train']} -> test {fold['test']}: NDCG@{k} "
            f"{fold['ndcg_baseline']:.4f} -> {fold['ndcg_fitted']:.4f}"
        )
    console.print(f"{header}\nWritten to {out}.")
