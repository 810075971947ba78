"""What `koc` prints: readable lines (no Python reprs), money with 2 decimals, honest metrics.

The store is the roles service's hand-written world (240 users, 8 KOLs, 20 sales
guides; :mod:`tests.api.test_roles_service`), ranked once; every test runs the
real command line on it.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from click.testing import CliRunner, Result
from threadpoolctl import threadpool_limits

from api.cli import cli
from api.cli._ranking_common import format_why
from graph.duckdb_store import DuckDBStore
from tests.api.test_roles_service import TRUE_ROLE, _populate

#: a Python dict or Decimal repr in output (``{'total': 5}``, ``Decimal('1.0000')``)
REPR = re.compile(r"\{'|Decimal\(")


@pytest.fixture(scope="module")
def ranked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    from api.services.ranking import run_ranking

    db = tmp_path_factory.mktemp("out") / "roles.duckdb"
    store = DuckDBStore(db)
    try:
        _populate(store)
        with threadpool_limits(1):
            run_ranking(store)
    finally:
        store.close()
    yield db


def _koc(db: Path, *args: str) -> Result:
    with threadpool_limits(1):
        result = CliRunner(env={"COLUMNS": "250"}).invoke(
            cli, [*args, "--db", str(db)], catch_exceptions=False
        )
    assert result.exit_code == 0, result.output
    return result


def test_format_why_gmv_is_money_with_two_decimals() -> None:
    assert "1,630.13 CNY net" in format_why({"conversion.attributed_gmv": 1630.125})
    assert "0.00 CNY net" in format_why({})


def test_top_why_gmv_prints_two_decimals(ranked: Path) -> None:
    out = _koc(ranked, "top", "-n", "5").stdout
    amounts = re.findall(r"([\d,.]+) CNY net", out)
    assert amounts and all(re.fullmatch(r"\d{1,3}(,\d{3})*\.\d{2}", a) for a in amounts), amounts


def test_roles_infer_prints_counts_not_reprs(tmp_path: Path, ranked: Path) -> None:
    db = tmp_path / "copy.duckdb"
    db.write_bytes(ranked.read_bytes())
    out = _koc(db, "roles", "infer").stdout
    assert not REPR.search(out), out
    assert re.search(r"trained on: consumer \d+, employee \d+, kol \d+", out), out


def test_roles_top_employee_overall_is_readable(ranked: Path) -> None:
    out = _koc(ranked, "roles", "top", "--role", "employee").stdout
    assert not REPR.search(out), out
    overall = next(line for line in out.splitlines() if line.startswith("overall:"))
    assert re.match(r"overall: employees \d+, connected_customers \d+", overall), overall
    # AOV is money: 2 decimals, unlike the uplift ratios
    assert re.search(r"connected_aov \d[\d,]*\.\d{2}(,|$)", overall), overall


def test_roles_evaluate_small_class_says_too_few_to_judge(ranked: Path, tmp_path: Path) -> None:
    truth = tmp_path / "truth.csv"
    pacsv.write_csv(pa.table({"user_id": list(TRUE_ROLE), "role": list(TRUE_ROLE.values())}), truth)
    result = _koc(ranked, "roles", "evaluate", "--folds", "3", "--ground-truth", str(truth))
    lines = result.stdout.splitlines()
    rows = [line for line in lines if line.strip("│ ").startswith("kol") and "." in line]
    assert len(rows) == 3  # the metric rows of cv, holdout, holdout at the threshold
    assert all(re.search(r"n=\d+, too few to judge", row) for row in rows), rows
    consumer = next(line for line in lines if line.strip("│ ").startswith("consumer"))
    assert "too few" not in consumer  # 165 declared consumers are enough
    assert "caveat vs ground truth, kol:" in " ".join(result.stdout.split())


def test_roles_evaluate_classifier_warnings_stay_off_the_terminal(
    ranked: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sklearn.exceptions import UndefinedMetricWarning

    import api.services.roles as roles_service

    real = roles_service.evaluate_roles

    def warning_evaluate(*args, **kwargs):  # type: ignore[no-untyped-def]
        warnings.warn("Precision is ill-defined", UndefinedMetricWarning, stacklevel=1)
        return real(*args, **kwargs)

    monkeypatch.setattr(roles_service, "evaluate_roles", warning_evaluate)
    result = _koc(ranked, "roles", "evaluate", "--folds", "3")
    assert "ill-defined" not in result.stderr and "ill-defined" not in result.stdout
    assert "note: the classifier warned (UndefinedMetricWarning x1)" in result.stderr
