"""``koc commissions`` end to end on an embedded store file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from api.cli import cli, main
from graph.duckdb_store import DuckDBStore
from tests.referral.conftest import Events, day


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "koc.duckdb"
    ev = Events()
    ev.user("a", "kol").user("b").user("e", device_hash="D").user("f", device_hash="D")
    ev.referral("a", "b", day(0)).referral("b", "c", day(1)).referral("e", "f", day(1))
    ev.order("O1", "c", "100.00", day(2)).order("O2", "f", "50.00", day(3))
    ev.refund("O1", "10.00", day(4))
    with DuckDBStore(path) as store:
        ev.load(store)
    return path


def koc(db: Path, *args: str) -> str:
    result = CliRunner().invoke(
        cli, ["--db", str(db), "commissions", *args], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    return result.stdout


def test_commissions_cli_full_cycle(db: Path, tmp_path: Path) -> None:
    out = json.loads(koc(db, "run", "--json"))
    assert (out["orders_new"], out["entries_new"], out["holds_new"]) == (2, 3, 1)
    assert "Nothing new" in koc(db, "run")
    holds = json.loads(koc(db, "holds", "--json"))
    assert holds["total"] == 1 and [h["beneficiary"] for h in holds["data"]] == ["e"]
    koc(db, "release", holds["data"][0]["short_id"], "--reason", "verified family", "--by", "alice")
    assert json.loads(koc(db, "holds", "--json"))["total"] == 0
    closed = json.loads(koc(db, "close", "--period", "2026-07", "--by", "bob", "--json"))
    # b 5.00 - 0.50, a 2.00 - 0.20, e 2.50 (released)
    assert closed[0]["paid"] == "8.80"  # money at the currency's decimals, not 8.8000
    for fmt in ("csv", "xlsx", "html"):
        koc(db, "report", "--period", "2026-07", "--format", fmt, "--out", str(tmp_path / "r"))
    assert len(list((tmp_path / "r").iterdir())) == 7  # 5 CSV tables, XLSX, HTML
    st = json.loads(koc(db, "statement", "b", "--period", "2026-07"))
    assert (st["paid"], st["closing"]) == ("4.50", "0.00")
    rows = json.loads(koc(db, "ledger", "--beneficiary", "b", "--json"))
    assert [r["kind"] for r in rows] == ["commission", "reversal"]


def test_commissions_cli_policy_error_exit_2(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text('version = "deep"\nlevels = 5\n')
    with pytest.raises(SystemExit) as exc:
        main(["--db", str(db), "commissions", "run", "--rules", str(rules)])
    assert exc.value.code == 2
    assert "pyramid selling" in capsys.readouterr().err


def test_commissions_cli_run_reports_late_referral(db: Path) -> None:
    koc(db, "run")
    ev = Events()
    ev.user("z").referral("z", "c", day(0, 12))  # before b's touch of c (day 1): z binds c
    with DuckDBStore(db) as store:
        ev.load(store)
    out = koc(db, "run")
    # O1 100.00: b 5.00 and a 2.00 (less the 10 % refund) move to z (5.00, less 0.50)
    assert "re-attributed (referral arrived late): 1 of 1 re-examined order(s)" in out
    st = json.loads(koc(db, "statement", "z", "--period", "2026-07"))
    assert (st["commissions"], st["reversals"]) == ("5.00", "-0.50")
    assert st["lines"][0]["reason"].startswith("re-attributed: referral arrived late")


def _invoke(db: Path, *args: str, input: str | None = None):
    return CliRunner().invoke(cli, ["--db", str(db), "commissions", *args], input=input)


def test_commissions_close_period_not_ended_refused(db: Path) -> None:
    koc(db, "run")
    result = _invoke(db, "close", "--period", "2999-03", "--yes")
    assert result.exit_code != 0
    assert "Period 2999-03 has not ended yet" in str(result.exception)
    assert json.loads(koc(db, "ledger", "--status", "paid", "--json")) == []  # nothing closed


def test_commissions_close_several_periods_asks_first(db: Path) -> None:
    """Entries start in 2026-07: closing 2026-09 closes three months, so it asks."""
    koc(db, "run")
    no = _invoke(db, "close", "--period", "2026-09", input="n\n")
    assert no.exit_code != 0 and "closes 3 periods, 2026-07, 2026-08, 2026-09" in no.output
    with DuckDBStore(db, read_only=True) as store:
        assert store.conn.execute("SELECT count(*) FROM referral_periods").fetchone() == (0,)
    yes = _invoke(db, "close", "--period", "2026-09", "--json", input="y\n")
    assert yes.exit_code == 0, yes.output
    assert [r["period"] for r in json.loads(yes.stdout)] == [
        "2026-07",
        "2026-08",
        "2026-09",
    ]


def test_commissions_close_one_period_needs_no_confirmation(db: Path) -> None:
    koc(db, "run")
    closed = json.loads(koc(db, "close", "--period", "2026-07", "--json"))
    assert [r["period"] for r in closed] == ["2026-07"]
    closed = json.loads(koc(db, "close", "--period", "2026-09", "--yes", "--json"))
    assert [r["period"] for r in closed] == ["2026-08", "2026-09"]


def test_commissions_cli_money_at_currency_decimals(db: Path, tmp_path: Path) -> None:
    import re

    two = re.compile(r"^-?\d+\.\d{2}$")
    run = json.loads(koc(db, "run", "--json"))
    # O1 100.00: b 5 % = 5.00, a 2 % = 2.00; O2 50.00: e 5 % = 2.50 (held) -> 9.50
    assert run["commission"] == "9.50" and run["reversed"] == "-0.70"
    assert isinstance(run["entries_new"], int)
    holds = json.loads(koc(db, "holds", "--json"))
    assert [h["amount"] for h in holds["data"]] == ["2.50"] and holds["total"] == 1
    table = koc(db, "holds")
    assert "2.50" in table and "2.5000" not in table
    rows = json.loads(koc(db, "ledger", "--json"))
    assert all(two.match(r["amount"]) and two.match(r["basis"]) for r in rows)
    assert {r["rate"] for r in rows if r["kind"] == "commission"} == {"0.050000", "0.020000"}
    assert "0000" not in koc(db, "ledger")
    st = json.loads(koc(db, "statement", "b", "--period", "2026-07"))
    assert st["commissions"] == "5.00" and st["lines"][0]["basis"] == "100.00"
    assert st["lines"][0]["rate"] == "0.050000"  # a rate, not money: never rounded to cents


def test_commissions_cli_report_several_formats(db: Path, tmp_path: Path) -> None:
    koc(db, "run")
    out = koc(
        db,
        "report",
        "--period",
        "2026-07",
        "--format",
        "csv",
        "--format",
        "xlsx",
        "--out",
        str(tmp_path / "a"),
    )
    assert sorted(p.suffix for p in (tmp_path / "a").iterdir()) == [".csv"] * 5 + [".xlsx"]
    assert out.count("wrote ") == 6
    koc(db, "report", "--period", "2026-07", "--format", "all", "--out", str(tmp_path / "b"))
    assert len(list((tmp_path / "b").iterdir())) == 7
    result = CliRunner().invoke(
        cli, ["--db", str(db), "commissions", "report", "--period", "2026-07", "--format", "pdf"]
    )
    assert result.exit_code == 2 and "pdf" in result.output
