"""``koc evaluate``: judge the KOC score and the baselines against generated ground truth."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from api.cli._ranking_common import config_option, step_progress
from api.cli.context import CliContext, echo_json, pass_cli
from influence.config import load_score_config

__all__ = ["command"]


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
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON.")
@pass_cli
def command(
    ctx: CliContext,
    truth_dir: Path,
    config_path: Path | None,
    ks: tuple[int, ...],
    seed: int,
    markdown: Path | None,
    as_json: bool,
) -> None:
    """Precision@k / NDCG@k of the planted KOCs and a month-ahead backtest, with baselines.

    The store must hold the data of the same `koc synth` run. The KOC score is
    compared with spend only, degree only, PageRank only and random scores; the
    ground truth is only read to judge, never to score.
    """
    from api.services.evaluation import (
        evaluate,
        format_markdown,
    )  # lazy: scikit-learn loads only when needed

    config = load_score_config(config_path or ctx.settings.scoring_config)
    with ctx.open_store() as store, step_progress(not as_json, "evaluating") as progress:
        report = evaluate(
            store, truth_dir, config, ks=ks or (100, 1000), seed=seed, progress=progress
        )
    if markdown is not None:
        markdown.write_text(format_markdown(report), "utf-8")
    if as_json:
        echo_json(report)
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
    console = Console()
    console.print(table)
    lost = [m for m, ok in report["beats_baselines"].items() if not ok]
    console.print(
        "The KOC score beats every baseline on every metric."
        if not lost
        else f"The KOC score does not beat every baseline on: {', '.join(lost)}."
    )
