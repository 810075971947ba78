"""``koc commissions report``: a period's finance report as CSV, XLSX or HTML files.

Contents (same in every format):

* **balances**: one statement summary per beneficiary (opening balance,
  commissions, reversals, accrued, paid, closing balance, held, pending), with totals;
* **entries**: every statement line (orders, levels, amounts, reversals, holds);
* **summary**: totals by role, model and level, and a chart of net and paid
  amounts by role and level (HTML);
* **reconciliation**: the checks of :func:`referral.reports.reconciliation`.

Byte-reproducible for the same ledger (see :mod:`referral.render`). The XLSX
workbook holds at most :data:`XLSX_MAX_ENTRY_ROWS` entry rows (a sheet cannot hold
much more; the CSV always has all of them); the HTML page shows the summary, chart,
reconciliation and the :data:`HTML_MAX_BALANCE_ROWS` largest balances (totals over
all), not the individual entries.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from graph.errors import ConfigError
from referral.ledger import Ledger
from referral.periods import DEFAULT_TIMEZONE, check_period
from referral.render import _table_html, html_page, payout_chart_svg, xlsx_bytes
from referral.reports import balances, period_lines, reconciliation, report_clock
from referral.reports import role_level_summary as summary_table

__all__ = [
    "REPORT_FORMATS",
    "XLSX_MAX_ENTRY_ROWS",
    "HTML_MAX_BALANCE_ROWS",
    "write_period_report",
]

REPORT_FORMATS: tuple[str, ...] = ("csv", "xlsx", "html")
#: Entry rows written to the XLSX workbook; above this the sheet points to the CSV.
XLSX_MAX_ENTRY_ROWS = 50_000
#: Beneficiaries listed in the HTML page (largest accrued first); totals cover everyone.
HTML_MAX_BALANCE_ROWS = 500


def _csv(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pacsv.write_csv(table, sink, pacsv.WriteOptions(quoting_style="needed"))
    return sink.getvalue().to_pybytes()


def _rows(table: pa.Table) -> tuple[list[str], list[list[object]]]:
    if not table.column_names:
        return [], []
    cols = [table.column(c).to_pylist() for c in table.column_names]
    return list(table.column_names), [list(r) for r in zip(*cols, strict=True)]


def _totals_row(table: pa.Table, label_cols: int) -> list[object]:
    out: list[object] = ["total"] + [""] * (label_cols - 1)
    for name in table.column_names[label_cols:]:
        col = table.column(name)
        if pa.types.is_decimal(col.type) or pa.types.is_integer(col.type):
            out.append(sum((v for v in col.to_pylist() if v is not None), Decimal(0)))
        else:
            out.append("")
    return out


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
    lines = period_lines(ledger, period, tz=tz)
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
        for name, table in (
            ("balances", bal),
            ("entries", lines),
            ("summary", summ),
            ("reconciliation", rec),
        ):
            write(f"{stem}-{name}.csv", _csv(table) if table.column_names else b"")
    elif fmt == "xlsx":
        sheets = []
        for name, table in (("Balances", bal), ("Summary", summ), ("Reconciliation", rec)):
            sheets.append((name, *_rows(table)))
        if lines.num_rows <= XLSX_MAX_ENTRY_ROWS:
            sheets.append(("Entries", *_rows(lines)))
        else:
            sheets.append(
                (
                    "Entries",
                    ["note"],
                    [
                        [
                            f"{lines.num_rows} entries: too many for a sheet; see the CSV report "
                            f"({stem}-entries.csv)."
                        ]
                    ],
                )
            )
        write(f"{stem}.xlsx", xlsx_bytes(sheets, title=title, fixed_time=at))
    else:
        top = bal
        if bal.num_rows > HTML_MAX_BALANCE_ROWS:
            top = bal.sort_by([("accrued", "descending"), ("beneficiary", "ascending")]).slice(
                0, HTML_MAX_BALANCE_ROWS
            )
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
        head = (
            f"<p>Period {period} ({state}); {bal.num_rows} beneficiaries, {lines.num_rows} "
            f"ledger lines. Amounts in {bal.column('currency')[0] if bal.num_rows else 'CNY'}."
            "</p>"
        )
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
                        f"Balances by beneficiary ({top.num_rows} of {bal.num_rows}"
                        + ("" if top is bal else ", largest accrued first; all in CSV/XLSX")
                        + ")",
                        _table_html(bh, br, _totals_row(bal, 2) if br else None),
                    ),
                ],
            ),
        )
    return files
