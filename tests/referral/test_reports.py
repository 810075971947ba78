"""Reports and service functions: totals, reproducible bytes, pagination, referral trees."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime
from decimal import Decimal as D
from pathlib import Path

import pytest

from graph.duckdb_store import DuckDBStore
from graph.errors import ConfigError
from referral import service
from referral.ledger import Ledger
from referral.period_report import write_period_report
from referral.settlement import close_period
from tests.referral.conftest import World, day


def scenario(w: World) -> None:
    """a (kol) -> b -> c buyer; b -> d buyer; refunds; a held self-referral (e, f)."""
    w.ev.user("a", "kol").user("b").user("e", device_hash="D").user("f", device_hash="D")
    w.ev.referral("a", "b", day(0)).referral("b", "c", day(1)).referral("b", "d", day(1))
    w.ev.referral("e", "f", day(1))
    w.ev.order("O1", "c", "100.00", day(2)).order("O2", "d", "80.00", day(3))
    w.ev.order("O3", "f", "50.00", day(3)).refund("O2", "20.00", day(4))
    w.run()


def test_role_level_summary_hand_computed(world: World) -> None:
    scenario(world)
    close_period(
        world.ledger, "2026-07", rules=world.rules, closed_at=datetime(2026, 8, 2, tzinfo=UTC)
    )
    rows = {(r["role"], r["level"]): r for r in service.role_level_summary(world.ledger, "2026-07")}
    # consumer L1: b 5.00 + 4.00, e 2.50 (held); reversal of O2 by 25%: -1.00
    # settled by the close: 5.00 + 4.00 - 1.00 (e's 2.50 is held)
    c1 = rows[("consumer", 1)]
    assert (c1["commissions"], c1["reversals"], c1["held"], c1["settled"]) == (
        D("11.50"),
        D("-1.00"),
        D("2.50"),
        D("8.00"),
    )
    assert (c1["entries_booked"], c1["lines"], c1["beneficiaries"]) == (4, 4, 2)
    # kol L2: a 2% of 100 + 80 = 2.00 + 1.60, reversal -0.40
    k2 = rows[("kol", 2)]
    assert (k2["commissions"], k2["reversals"], k2["settled"]) == (D("3.60"), D("-0.40"), D("3.20"))


def test_list_entries_filters_and_cursor(world: World) -> None:
    scenario(world)
    page1 = service.list_entries(world.ledger, limit=3)
    page2 = service.list_entries(world.ledger, limit=3, after=page1[-1]["seq"])
    everything = service.list_entries(world.ledger, limit=100)
    assert [e["seq"] for e in page1 + page2] == [e["seq"] for e in everything[:6]]
    held = service.list_entries(world.store, status="held")
    assert {e["beneficiary"] for e in held} == {"e"}
    mine = service.list_entries(world.store, beneficiary="a", period="2026-07")
    assert {e["order_id"] for e in mine} == {"O1", "O2"}
    with pytest.raises(ConfigError):
        service.list_entries(world.ledger, status="lost")
    with pytest.raises(ConfigError):
        service.list_entries(world.ledger, period="2026-7")


def test_list_entries_read_only_store_without_ledger_is_empty(tmp_path: Path) -> None:
    DuckDBStore(tmp_path / "k.duckdb").close()
    with DuckDBStore(tmp_path / "k.duckdb", read_only=True) as ro:
        assert service.list_entries(ro) == []
        assert service.role_level_summary(ro, "2026-07") == []


def test_statement_balances_and_lines(world: World) -> None:
    scenario(world)
    st = service.statement(world.store, "b", "2026-07")
    assert not st.closed
    # open period: accrued is what a close at the period end would settle (all payable
    # by then: 7-day hold from July 3-4)
    assert (st.commissions, st.reversals, st.accrued, st.pending, st.paid) == (
        D("9.00"),
        D("-1.00"),
        D("8.00"),
        D(0),
        D(0),
    )
    assert st.closing == st.opening + st.accrued
    assert [line["order_id"] for line in st.lines] == ["O1", "O2", "O2"]
    d = st.to_dict()
    assert d["commissions"] == "9.00" and d["lines"][2]["kind"] == "reversal"


@pytest.mark.parametrize("fmt", ["json", "csv", "xlsx", "html"])
def test_render_statement_reproducible(world: World, fmt: str) -> None:
    scenario(world)
    close_period(world.ledger, "2026-07", rules=world.rules)
    one = service.render_statement(service.statement(world.ledger, "b", "2026-07"), fmt)
    two = service.render_statement(service.statement(world.ledger, "b", "2026-07"), fmt)
    assert one == two and len(one) > 100
    if fmt == "json":
        assert json.loads(one)["paid"] == "8.00"
    if fmt == "xlsx":
        names = zipfile.ZipFile(io.BytesIO(one)).namelist()
        assert "xl/workbook.xml" in names


def test_render_statement_unknown_format(world: World) -> None:
    scenario(world)
    with pytest.raises(ConfigError):
        service.render_statement(service.statement(world.ledger, "b", "2026-07"), "pdf")


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "html"])
def test_period_report_byte_for_byte(world: World, tmp_path: Path, fmt: str) -> None:
    scenario(world)
    close_period(world.ledger, "2026-07", rules=world.rules)
    a = write_period_report(world.ledger, "2026-07", fmt, tmp_path / "a")
    b = write_period_report(world.ledger, "2026-07", fmt, tmp_path / "b")
    assert [p.name for p in a] == [p.name for p in b]
    for pa_, pb in zip(a, b, strict=True):
        assert pa_.read_bytes() == pb.read_bytes()
    if fmt == "html":
        text = a[0].read_text()
        assert "Every cent is accounted for." in text and "<svg" in text
        assert "total" in text


def test_period_report_reconciliation_all_ok(world: World, tmp_path: Path) -> None:
    scenario(world)
    close_period(world.ledger, "2026-07", rules=world.rules)
    (path,) = [
        p
        for p in write_period_report(world.ledger, "2026-07", "csv", tmp_path)
        if "reconciliation" in p.name
    ]
    lines = path.read_text().splitlines()[1:]
    assert lines and all(line.endswith("true") for line in lines)


def test_referral_tree_and_stats(world: World) -> None:
    scenario(world)
    tree = service.referral_tree(world.store, "c", 3)
    assert [(u["level"], u["user_id"]) for u in tree["upline"]] == [(1, "b"), (2, "a")]
    stats = service.referral_stats(world.store, "b")
    assert (stats["referrer"], stats["direct_referees"], stats["downline_gmv"]) == (
        "a",
        2,
        D("160.00"),
    )
    assert (stats["commissions"], stats["reversed"]) == (D("9.00"), D("-1.00"))
    with pytest.raises(ConfigError):
        service.referral_tree(world.store, "c", 0)


def test_store_upline_downline_stop_on_long_cycle(world: World) -> None:
    for u in "abcd":
        world.ev.user(u)
    # a -> b -> c -> d -> a: a cycle of four
    world.ev.referral("a", "b", day(0)).referral("b", "c", day(1)).referral("c", "d", day(2))
    world.ev.referral("d", "a", day(3)).order("O1", "b", "10.00", day(4))
    world.ev.load(world.store)
    up = world.store.upline("a", 10).to_pylist()
    assert [u["user_id"] for u in up] == ["d", "c", "b"]
    down = world.store.downline("a", 10).to_pylist()
    assert [(d["level"], d["users"]) for d in down] == [(1, 1), (2, 1), (3, 1)]
    assert down[0]["gmv"] == D("10.00")


def test_ledger_separate_file_for_store_without_tables(tmp_path: Path) -> None:
    from graph.tables import NoTables

    class NoConn:  # a store opened without tables (Neo4j without KOC_LEDGER_PATH)
        tables = NoTables("Opened without a tables file.")

    with Ledger.open(NoConn(), tmp_path / "ledger.duckdb") as ledger:
        assert ledger.ready and ledger.closed_periods() == []
    from graph.errors import StoreError

    with pytest.raises(StoreError, match="KOC_LEDGER_PATH"):
        Ledger.open(NoConn())


def test_money_text_currency_decimals_half_up() -> None:
    from referral.render import money_text

    got = [money_text(D(v)) for v in ("5.0000", "0", "-1.5000", "1234.5", "0.015000", "1E+1")]
    # graph.money.format_money: the currency's decimals, half-up, thousands grouped
    assert got == ["5.00", "0.00", "-1.50", "1,234.50", "0.02", "10.00"]


EVIL = '=HYPERLINK("http://evil.example/?","Click for payout")'


def _evil_world(w: World) -> None:
    """A beneficiary whose user id is a spreadsheet formula (OWASP CSV injection)."""
    w.ev.user(EVIL).user("-b").referral(EVIL, "-b", day(0)).order("O1", "-b", "100.00", day(2))
    w.run()
    close_period(w.ledger, "2026-07", rules=w.rules)


def _sheet_cells(xlsx: bytes) -> list[str]:
    """The XML of every worksheet of a workbook."""
    z = zipfile.ZipFile(io.BytesIO(xlsx))
    return [z.read(n).decode() for n in z.namelist() if n.startswith("xl/worksheets/")]


def test_render_statement_formula_user_id_is_text(world: World) -> None:
    _evil_world(world)
    st = service.statement(world.ledger, EVIL, "2026-07")
    text = service.render_statement(st, "csv").decode()
    assert "'" + EVIL.replace('"', '""') in text  # quoted by csv, prefixed by '
    assert "\r\n=" not in text and ",=" not in text and ',"=' not in text
    xlsx = service.render_statement(st, "xlsx")
    sheets = _sheet_cells(xlsx)
    assert any("HYPERLINK" in s for s in sheets)  # the id is there, as text
    assert not any("<f>" in s or "<f " in s for s in sheets)  # no formula cell
    styles = zipfile.ZipFile(io.BytesIO(xlsx)).read("xl/styles.xml").decode()
    assert 'quotePrefix="1"' in styles  # Excel keeps it text when the cell is edited
    amounts = [line["amount"] for line in st.lines]
    assert amounts and all(a > 0 for a in amounts)  # Decimals keep their value


def test_period_report_formula_user_ids_neutralised(world: World, tmp_path: Path) -> None:
    _evil_world(world)
    csvs = write_period_report(world.ledger, "2026-07", "csv", tmp_path / "c")
    body = "".join(p.read_text() for p in csvs)
    assert "HYPERLINK" in body and "'=HYPERLINK" in body
    for line in body.splitlines():
        for value in line.split(","):
            assert not value.lstrip('"').startswith(("=", "@", "+")), line
    (xlsx,) = write_period_report(world.ledger, "2026-07", "xlsx", tmp_path / "x")
    sheets = _sheet_cells(xlsx.read_bytes())
    assert any("HYPERLINK" in s for s in sheets)
    assert not any("<f>" in s or "<f " in s for s in sheets)


def test_neutralize_formula_owasp_triggers() -> None:
    from referral.render import neutralize_formula, neutralize_formula_columns

    cases = ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"]
    assert [neutralize_formula(c) for c in cases] == ["'" + c for c in cases]
    assert neutralize_formula("alice") == "alice" and neutralize_formula("") == ""
    import pyarrow as pa

    t = neutralize_formula_columns(pa.table({"u": [*cases, "ok", None], "n": list(range(8))}))
    assert t.column("u").to_pylist() == [*("'" + c for c in cases), "ok", None]
    assert t.column("n").to_pylist() == list(range(8))


def test_period_report_several_formats_same_bytes_one_build(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario(world)
    close_period(world.ledger, "2026-07", rules=world.rules)
    one_by_one = [
        p
        for fmt in ("csv", "xlsx", "html")
        for p in write_period_report(world.ledger, "2026-07", fmt, tmp_path / fmt)
    ]
    import referral.period_report as pr

    builds: list[str] = []
    real = pr.period_report

    def counted(*args: object, **kwargs: object) -> object:  # a spy: the real function runs
        builds.append("build")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pr, "period_report", counted)
    together = write_period_report(
        world.ledger, "2026-07", ["csv", "xlsx", "html", "csv"], tmp_path / "t"
    )
    assert builds == ["build"]  # three formats, one read of the ledger
    assert [p.name for p in together] == [p.name for p in one_by_one]  # duplicates once
    for a, b in zip(one_by_one, together, strict=True):
        assert a.read_bytes() == b.read_bytes()
    every = write_period_report(world.ledger, "2026-07", "all", tmp_path / "all")
    assert [p.name for p in every] == [p.name for p in one_by_one]
    with pytest.raises(ConfigError, match="pdf"):
        write_period_report(world.ledger, "2026-07", ["csv", "pdf"], tmp_path / "x")


def test_reconciliation_counts_are_integers_in_every_format(world: World, tmp_path: Path) -> None:
    scenario(world)
    close_period(world.ledger, "2026-07", rules=world.rules)
    files = write_period_report(world.ledger, "2026-07", "all", tmp_path)
    import csv as csvmod

    (rec,) = [p for p in files if p.name.endswith("reconciliation.csv")]
    rows = list(csvmod.DictReader(io.StringIO(rec.read_text())))
    counts = [r for r in rows if r["unit"] == "count"]
    money = [r for r in rows if r["unit"] == "money"]
    # summary lines = statement lines: b, a, e hold 3 + 2 + 1 + 1 due entries (hand count)
    lines = next(r for r in counts if r["check"].startswith("summary lines (count)"))
    assert (lines["expected"], lines["actual"], lines["difference"]) == ("7", "7", "0")
    assert counts and all("." not in r["expected"] + r["actual"] + r["difference"] for r in counts)
    assert money and all(len(r["expected"].split(".")[1]) == 2 for r in money)
    assert all(r["ok"] == "true" for r in rows)
    from openpyxl import load_workbook

    (xlsx,) = [p for p in files if p.suffix == ".xlsx"]
    sheet = load_workbook(xlsx)["Reconciliation"]
    head = [c.value for c in sheet[1]]
    for row in sheet.iter_rows(min_row=2, values_only=True):
        if row[head.index("unit")] == "count":
            assert isinstance(row[head.index("expected")], int)
    (html,) = [p for p in files if p.suffix == ".html"]
    section = html.read_text().split("Reconciliation")[1]
    assert '<td>count</td><td class="num">7</td>' in section and "7.00" not in section


def test_period_report_sub_cent_basis_rounds_half_up(world: World, tmp_path: Path) -> None:
    world.ev.user("a").referral("a", "b", day(0)).order("O1", "b", "100.125", day(2))
    world.run()
    files = write_period_report(world.ledger, "2026-07", "csv", tmp_path)
    (entries,) = [p for p in files if p.name.endswith("entries.csv")]
    import csv as csvmod

    (row,) = list(csvmod.DictReader(io.StringIO(entries.read_text())))
    # 100.125 half-up is 100.13 (banker's rounding would give 100.12); 5 % of 100.125 = 5.01
    assert (row["basis"], row["amount"], row["rate"]) == ("100.13", "5.01", "0.050000")
