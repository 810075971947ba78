"""``koc commissions report``: a period's finance report as CSV, XLSX or HTML files.

Contents (same figures in every format, all from one :func:`referral.reconciliation.period_report`):

* **overview** (the XLSX cover sheet): open or closed, as of when, time zone, and
  each figure of the period once, with its definition (:data:`FIGURES`);
* **balances**: one row per beneficiary (:data:`referral.reports.BALANCE_COLUMNS`), with totals;
* **entries**: every statement line (the period's due entries) with its state;
* **summary**: the same entries by role, model and level, and a chart of net booked
  and settled amounts by role and level (HTML);
* **reconciliation**: the checks of :func:`referral.reconciliation.reconciliation`, including the
  cross-table identities (summary = balances = statement lines = the close).

Byte-reproducible for the same ledger (:mod:`referral.xlsx`, :mod:`referral.render`);
a closed period's report never changes (it is read as of its close). CSV files have one
table each, money with the currency's decimals. The XLSX workbook holds at most
:data:`XLSX_MAX_ROWS` balance rows (largest first) and entry rows (the CSV always has
all of them); the HTML page shows the overview, summary, chart, reconciliation and
the :data:`HTML_MAX_BALANCE_ROWS` largest balances (totals over all), not the entries.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from graph.errors import AttributionError, ConfigError
from graph.money import CURRENCY_MINOR_UNITS, format_money, quantize
from referral.ledger import Ledger
from referral.periods import DEFAULT_TIMEZONE, check_period
from referral.reconciliation import PeriodReport, period_report
from referral.render import (
    LINE_FORMATS,
    csv_bytes,
    html_page,
    neutralize_formula_columns,
    payout_chart_svg,
    table_html,
)
from referral.xlsx import XlsxSheet, xlsx_bytes

__all__ = [
    "FIGURES",
    "REPORT_FORMATS",
    "XLSX_MAX_ROWS",
    "HTML_MAX_BALANCE_ROWS",
    "overview_rows",
    "report_formats",
    "write_period_report",
]

REPORT_FORMATS: tuple[str, ...] = ("csv", "xlsx", "html")
#: Rows of the Balances and Entries sheets; beyond this a last row points to the CSV
#: (a workbook is for reading; the CSV is the complete export).
XLSX_MAX_ROWS = 20_000
#: Beneficiaries listed in the HTML page (largest accrued first); totals cover everyone.
HTML_MAX_BALANCE_ROWS = 500

#: Every figure of the overview, in order, with its definition (docs/commissions.md).
FIGURES: tuple[tuple[str, str], ...] = (
    ("beneficiaries", "people with a statement line or a balance in the period"),
    ("entries_booked", "ledger entries booked in the period (count)"),
    ("lines", "statement lines: due entries = booked in the period or brought forward (count)"),
    ("entries_settled", "statement lines settled by the period's close (count)"),
    ("opening", "closing balances of the previous close"),
    ("commissions", "commissions and bonuses booked in the period"),
    ("reversals", "reversals booked in the period (refunds, corrections, voids; negative)"),
    ("net", "commissions + reversals"),
    ("brought_forward", "entries of earlier periods still unsettled (held or pending then)"),
    ("held", "due entries on a fraud or policy hold"),
    ("pending", "due entries still inside their holding period at the period end"),
    ("accrued", "due entries settled by the close = net + brought forward - held - pending"),
    ("gross_payable", "opening + accrued: owed before the minimum payout"),
    ("paid", "paid out by the close (0 while the period is open)"),
    ("closing", "gross payable - paid: carried to the next period"),
)
_COUNTS = frozenset({"beneficiaries", "entries_booked", "lines", "entries_settled"})


def _money_2(table: pa.Table, digits: int) -> pa.Table:
    """Money columns (DECIMAL(20, 4)) at the currency's decimals, for the CSV files
    (rounded half away from zero, as :func:`graph.money.format_money`)."""
    money = pa.decimal128(20, digits)
    for i, f in enumerate(table.schema):
        if pa.types.is_decimal(f.type) and f.type.scale == 4:
            # half away from zero, as graph.money.quantize (a basis may have sub-cents)
            col = pc.round(table.column(i), ndigits=digits, round_mode="half_towards_infinity")
            table = table.set_column(i, pa.field(f.name, money), pc.cast(col, money))
    return table


def _csv(table: pa.Table, digits: int, *, ingested_text: bool = True) -> bytes:
    """One table as CSV; text that came from ingested data is neutralised against
    formula injection (our own text, such as the overview's signed values, is not)."""
    if not table.column_names:
        return b""
    table = _money_2(table, digits)
    sink = pa.BufferOutputStream()
    pacsv.write_csv(
        neutralize_formula_columns(table) if ingested_text else table,
        sink,
        pacsv.WriteOptions(quoting_style="needed"),
    )
    return sink.getvalue().to_pybytes()


def _rows(table: pa.Table) -> tuple[list[str], list[list[Any]]]:
    if not table.column_names:
        return [], []
    cols = [table.column(c).to_pylist() for c in table.column_names]
    return list(table.column_names), [list(r) for r in zip(*cols, strict=True)]


def _totals_row(table: pa.Table, label: str, counts: dict[str, Any] | None = None) -> list[Any]:
    """Sums of the money and count columns; ``counts`` replaces sums that would
    double count (distinct beneficiaries over summary rows); other columns blank."""
    counts = counts or {}
    out: list[Any] = []
    for i, name in enumerate(table.column_names):
        col = table.column(name)
        if i == 0:
            out.append(label)
        elif name in counts:
            out.append(counts[name])
        elif name in ("level", "seq", "rate"):
            out.append("")
        elif pa.types.is_decimal(col.type):
            total = pc.sum(col).as_py()
            out.append(Decimal(0) if total is None else Decimal(total))
        elif pa.types.is_integer(col.type):
            total = pc.sum(col).as_py()
            out.append(int(total or 0))
        else:
            out.append("")
    return out


def _check_rows(rec: pa.Table, currency: str) -> tuple[list[str], list[list[Any]]]:
    """The reconciliation's rows with counts as integers and money at the currency's
    decimals (a count is never shown as ``722.00``)."""
    header, rows = _rows(rec)
    unit = header.index("unit")
    cols = [header.index(c) for c in ("expected", "actual", "difference")]
    for r in rows:
        for i in cols:
            r[i] = int(r[i]) if r[unit] == "count" else quantize(r[i], currency)
    return header, rows


def _largest(table: pa.Table, n: int) -> pa.Table:
    """The ``n`` rows with the largest ``accrued`` (ties by beneficiary), or all."""
    if table.num_rows <= n:
        return table
    order = [("accrued", "descending"), ("beneficiary", "ascending")]
    return table.sort_by(order).slice(0, n)


def overview_rows(rep: PeriodReport, tz: str) -> list[list[Any]]:
    """``[figure, value, definition]`` rows: state, as-of, time zone, then :data:`FIGURES`."""
    snap = rep.snap
    head: list[list[Any]] = [
        ["period", snap.period, "calendar month in the time zone below"],
        [
            "state",
            "closed" if snap.closed else "open",
            "closed: as the ledger stood at the close, final"
            if snap.closed
            else "open: projected, a close at the period end would settle 'accrued'",
        ],
        ["as_of", snap.at, "the instant the figures are computed at (times in the zone below)"],
        ["timezone", tz, "zone of the period boundaries and of every time shown"],
        [
            "reconciled",
            "yes" if rep.ok else "NO",
            "every check of the reconciliation sheet holds",
        ],
    ]
    return head + [[name, rep.totals.get(name, 0), text] for name, text in FIGURES]


def report_formats(fmt: str | Sequence[str]) -> list[str]:
    """The formats asked for, in order, each once: ``"all"`` is every :data:`REPORT_FORMATS`.

    Raises
    ------
    ConfigError
        An unknown format, or none.
    """
    asked = [fmt] if isinstance(fmt, str) else list(fmt)
    out: list[str] = []
    for f in asked:
        for one in REPORT_FORMATS if f == "all" else (f,):
            if one not in REPORT_FORMATS:
                raise ConfigError(
                    f"Unknown report format {one!r}; use one of {', '.join(REPORT_FORMATS)} "
                    "or all.",
                    key="format",
                )
            if one not in out:
                out.append(one)
    if not out:
        raise ConfigError("No report format given; use csv, xlsx, html or all.", key="format")
    return out


def _title(rep: PeriodReport) -> str:
    state = "closed" if rep.snap.closed else f"open, as of {rep.snap.at.isoformat()}"
    return f"Commission report {rep.snap.period} ({state})"


def write_period_report(
    ledger: Ledger,
    period: str,
    fmt: str | Sequence[str],
    out_dir: str | Path,
    *,
    tz: str = DEFAULT_TIMEZONE,
    check: bool = False,
) -> list[Path]:
    """Write the report of ``period`` in one or several formats into ``out_dir``.

    The report's tables (:func:`referral.reconciliation.period_report`: the snapshot,
    balances, lines, summary and reconciliation) are built once and rendered in every
    format of ``fmt`` (``"csv"``, ``["csv", "xlsx", "html"]`` or ``"all"``), so asking
    for three formats costs one read of the ledger, not three.

    With ``check``, a reconciliation check that fails raises after the files are
    written (``koc commissions report`` then exits with status 2 and names the checks).

    Parameters
    ----------
    fmt : str or sequence of str
        Formats of :data:`REPORT_FORMATS`, or ``"all"``; duplicates are written once.

    Returns
    -------
    list of Path
        The files written, format by format in the order asked.

    Raises
    ------
    ConfigError
        Unknown format or period.
    AttributionError
        ``check`` and the books do not reconcile.
    """
    check_period(period)
    formats = report_formats(fmt)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rep = period_report(ledger, period, tz=tz)
    bal, summ, rec, lines = rep.balances, rep.summary, rep.reconciliation, rep.lines
    currency = bal.column("currency")[0].as_py() if bal.num_rows else "CNY"
    digits = CURRENCY_MINOR_UNITS.get(currency, 2)
    stem = f"commissions-{period}"
    files: list[Path] = []
    over = overview_rows(rep, tz)
    distinct = {"beneficiaries": rep.totals.get("beneficiaries", 0)}

    def write(name: str, data: bytes) -> None:
        path = out / name
        path.write_bytes(data)
        files.append(path)

    for form in formats:
        if form == "csv":
            overview = pa.table(
                {
                    "figure": [r[0] for r in over],
                    "value": [
                        format_money(v, currency)
                        if isinstance(v, Decimal)
                        else v.isoformat()
                        if hasattr(v, "isoformat")
                        else str(v)
                        for _, v, _ in over
                    ],
                    "definition": [r[2] for r in over],
                }
            )
            for name, table in (
                ("overview", overview),
                ("balances", bal),
                ("entries", lines),
                ("summary", summ),
            ):
                write(f"{stem}-{name}.csv", _csv(table, digits, ingested_text=name != "overview"))
            head, checks = _check_rows(rec, currency)
            ok = head.index("ok")
            for r in checks:  # as in the other CSV files
                r[ok] = "true" if r[ok] else "false"
            write(f"{stem}-reconciliation.csv", csv_bytes(head, checks))
        elif form == "xlsx":
            write(f"{stem}.xlsx", _workbook(rep, over, tz, stem, distinct, currency))
        else:
            write(f"{stem}.html", _html(rep, over, currency, distinct))
    if check and not rep.ok:
        failing = [r for r in rec.to_pylist() if not r["ok"]]
        raise AttributionError(
            f"The {period} report does not reconcile: {len(failing)} check(s) fail ("
            + "; ".join(
                f"{r['check']}: expected {r['expected']}, got {r['actual']}" for r in failing[:5]
            )
            + f"). The report was written to {out} for inspection; do not pay from it.",
            period=period,
        )
    return files


def _capped(table: pa.Table, n: int, what: str, csv_name: str) -> tuple[pa.Table, str | None]:
    if table.num_rows <= n:
        return table, None
    part = _largest(table, n) if what == "balances" else table.slice(0, n)
    return part, f"... {table.num_rows - n} more {what}: see {csv_name}"


def _workbook(
    rep: PeriodReport,
    over: list[list[Any]],
    tz: str,
    stem: str,
    distinct: dict[str, Any],
    currency: str,
) -> bytes:
    bal, lines = rep.balances, rep.lines
    top, bal_note = _capped(bal, XLSX_MAX_ROWS, "balances", f"{stem}-balances.csv")
    first, line_note = _capped(lines, XLSX_MAX_ROWS, "entries", f"{stem}-entries.csv")
    sheets = [
        XlsxSheet("Cover", ["figure", "value", "definition"], over, table=False),
        XlsxSheet(
            "Summary",
            *_rows(rep.summary),
            totals=_totals_row(rep.summary, "total", distinct) if rep.summary.num_rows else None,
            formats={"level": "0"},
        ),
        XlsxSheet(
            "Balances",
            *_rows(top),
            totals=_totals_row(bal, "total", {}) if bal.num_rows else None,
            note=bal_note,
        ),
        XlsxSheet(
            "Entries",
            *_rows(first),
            totals=_totals_row(lines, "total", {}) if lines.num_rows else None,
            note=line_note,
            formats=LINE_FORMATS,
        ),
        XlsxSheet("Reconciliation", *_check_rows(rep.reconciliation, currency)),
    ]
    return xlsx_bytes(sheets, title=_title(rep), fixed_time=rep.snap.at, tz=tz)


def _html(
    rep: PeriodReport, over: list[list[Any]], currency: str, distinct: dict[str, Any]
) -> bytes:
    bal, summ, rec = rep.balances, rep.summary, rep.reconciliation
    period = rep.snap.period
    top = _largest(bal, HTML_MAX_BALANCE_ROWS)
    bh, br = _rows(top)
    sh, sr = _rows(summ)
    rh, rr = _check_rows(rec, currency)
    verdict = (
        '<p class="ok">Every cent is accounted for. All reconciliation checks hold.</p>'
        if rep.ok
        else '<p class="bad">Reconciliation differences found: see the table.</p>'
    )
    chart = payout_chart_svg(summ, title=f"Net booked and settled by role and level, {period}")
    more = "" if top is bal else ", largest accrued first; all in the CSV report"
    return html_page(
        _title(rep),
        [
            (
                f"Overview (amounts in {currency})",
                verdict + table_html(["figure", "value", "definition"], over),
            ),
            (
                "Summary by role and level",
                table_html(sh, sr, _totals_row(summ, "total", distinct) if sr else None) + chart,
            ),
            ("Reconciliation", table_html(rh, rr)),
            (
                f"Balances by beneficiary ({top.num_rows} of {bal.num_rows}{more})",
                table_html(bh, br, _totals_row(bal, "total", {}) if br else None),
            ),
        ],
    )
