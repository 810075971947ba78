"""``koc roles``: declared and inferred roles, and the employee / KOL / consumer views."""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from api.cli._ranking_common import UtcDateTime
from api.cli.context import CliContext, echo_json, pass_cli
from graph.money import format_money

__all__ = ["command"]

_VIEW_COLUMNS: dict[str, tuple[str, ...]] = {
    "employee": (
        "user_id",
        "store_id",
        "connected_customers",
        "referred_customers",
        "attributed_orders",
        "attributed_gmv",
        "connected_aov",
        "baseline_aov",
        "aov_uplift",
        "repeat_uplift",
    ),
    "kol": (
        "user_id",
        "audience",
        "views",
        "engagement_rate",
        "conversion_rate",
        "attributed_orders",
        "attributed_gmv",
        "fee",
        "gmv_per_fee",
    ),
    "consumer": ("rank", "user_id", "score", "rank_change", "community"),
}


#: columns holding money (Decimal or decimal strings): printed with the currency's decimals
_MONEY = frozenset(
    {"attributed_gmv", "referred_gmv", "fee", "connected_aov", "unconnected_aov", "baseline_aov"}
)


def _fmt(value: Any, column: str = "") -> str:
    if value is None:
        return "-"
    if column in _MONEY:
        return format_money(Decimal(str(value)), thousands=True)
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _pairs(values: dict[str, Any]) -> str:
    """``consumer 1,362, employee 16``: a mapping as one readable line (never a dict repr)."""
    return ", ".join(
        f"{k} {v:,}" if isinstance(v, int) else f"{k} {_fmt(v, k)}" for k, v in values.items()
    )


@contextmanager
def _classifier_warnings(debug: bool) -> Iterator[None]:
    """Keep scikit-learn's warnings (UndefinedMetricWarning, ConvergenceWarning, ...) off
    the terminal: one line on standard error names them instead; ``--debug`` shows them."""
    if debug:
        yield
        return
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    kinds = Counter(
        w.category.__name__
        for w in caught
        if not issubclass(
            w.category, DeprecationWarning | PendingDeprecationWarning | FutureWarning
        )
    )
    if kinds:
        listed = ", ".join(f"{name} x{n}" for name, n in sorted(kinds.items()))
        click.echo(f"note: the classifier warned ({listed}); koc --debug shows them.", err=True)


def _table(title: str, rows: list[dict[str, Any]], columns: tuple[str, ...]) -> Table:
    table = Table(title=title)
    for c in columns:
        table.add_column(c, justify="left" if c in ("user_id", "store_id") else "right")
    for r in rows:
        table.add_row(*(_fmt(r.get(c), c) for c in columns))
    return table


@click.group("roles")
def command() -> None:
    """Employees (sales guides), KOLs and consumers: import, infer, evaluate, view.

    \b
    Typical flow:
      koc roles import employees.csv --kind employee
      koc roles import kols.csv --kind kol
      koc roles infer --threshold 0.7
      koc roles summary
      koc roles top --role kol
    """


@command.command("import")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--kind",
    type=click.Choice(["employee", "kol"]),
    required=True,
    help="employee: user_id,store_id,since[,until]; kol: user_id,agency,since[,until,fee,currency].",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_cli
def import_(ctx: CliContext, path: Path, kind: str, as_json: bool) -> None:
    """Import the employee roster or KOL list at PATH (CSV, optionally .gz).

    Dates are YYYY-MM-DD (midnight UTC) or ISO-8601 with a zone; `until` is
    exclusive (a guide who left on D is a consumer from D). The whole file is
    checked first: one bad row and nothing is imported. Importing the same file
    again changes nothing; a row with the same user and start replaces the
    stored one (e.g. to set a leaving date).
    """
    from api.services.roles import import_roles

    with closing(ctx.open_store(create=True)) as store:
        result = import_roles(store, path, kind=kind)
    if as_json:
        echo_json(result)
        return
    click.echo(
        f"{result['source']}: {result['rows']} {kind} rows, {result['inserted']} new, "
        f"{result['replaced']} replaced, {result['unchanged']} unchanged."
    )


def _model_options(f: Any) -> Any:
    """``--threshold`` and ``--estimator``, shared by ``infer`` and ``evaluate``."""
    f = click.option(
        "--estimator",
        type=click.Choice(["logistic", "hgb"]),
        default="logistic",
        show_default=True,
        help="Classifier: logistic regression or histogram gradient boosting.",
    )(f)
    return click.option(
        "--threshold",
        type=click.FloatRange(0, 1),
        default=0.6,
        show_default=True,
        help="Calibrated confidence below which a role stays unknown.",
    )(f)


@command.command("infer")
@_model_options
@click.option("--start", type=UtcDateTime(), default=None, help="Behaviour window start.")
@click.option("--end", type=UtcDateTime(), default=None, help="Behaviour window end.")
@click.option("--cv", "cv_folds", type=int, default=0, help="Also cross-validate (folds).")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed of the folds.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_cli
def infer(
    ctx: CliContext,
    threshold: float,
    estimator: str,
    start: datetime | None,
    end: datetime | None,
    cv_folds: int,
    seed: int,
    as_json: bool,
) -> None:
    """Train on declared roles and store an inferred role for every undeclared user.

    Declared roles are never overridden; the model version, its threshold and
    every user's confidence are kept.
    """
    from api.services.roles import infer_roles

    with closing(ctx.open_store()) as store, _classifier_warnings(ctx.debug):
        result = infer_roles(
            store,
            threshold=threshold,
            estimator=estimator,
            start=start,
            end=end,
            cv_folds=cv_folds,
            seed=seed,
            config=ctx.settings.scoring_config,
        )
    if as_json:
        echo_json(result)
        return
    click.echo(f"model {result['model_version']} (threshold {result['threshold']})")
    click.echo(f"  trained on: {_pairs(result['trained_on'])}")
    click.echo(f"  inferred:   {_pairs(result['inferred'])}")
    cv = result["metrics"].get("cv")
    if cv:
        click.echo(f"  cv macro F1 {cv['macro']['f1']:.3f}")


@command.command("evaluate")
@click.option(
    "--folds",
    type=click.IntRange(2, 20),
    default=5,
    show_default=True,
    help="Cross-validation folds.",
)
@click.option(
    "--ground-truth",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="user_id,role file (e.g. ground_truth_users.parquet): score undeclared users too.",
)
@_model_options
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed of the folds.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_cli
def evaluate(
    ctx: CliContext,
    folds: int,
    ground_truth: Path | None,
    threshold: float,
    estimator: str,
    seed: int,
    as_json: bool,
) -> None:
    """Cross-validated precision, recall and confusion matrix of the role classifier."""
    from api.services.roles import SMALL_SAMPLE, evaluate_roles

    with closing(ctx.open_store(read_only=True)) as store, _classifier_warnings(ctx.debug):
        result = evaluate_roles(
            store,
            folds=folds,
            ground_truth=ground_truth,
            threshold=threshold,
            estimator=estimator,
            seed=seed,
            config=ctx.settings.scoring_config,
        )
    if as_json:
        echo_json(result)
        return
    console = Console()
    for key, title in (
        ("cv", f"{folds}-fold CV on declared users"),
        ("holdout", "undeclared users vs ground truth"),
        ("holdout_thresholded", f"undeclared users, threshold {threshold}"),
    ):
        rep = result.get(key)
        if rep is None:
            continue
        table = Table(title=f"{title} (n={rep['n']})")
        for c in ("role", "precision", "recall", "F1", "support", "note"):
            table.add_column(c, justify="left" if c in ("role", "note") else "right")
        predicted = _predictions(rep)
        for role, m in rep["per_class"].items():
            n = min(predicted.get(role, 0), int(m["support"]))
            table.add_row(
                role,
                f"{m['precision']:.3f}",
                f"{m['recall']:.3f}",
                f"{m['f1']:.3f}",
                str(m["support"]),
                f"n={n}, too few to judge" if n < SMALL_SAMPLE else "",
            )
        mac = rep["macro"]
        table.add_row(
            "macro", f"{mac['precision']:.3f}", f"{mac['recall']:.3f}", f"{mac['f1']:.3f}", "", ""
        )
        console.print(table)
        labels = rep["confusion"]["labels"]
        cm = Table(title="confusion (rows = true, columns = predicted)")
        cm.add_column("")
        for lab in labels:
            cm.add_column(lab, justify="right")
        for lab, row in zip(rep["labels"], rep["confusion"]["matrix"], strict=True):
            cm.add_row(lab, *map(str, row))
        console.print(cm)
        if "coverage" in rep:
            console.print(f"coverage (given a role): {rep['coverage']:.3f}")
    for caveat in result.get("caveats", []):
        console.print(f"[yellow]caveat[/yellow] {caveat}")


def _predictions(report: dict[str, Any]) -> dict[str, int]:
    """Predictions per role (the columns of the confusion matrix): what precision rests on."""
    labels = report["confusion"]["labels"]
    matrix = report["confusion"]["matrix"]
    return {lab: sum(int(row[j]) for row in matrix) for j, lab in enumerate(labels)}


@command.command("summary")
@click.option("--at", type=UtcDateTime(), default=None, help="Roles at this time (default now).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_cli
def summary(ctx: CliContext, at: datetime | None, as_json: bool) -> None:
    """Users per effective role and source (declared / inferred / unknown)."""
    from api.services.roles import roles_summary

    with closing(ctx.open_store(read_only=True)) as store:
        result = roles_summary(store, at)
    if as_json:
        echo_json(result)
        return
    table = Table(title=f"Effective roles at {result['at']} ({result['users']} users)")
    for c in ("role", "total", "declared", "inferred", "unknown"):
        table.add_column(c, justify="left" if c == "role" else "right")
    for role, counts in result["roles"].items():
        table.add_row(
            role, *(str(counts.get(c, 0)) for c in ("total", "declared", "inferred", "unknown"))
        )
    Console().print(table)
    if result["declarations"]:
        click.echo(f"dated declarations on file: {_pairs(result['declarations'])}")
    if result["model"]:
        m = result["model"]
        click.echo(f"latest model {m['model_version']} (threshold {m['threshold']})")


@command.command("top")
@click.option(
    "--role", type=click.Choice(["employee", "kol", "consumer"]), required=True, help="Which view."
)
@click.option(
    "--limit",
    "-n",
    type=click.IntRange(1, 1000),
    default=20,
    show_default=True,
    help="Members to show.",
)
@click.option("--run", "run_id", default=None, help="Ranking run (default: the latest).")
@click.option("--at", type=UtcDateTime(), default=None, help="Roles at this time (default now).")
@click.option("--json", "as_json", is_flag=True, help="Print the whole view as JSON.")
@pass_cli
def top(
    ctx: CliContext,
    role: str,
    limit: int,
    run_id: str | None,
    at: datetime | None,
    as_json: bool,
) -> None:
    """The view of one role: sales guides by attributed GMV (with store rollups and
    uplift), KOLs by attributed GMV (with audience overlap), or the consumer KOC
    leaderboard (never staff) with rising KOCs."""
    from api.services.roles import role_view

    with closing(ctx.open_store(read_only=True)) as store:
        view = role_view(
            store, role, run_id=run_id, limit=limit, at=at, config=ctx.settings.scoring_config
        )
    if as_json:
        echo_json(view)
        return
    console = Console()
    counts = ", ".join(f"{k} {v:,}" for k, v in view["counts"].items())
    console.print(_table(f"{role} view ({counts})", view["items"], _VIEW_COLUMNS[role]))
    cols: tuple[str, ...]
    if role == "employee":
        cols = (
            "store_id",
            "employees",
            "connected_customers",
            "attributed_gmv",
            "aov_uplift",
            "repeat_uplift",
        )
        console.print(_table("per store", view["stores"], cols))
        click.echo(f"overall: {_pairs(view['summary'])}")
    elif role == "kol":
        cols = ("user_a", "user_b", "shared", "union", "jaccard")
        console.print(_table("audience overlap (Jaccard)", view["overlap"], cols))
    else:
        cols = ("user_id", "rank", "previous_rank", "rank_change", "score")
        console.print(_table("rising", view["rising"], cols))
