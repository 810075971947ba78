"""``koc evaluate``: judge the KOC score and the baselines against generated ground truth."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from api.cli._options import progress_option
from api.cli._ranking_common import config_option, step_progress
from api.cli.context import CliContext, echo_json, pass_cli
from influence.config import load_score_config

_BETTER_LOW = ("staff@", "fraud@")


def format_holdout_markdown(holdout: dict) -> str:
    """The held-out table as Markdown (methods as rows)."""
    metrics = list(holdout["methods"]["koc_score"])
    head = "| method | " + " | ".join(metrics) + " |"
    rows = [
        f"| {m} | " + " | ".join(f"{v[k]:.3f}" for k in metrics) + " |"
        for m, v in holdout["methods"].items()
    ]
    return "\n".join([head, "|---|" + "---:|" * len(metrics), *rows]) + "\n"


def _holdout_table(holdout: dict) -> Table:
    # one row per metric, one column per method: fits a terminal
    methods = holdout["methods"]
    table = Table(
        title=f"held out {holdout['holdout']} (ranked on {', '.join(holdout['observed'])}; "
        f"{holdout['candidates']:,} candidates, {holdout['relevant']:,} caused GMV in it)"
    )
    table.add_column("metric")
    for method in methods:
        table.add_column(method, justify="right", style="bold" if method == "koc_score" else None)
    for m in methods["koc_score"]:
        fmt = "{:.0f}" if m.startswith(_BETTER_LOW) else "{:.3f}"
        table.add_row(m, *(fmt.format(methods[method][m]) for method in methods))
    return table


@click.command("evaluate")
@click.option(
    "--truth",
    "truth_dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    required=True,
    help="Folder written by `koc synth --out DIR` (ground_truth.json + ground_truth_users.parquet).",
)
@config_option
@click.option(
    "-k", "ks", type=click.IntRange(1), multiple=True, help="Cut-offs (default: 100 and 1000)."
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random baseline.")
@click.option(
    "--markdown",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the table as Markdown to this file.",
)
@click.option(
    "--holdout-only",
    is_flag=True,
    help="Only the held-out table (skips the planted-KOC and month-by-month backtest).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON.")
@progress_option
@pass_cli
def command(
    ctx: CliContext,
    truth_dir: Path,
    config_path: Path | None,
    ks: tuple[int, ...],
    seed: int,
    markdown: Path | None,
    holdout_only: bool,
    as_json: bool,
    progress: bool,
) -> None:
    """Judge the KOC score against generated ground truth, next to baselines and an oracle.

    \b
    Two reports (the store must hold the data of the same `koc synth` run):
    - held out: ranked on every month before the held-out one (October), judged by
      each user's true caused GMV in it: precision@k, NDCG@k, Spearman, true staff
      and fraud accounts in the consumer top k; next to an oracle (the true caused
      GMV of the observed months), spend, degree, PageRank, token GMV alone,
      distinct later buyers among viewers/referees and random;
    - planted KOCs and a month-ahead backtest (koc synth's standard world).
    The ground truth is only read to judge, never to score.
    """
    from api.services.evaluation import (
        evaluate,
        format_markdown,
    )  # lazy: scikit-learn loads only when needed
    from api.services.holdout import evaluate_holdout

    config = load_score_config(config_path or ctx.settings.scoring_config)
    ks = ks or (100, 1000)
    report: dict = {}
    with (
        ctx.open_store() as store,
        step_progress(progress and not as_json, "evaluating") as on_step,
    ):
        holdout = evaluate_holdout(store, truth_dir, config, ks=ks, seed=seed)
        if not holdout_only:
            report = evaluate(store, truth_dir, config, ks=ks, seed=seed, progress=on_step)
    report["holdout"] = holdout
    if markdown is not None:
        markdown.write_text(
            format_holdout_markdown(holdout) + ("" if holdout_only else format_markdown(report)),
            "utf-8",
        )
    if as_json:
        echo_json(report)
        return
    console = Console()
    console.print(_holdout_table(holdout))
    if holdout_only:
        return
    metrics = list(report["methods"]["koc_score"])
    methods = list(report["methods"])
    # one row per metric, one column per method: fits an 80-column terminal
    table = Table(
        title=f"KOC score vs baselines ({report['candidates']:,} candidates, "
        f"{report['planted']:,} planted KOCs)"
    )
    table.add_column("metric")
    for method in methods:
        table.add_column(method, justify="right", style="bold" if method == "koc_score" else None)
    for m in metrics:
        table.add_row(m, *(f"{report['methods'][method][m]:.3f}" for method in methods))
    console.print(table)
    lost = [m for m, ok in report["beats_baselines"].items() if not ok]
    console.print(
        "The KOC score beats every baseline on every metric."
        if not lost
        else f"The KOC score does not beat every baseline on: {', '.join(lost)}."
    )
