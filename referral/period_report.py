"""``koc commissions report``: a period's finance report as CSV, XLSX or HTML files.

Contents (same in every format):

* **balances**: one statement summary per beneficiary (opening balance,
  commissions, reversals, accrued, paid, closing balance, held, pending), with totals;
* **entries**: every statement line (orders, levels, amounts, reversals, holds);
* **summary**: totals by role, model and level, and a chart of net and paid
  amounts by role and level (HTML);
* **reconciliation**: the checks of :func:`referral.reports.reconciliation`.

Byte-reproducible for the same ledger (see :mod:`referral.render`). The XLSX
workbook holds at most :data:`XLSX_MAX_ROWS` balance rows (largest first) and entry
rows (the CSV always has all of them); the HTML page shows the summary, chart,
reconciliation and the :data:`HTML_MAX_BALANCE_ROWS` largest balances (totals over
all), not the individual entries.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from graph.errors import ConfigError
from referral.ledger import Ledger
from referral.periods import DEFAULT_TIMEZONE, check_period
from referral.render import (
    _table_html,
    html_page,
    neutralize_formula_columns,
    payout_chart_svg,
    xlsx_bytes,
)
from referral.reports import balances, period_lines, reconciliation, report_clock
from referral.reports import role_level_summary as summary_table

__all__ = [
    "REPORT_FORMATS",
    "XLSX_MAX_ROWS",
    "HTML_MAX_BALANCE_ROWS",
    "write_period_report",
]

REPORT_FORMATS: tuple[str, ...] = ("csv", "xlsx", "html")
#: Rows of the Balances and Entries sheets; beyond this a last row points to the CSV
#: (a workbook is for reading; the CSV is the complete export).
XLSX_MAX_ROWS = 20_000
#: Beneficiaries listed in the HTML page (largest accrued first); totals cover everyone.
HTML_MAX_BALANCE_ROWS = 500


def _csv(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pacsv.write_csv(
        neutralize_formula_columns(table), sink, pacsv.WriteOptions(quoting_style="needed")
    )
    return sink.getvalue().to_pybytes()


def _rows(table: pa.Table) -> tuple[list[str], list[list[object]]]:
    if not table.column_names:
        return [], []
    cols = [table.column(c).to_pylist() for c in table.column_names]
    return list(table.column_names), [list(r) for r in zip(*cols, strict=True)]


def _totals_row(table: pa.Table, label_cols: int) -> list[object]:
    out: list[object] = ["total", *([""] * (label_cols - 1))]
    for name in table.column_names[label_cols:]:
        col = table.column(name)
        if pa.types.is_decimal(col.type) or pa.types.is_integer(col.type):
            total = pc.sum(col).as_py()
            out.append(Decimal(0) if total is None else Decimal(total))
        else:
            out.append("")
    return out


def _largest(table: pa.Table, n: int) -> pa.Table:
    """The ``n`` rows with the largest ``accrued`` (ties by beneficiary), or all."""
    if table.num_rows <= n:
        return table
    order = [("accrued", "descending"), ("beneficiary", "ascending")]
    return table.sort_by(order).slice(0, n)


def _capped_sheet(name: str, table: pa.Table, n: int, what: str, csv_name: str) -> tuple:
    header, rows = _rows(_largest(table, n) if what == "balances" else table.slice(0, n))
    if table.num_rows > n:
        rows.append([f"... {table.num_rows - n} more {what}: see {csv_name}"])
    return (name, header, rows)


def write_period_report(
    ledger: Ledger,
    period: str,
    fmt: str,
    out_dir: str | Path,
    *,
    tz: str = DEFAULT_TIMEZONE,
) -> list[Path]:
    """Write the report of ``period`` in ``fmt`` into ``out_dir``; return the files.

    Raises
    ------
    ConfigError
        Unknown format or period.
    """
    check_period(period)
    if fmt not in REPORT_FORMATS:
        raise ConfigError(
            f"Unknown report format {fmt!r}; use one of {', '.join(REPORT_FORMATS)}.",
            key="format",
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    at, closed = report_clock(ledger, period, tz)
    bal = balances(ledger, period, tz=tz)
    summ = summary_table(ledger, period, tz=tz)
    rec = reconciliation(ledger, period, tz=tz)
    stem = f"commissions-{period}"
    state = "closed" if closed else f"open, as of {at.isoformat()}"
    title = f"Commission report {period} ({state})"
    files: list[Path] = []

    def write(name: str, data: bytes) -> None:
        path = out / name
        path.write_bytes(data)
        files.append(path)

    if fmt == "csv":
        lines = period_lines(ledger, period, tz=tz)
        for name, table in (
            ("balances", bal),
            ("entries", lines),
            ("summary", summ),
            ("reconciliation", rec),
        ):
            write(f"{stem}-{name}.csv", _csv(table) if table.column_names else b"")
    elif fmt == "xlsx":
        lines = period_lines(ledger, period, tz=tz)
        sheets = [
            ("Summary", *_rows(summ)),
            ("Reconciliation", *_rows(rec)),
            _capped_sheet("Balances", bal, XLSX_MAX_ROWS, "balances", f"{stem}-balances.csv"),
            _capped_sheet("Entries", lines, XLSX_MAX_ROWS, "entries", f"{stem}-entries.csv"),
        ]
        write(f"{stem}.xlsx", xlsx_bytes(sheets, title=title, fixed_time=at))
    else:
        n_lines = (
            ledger.scalar(
                "SELECT count(*) FROM referral_entries e WHERE e.period = ? OR EXISTS ("
                "SELECT 1 FROM referral_status s WHERE s.entry_id = e.entry_id AND s.period = ?)",
                [period, period],
            )
            if ledger.ready
            else 0
        )
        top = _largest(bal, HTML_MAX_BALANCE_ROWS)
        bh, br = _rows(top)
        sh, sr = _rows(summ)
        rh, rr = _rows(rec)
        ok = all(rec.column("ok").to_pylist()) if rec.num_rows else True
        verdict = (
            '<p class="ok">Every cent is accounted for.</p>'
            if ok
            else '<p class="bad">Reconciliation differences found: see the table.</p>'
        )
        chart = payout_chart_svg(summ, title=f"Net booked and paid by role and level, {period}")
        currency = bal.column("currency")[0].as_py() if bal.num_rows else "CNY"
        head = (
            f"<p>Period {period} ({state}); {bal.num_rows} beneficiaries, {n_lines} "
            f"ledger lines. Amounts in {currency}.</p>"
        )
        more = "" if top is bal else ", largest accrued first; all in the CSV report"
        write(
            f"{stem}.html",
            html_page(
                title,
                [
                    ("Overview", head + verdict),
                    (
                        "Summary by role and level",
                        _table_html(sh, sr, _totals_row(summ, 3) if sr else None) + chart,
                    ),
                    ("Reconciliation", _table_html(rh, rr)),
                    (
                        f"Balances by beneficiary ({top.num_rows} of {bal.num_rows}{more})",
                        _table_html(bh, br, _totals_row(bal, 2) if br else None),
                    ),
                ],
            ),
        )
    return files
