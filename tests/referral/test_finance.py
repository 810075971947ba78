"""Finance-grade reports: one value per figure across summary, balances, statements and
the close; closed reports stable after a release; gross payable; the hold workflow
(total count, short ids, voids with a reason); XLSX formatting and the statement CSV.

Expected values are worked out by hand on the scenario of :func:`scenario`."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from decimal import Decimal as D
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from api.cli import cli
from graph.duckdb_store import DuckDBStore
from graph.errors import AttributionError, NotFoundError
from referral import service
from referral.period_report import write_period_report
from referral.reconciliation import period_report, reconciliation
from referral.render import STATEMENT_CSV_COLUMNS, render_statement
from referral.reports import statement
from referral.settlement import close_period
from tests.referral.conftest import Events, World, day

AFTER = datetime(2026, 12, 1, tzinfo=UTC)


def scenario(w: World) -> None:
    """a (kol) -> b -> c; b -> d; e -> f share a device (held); all July.

    O1 c 100.00: b 5.00 (L1), a 2.00 (L2, kol 2 %). O2 d 80.00: b 4.00, a 1.60;
    refund 20.00 of O2 (25 %): b -1.00, a -0.40. O3 f 50.00: e 2.50, held.
    An August order O4 of c 10.00 after its hold period: b 0.50, a 0.20.
    """
    w.ev.user("a", "kol").user("b").user("e", device_hash="D").user("f", device_hash="D")
    w.ev.referral("a", "b", day(0)).referral("b", "c", day(1)).referral("b", "d", day(1))
    w.ev.referral("e", "f", day(1))
    w.ev.order("O1", "c", "100.00", day(2)).order("O2", "d", "80.00", day(3))
    w.ev.order("O3", "f", "50.00", day(3)).refund("O2", "20.00", day(4))
    w.run()


def _close(w: World, period: str) -> None:
    close_period(w.ledger, period, rules=w.rules, closed_at=AFTER, now=AFTER)


def _totals(rep) -> dict:
    return {k: rep.totals[k] for k in ("commissions", "reversals", "held", "accrued", "paid")}


def test_report_one_value_per_figure_across_tables(world: World) -> None:
    scenario(world)
    _close(world, "2026-07")
    rep = period_report(world.ledger, "2026-07")
    # booked: 5 + 2 + 4 + 1.60 + 2.50 = 15.10; reversals -1.40; e's 2.50 held
    assert _totals(rep) == {
        "commissions": D("15.10"),
        "reversals": D("-1.40"),
        "held": D("2.50"),
        "accrued": D("11.20"),
        "paid": D("11.20"),
    }
    assert rep.totals["gross_payable"] == D("11.20") and rep.totals["closing"] == D(0)
    summ = rep.summary.to_pylist()
    for col, total in (("commissions", "commissions"), ("held", "held"), ("settled", "accrued")):
        assert sum(r[col] for r in summ) == rep.totals[total]
    sts = (
        service.statement(world.ledger, "b", "2026-07"),
        service.statement(world.ledger, "e", "2026-07"),
    )
    assert sts[0].paid == D("8.00") and sts[1].held == D("2.50") and sts[1].paid == D(0)
    # counts are counts: 7 entries booked, 7 lines (nothing brought forward), 6 settled
    assert (rep.totals["entries_booked"], rep.totals["lines"], rep.totals["entries_settled"]) == (
        7,
        7,
        6,
    )
    assert rep.totals["beneficiaries"] == 3  # a, b, e: not the sum over summary rows
    assert sum(r["beneficiaries"] for r in summ) == 3
    assert rep.ok, rep.reconciliation.to_pylist()
    names = rep.reconciliation.column("check").to_pylist()
    assert "summary held = balances held" in names
    assert "balances paid = the close's paid" in names


def test_report_held_brought_forward_next_period(world: World) -> None:
    """e's held 2.50 of July stays due in August: brought forward, still held."""
    scenario(world)
    _close(world, "2026-07")
    world.ev.order("O4", "c", "10.00", day(30, 20))  # 1 August 04:00 in Shanghai
    world.run()
    rep = period_report(world.ledger, "2026-08")
    assert rep.totals["brought_forward"] == D("2.50") and rep.totals["held"] == D("2.50")
    assert rep.totals["commissions"] == D("0.70")  # O4: b 0.50, a 0.20
    assert rep.ok


def test_reconciliation_fails_loudly_when_the_close_disagrees(world: World, tmp_path: Path) -> None:
    scenario(world)
    _close(world, "2026-07")
    # corrupt the close (never done by the code: the ledger is append-only)
    world.ledger.conn.execute(
        "UPDATE referral_balances SET accrued = accrued + 1 WHERE beneficiary = 'b'"
    )
    rec = {r["check"]: r for r in reconciliation(world.ledger, "2026-07").to_pylist()}
    assert not rec["balances accrued = the close's accrued"]["ok"]
    assert rec["beneficiaries whose accrued differs from the close's (count)"]["actual"] == 1
    assert not rec["the close: opening + accrued - paid - closing = 0"]["ok"]
    (html,) = write_period_report(world.ledger, "2026-07", "html", tmp_path)
    text = html.read_text()
    assert "Reconciliation differences found" in text and "Every cent" not in text
    with pytest.raises(AttributionError, match="does not reconcile: 4 check"):
        write_period_report(world.ledger, "2026-07", "csv", tmp_path, check=True)
    assert (tmp_path / "commissions-2026-07-reconciliation.csv").exists()


def test_closed_report_stable_after_release_and_void(world: World, tmp_path: Path) -> None:
    scenario(world)
    _close(world, "2026-07")
    before = [
        p.read_bytes() for p in write_period_report(world.ledger, "2026-07", "csv", tmp_path / "a")
    ]
    held = service.list_holds(world.ledger)["data"][0]
    world.ledger.release([held["short_id"]], reason="checked", by="alice", at=AFTER)
    after = [
        p.read_bytes() for p in write_period_report(world.ledger, "2026-07", "csv", tmp_path / "b")
    ]
    assert before == after
    assert period_report(world.ledger, "2026-07").totals["held"] == D("2.50")
    # the open period sees the release: e's 2.50 is brought forward and payable now
    aug = period_report(world.ledger, "2026-08")
    assert aug.totals["held"] == D(0) and aug.totals["accrued"] == D("2.50")


def test_statement_gross_payable_and_closing(world: World) -> None:
    world.set_rules(min_payout="10.00")
    scenario(world)
    _close(world, "2026-07")
    st = statement(world.ledger, "b", "2026-07")
    # b accrued 5 + 4 - 1 = 8.00 < min payout 10: nothing paid, all carried
    assert (st.opening, st.accrued, st.gross_payable, st.paid, st.closing) == (
        D(0),
        D("8.00"),
        D("8.00"),
        D(0),
        D("8.00"),
    )


def test_statement_unknown_beneficiary_is_not_found(world: World) -> None:
    scenario(world)
    with pytest.raises(NotFoundError, match="beneficiary 'nobody'"):
        statement(world.ledger, "nobody", "2026-07")
    _close(world, "2026-07")
    quiet = statement(world.ledger, "b", "2026-09")  # known, nothing due in September
    assert quiet.commissions == D(0) and quiet.lines == []


def test_statement_csv_is_one_table(world: World) -> None:
    scenario(world)
    _close(world, "2026-07")
    data = render_statement(statement(world.ledger, "b", "2026-07"), "csv").decode()
    rows = list(csv.DictReader(io.StringIO(data)))
    assert list(rows[0]) == list(STATEMENT_CSV_COLUMNS)
    figures = {r["name"]: r["value"] for r in rows if r["row"] == "figure"}
    lines = [r for r in rows if r["row"] == "line"]
    assert figures["paid"] == "8.00" and figures["state"] == "closed"
    assert [r["value"] for r in lines] == ["5.00", "4.00", "-1.00"]
    assert sum(D(r["value"]) for r in lines) == D(figures["accrued"])


def test_report_xlsx_formatted_for_finance(world: World, tmp_path: Path) -> None:
    scenario(world)
    _close(world, "2026-07")
    (path,) = write_period_report(world.ledger, "2026-07", "xlsx", tmp_path)
    wb = load_workbook(path)
    assert wb.sheetnames == ["Cover", "Summary", "Balances", "Entries", "Reconciliation"]
    cover = {r[0].value: r[1].value for r in wb["Cover"].iter_rows(min_row=2)}
    assert cover["state"] == "closed" and cover["reconciled"] == "yes"
    assert cover["as_of"] == datetime(2026, 8, 1)  # the period end, local (Shanghai)
    assert cover["paid"] == pytest.approx(11.20) and cover["entries_booked"] == 7
    bal = wb["Balances"]
    assert bal.freeze_panes == "A2" and bal.auto_filter.ref == "A1:L4"
    header = [c.value for c in bal[1]]
    row_b = [c for c in bal[3]]
    assert row_b[0].value == "b" and row_b[header.index("paid")].number_format == "#,##0.00"
    total = bal[bal.max_row]
    assert total[0].value == "total" and total[0].font.b
    assert total[header.index("paid")].value == pytest.approx(11.20)
    assert bal.column_dimensions["A"].width >= 8
    ent = wb["Entries"]
    eh = [c.value for c in ent[1]]
    first = ent[2]
    # O1 at day 2 = 2026-07-03 00:00 UTC = 08:00 in Shanghai, an Excel date-time
    assert first[eh.index("event_ts")].value == datetime(2026, 7, 3, 8, 0)
    assert first[eh.index("event_ts")].number_format == "yyyy-mm-dd hh:mm:ss"
    assert first[eh.index("rate")].number_format == "0.000000"
    summ = wb["Summary"]
    sh = [c.value for c in summ[1]]
    last = summ[summ.max_row]
    assert last[sh.index("beneficiaries")].value == 3  # distinct, not the sum of rows
    assert last[sh.index("entries_booked")].number_format == "#,##0"


def test_report_html_counts_are_not_money(world: World, tmp_path: Path) -> None:
    scenario(world)
    _close(world, "2026-07")
    (path,) = write_period_report(world.ledger, "2026-07", "html", tmp_path)
    text = path.read_text()
    assert "Every cent is accounted for." in text
    assert '<td>entries_booked</td><td class="num">7</td>' in text
    assert "7.00" not in text.split("Summary by role")[0]


def test_open_report_says_open_and_as_of(world: World, tmp_path: Path) -> None:
    scenario(world)
    rep = period_report(world.ledger, "2026-07")
    assert not rep.snap.closed and rep.totals["paid"] == D(0)
    (path,) = write_period_report(world.ledger, "2026-07", "xlsx", tmp_path)
    cover = {r[0].value: r[1].value for r in load_workbook(path)["Cover"].iter_rows(min_row=2)}
    assert cover["state"] == "open"
    as_of = world.ledger.as_of().astimezone(ZoneInfo("Asia/Shanghai")).replace(tzinfo=None)
    assert cover["as_of"] == as_of


def test_holds_total_count_not_page_limit(world: World) -> None:
    world.ev.user("e", device_hash="D")
    for i in range(5):  # five self-referral holds: e refers f_i who share e's device
        world.ev.user(f"f{i}", device_hash="D").referral("e", f"f{i}", day(0))
        world.ev.order(f"O{i}", f"f{i}", "10.00", day(1))
    world.run()
    page = service.list_holds(world.ledger, limit=2)
    assert page["total"] == 5 and len(page["data"]) == 2 and page["next_after"] is not None
    rest = service.list_holds(world.ledger, limit=10, after=page["next_after"])
    assert len(rest["data"]) == 3 and rest["next_after"] is None
    assert page["data"][0]["held_by"] == "system" and page["data"][0]["hold_reason"]


def test_void_books_a_reversal_with_who_and_why(world: World) -> None:
    scenario(world)
    held = service.list_holds(world.ledger)["data"][0]
    assert held["beneficiary"] == "e" and len(held["short_id"]) == 8
    [void_id] = world.ledger.void([held["short_id"]], reason="fake account", by="carol", at=AFTER)
    entries = {e["entry_id"]: e for e in world.entries()}
    void = entries[void_id]
    assert (void["kind"], void["amount"], void["orig_entry_id"]) == (
        "reversal",
        D("-2.50"),
        held["entry_id"],
    )
    assert "voided by carol: fake account" in void["reason"]
    decided = service.list_holds(world.ledger, include_decided=True)["data"][0]
    assert (decided["state"], decided["decided_by"], decided["decision_reason"]) == (
        "voided",
        "carol",
        "fake account",
    )
    assert service.list_holds(world.ledger)["total"] == 0
    # the pair settles to zero; the books still reconcile (voids counted as reversals)
    _close(world, "2026-07")
    st = statement(world.ledger, "e", "2026-07")
    assert (st.commissions, st.reversals, st.accrued, st.paid, st.held) == (
        D("2.50"),
        D("-2.50"),
        D(0),
        D(0),
        D(0),
    )
    assert period_report(world.ledger, "2026-07").ok
    # a refund of the voided order books nothing more against the voided commission
    world.ev.refund("O3", "50.00", day(40))
    world.run()
    assert sum(e["amount"] for e in world.entries() if e["beneficiary"] == "e") == D(0)


def test_release_by_short_id_and_ambiguity(world: World) -> None:
    scenario(world)
    held = service.list_holds(world.ledger)["data"][0]
    with pytest.raises(NotFoundError, match="too short"):
        world.ledger.release([held["entry_id"][:4]], reason="x", by="y")
    with pytest.raises(NotFoundError, match="is not a held entry"):
        world.ledger.release(["ffffffffff"], reason="x", by="y")
    assert world.ledger.release([held["entry_id"][:8].upper()], reason="ok", by="dan") == 1
    with pytest.raises(NotFoundError):  # released: no longer held
        world.ledger.void([held["short_id"]], reason="x", by="y")


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "koc.duckdb"
    ev = Events()
    ev.user("a", "kol").user("b").user("e", device_hash="D").user("f", device_hash="D")
    ev.referral("a", "b", day(0)).referral("b", "c", day(1)).referral("e", "f", day(1))
    ev.order("O1", "c", "100.00", day(2)).order("O2", "f", "50.00", day(3))
    with DuckDBStore(path) as store:
        ev.load(store)
    return path


def _koc(db: Path, *args: str):
    return CliRunner().invoke(cli, ["--db", str(db), "commissions", *args])


def test_cli_hold_workflow(db: Path) -> None:
    assert _koc(db, "run").exit_code == 0
    listing = _koc(db, "holds")
    assert "1 held entr(ies), showing 1" in listing.output
    short = json.loads(_koc(db, "holds", "--json").stdout)["data"][0]["short_id"]
    assert short in listing.output
    voided = _koc(db, "void", short, "--reason", "fake", "--by", "carol")
    assert voided.exit_code == 0 and "voided 1 entr(ies) by carol: fake" in voided.output
    assert "1 hold(s), showing 1" in _koc(db, "holds", "--all").output
    [decided] = json.loads(_koc(db, "holds", "--all", "--json").stdout)["data"]
    assert (decided["state"], decided["decided_by"]) == ("voided", "carol")
    assert "No held entries." in _koc(db, "holds").output


def test_cli_statement_unknown_beneficiary_errors(db: Path) -> None:
    assert _koc(db, "run").exit_code == 0
    result = _koc(db, "statement", "ghost", "--period", "2026-07")
    assert result.exit_code != 0
    assert isinstance(result.exception, NotFoundError)
    assert "beneficiary 'ghost'" in str(result.exception)


def test_close_several_periods_settles_each_entry_once(world: World) -> None:
    """Closing July..September at once: every entry settled once, status seqs unique,
    each close's marks at the last status row written by then."""
    scenario(world)
    world.ev.order("O4", "c", "10.00", day(30, 20)).order("O5", "d", "20.00", day(62))
    world.run()
    close_period(world.ledger, "2026-09", rules=world.rules, closed_at=AFTER, now=AFTER)
    seqs, settled = world.ledger.conn.execute(
        "SELECT count(DISTINCT seq) = count(*), count(DISTINCT entry_id) = count(*) "
        "FROM referral_status WHERE status IN ('paid', 'carried')"
    ).fetchone()
    assert seqs and settled
    marks = world.ledger.conn.execute(
        "SELECT period, status_seq FROM referral_close_marks ORDER BY period"
    ).fetchall()
    last = [
        world.ledger.scalar(
            "SELECT coalesce(max(seq), 0) FROM referral_status WHERE period <= ?", [p]
        )
        for p, _ in marks
    ]
    assert [m[1] for m in marks] == last and last[0] > 0
    for p in ("2026-07", "2026-08", "2026-09"):
        assert period_report(world.ledger, p).ok, p


def test_report_figures_each_defined_in_docs() -> None:
    """Every figure of the report's overview has its definition in docs/commissions.md."""
    from referral.period_report import FIGURES

    docs = (Path(__file__).parents[2] / "docs" / "commissions.md").read_text()
    section = docs.split("### Report figures")[1].split("\n## ")[0]
    missing = [
        name for name, _ in FIGURES if f"`{name}`" not in section and f"**{name}**" not in section
    ]
    assert missing == [], f"figures not defined under 'Report figures': {missing}"
    names = [name for name, _ in FIGURES]
    assert len(names) == len(set(names))  # each figure once
