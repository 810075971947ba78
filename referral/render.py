"""Byte-reproducible renderings of statements and period reports: JSON, CSV, XLSX, HTML.

Reproducibility: rows come in the ledger's deterministic order; timestamps come
from the ledger (never ``now()``); the XLSX workbook gets fixed properties and
creation/modification dates (the period end) and its zip entries a fixed date;
the SVG chart is written with ``svg.hashsalt`` and ``Date`` metadata fixed.
"""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa

from graph.money import format_money, quantize
from referral.reports import BALANCE_COLUMNS, LINE_COLUMNS, LINE_MONEY, Statement
from referral.xlsx import FORMULA_TRIGGERS, XlsxSheet, xlsx_bytes

__all__ = [
    "FORMATS",
    "render_statement",
    "csv_bytes",
    "xlsx_bytes",
    "html_page",
    "table_html",
    "payout_chart_svg",
    "cell",
    "money_text",
    "neutralize_formula",
    "neutralize_formula_columns",
    "statement_csv",
    "STATEMENT_CSV_COLUMNS",
    "FORMULA_TRIGGERS",
    "LINE_FORMATS",
]

FORMATS: tuple[str, ...] = ("json", "csv", "xlsx", "html")
_TOTALS = BALANCE_COLUMNS


def neutralize_formula(text: str) -> str:
    """Text that a spreadsheet shows as text, never evaluates: a leading ``'`` when needed.

    Follows the OWASP CSV-injection advice: a cell that starts with ``=``, ``+``,
    ``-``, ``@``, a tab or a carriage return gets a single quote in front
    (``=HYPERLINK(...)`` -> ``'=HYPERLINK(...)``). Only text goes through here:
    amounts are Decimals and keep their sign.
    """
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def neutralize_formula_columns(table: pa.Table) -> pa.Table:
    """:func:`neutralize_formula` applied to every text column of an Arrow table (vectorised)."""
    import pyarrow.compute as pc

    pattern = r"^[=+\-@\t\r]"  # FORMULA_TRIGGERS as a regex
    for i, f in enumerate(table.schema):
        if pa.types.is_string(f.type) or pa.types.is_large_string(f.type):
            col = table.column(i)
            hit = pc.fill_null(pc.match_substring_regex(col, pattern), False)
            if pc.any(hit).as_py():
                fixed = pc.if_else(hit, pc.binary_join_element_wise("'", col, ""), col)
                table = table.set_column(i, f, fixed)
    return table


def _plain(value: Any) -> Any:
    """Decimal and datetime as plain text, None as empty."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return value


def cell(value: Any) -> Any:
    """A value as written into CSV cells: Decimal and datetime as plain text, text
    neutralised against formula injection (:func:`neutralize_formula`)."""
    if isinstance(value, str):  # only text: a negative Decimal keeps its sign
        return neutralize_formula(value)
    return _plain(value)


def money_text(value: Decimal) -> str:
    """A Decimal for people: :func:`graph.money.format_money` with thousands grouping."""
    return format_money(value, thousands=True)


def _html_cell(value: Any) -> str:
    return html.escape(money_text(value) if isinstance(value, Decimal) else str(_plain(value)))


def csv_bytes(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> bytes:
    """CSV (RFC 4180, ``\\r\\n``), UTF-8."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(header)
    for r in rows:
        w.writerow([cell(v) for v in r])
    return buf.getvalue().encode("utf-8")


#: Columns of the statement CSV (one table, see :func:`render_statement`).
STATEMENT_CSV_COLUMNS: tuple[str, ...] = (
    "row",
    "beneficiary",
    "statement_period",
    "currency",
    "name",
    "value",
    *(c for c in LINE_COLUMNS if c != "amount"),
)


def _figures(st: Statement) -> list[tuple[str, Any]]:
    return [
        ("state", "closed" if st.closed else "open (projected)"),
        ("as_of", st.as_of),
        *((k, getattr(st, k)) for k in _TOTALS),
    ]


def statement_csv(st: Statement) -> bytes:
    """A statement as ONE CSV table (RFC 4180, UTF-8), columns
    :data:`STATEMENT_CSV_COLUMNS`: a ``figure`` row per figure (``name``, ``value``:
    state, as_of, opening ... closing; the line columns empty), then a ``line`` row per
    statement line (``name`` = ``line``, ``value`` = its amount, then its columns).
    Money has the currency's decimals; filter on ``row`` to get either table."""
    fixed = [st.beneficiary, st.period, st.currency]
    rest = [c for c in LINE_COLUMNS if c != "amount"]

    def money(v: Any) -> Any:  # a Decimal at the currency's decimals: a number, not text
        return quantize(v, st.currency) if isinstance(v, Decimal) else v

    rows: list[list[Any]] = []
    for name, value in _figures(st):
        rows.append(["figure", *fixed, name, money(value), *([None] * len(rest))])
    for line in st.lines:
        vals = [money(line[c]) if c in LINE_MONEY else line.get(c) for c in rest]
        rows.append(["line", *fixed, "line", money(line["amount"]), *vals])
    return csv_bytes(STATEMENT_CSV_COLUMNS, rows)


def _statement_sheets(st: Statement, tz: str | None) -> list[XlsxSheet]:
    head = [["beneficiary", st.beneficiary], ["period", st.period], ["currency", st.currency]]
    head += [[k, v] for k, v in _figures(st)]
    if tz:
        head.append(["times in", tz])
    lines = [[line.get(c) for c in LINE_COLUMNS] for line in st.lines]
    total: list[Any] = [""] * len(LINE_COLUMNS)
    total[0] = "total"
    total[LINE_COLUMNS.index("amount")] = sum((ln["amount"] for ln in st.lines), Decimal(0))
    return [
        XlsxSheet("Statement", ["figure", "value"], head, table=False),
        XlsxSheet("Entries", list(LINE_COLUMNS), lines, totals=total, formats=LINE_FORMATS),
    ]


#: XLSX number formats of line columns that are not money or counts.
LINE_FORMATS: dict[str, str] = {"seq": "0", "level": "0", "rate": "0.000000"}


def table_html(
    header: Sequence[str], rows: Sequence[Sequence[Any]], total: Sequence[Any] | None = None
) -> str:
    """An HTML ``<table>`` of ``rows`` under ``header``, with an optional total row
    (every cell escaped, numbers right-aligned)."""
    th = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = []
    for r in rows:
        tds = "".join(
            f'<td class="num">{_html_cell(v)}</td>'
            if isinstance(v, Decimal | int) and not isinstance(v, bool)
            else f"<td>{_html_cell(v)}</td>"
            for v in r
        )
        body.append(f"<tr>{tds}</tr>")
    foot = ""
    if total is not None:
        foot = (
            "<tfoot><tr>"
            + "".join(f'<td class="num">{_html_cell(v)}</td>' for v in total)
            + "</tr></tfoot>"
        )
    return f"<table><thead><tr>{th}</tr></thead><tbody>{''.join(body)}</tbody>{foot}</table>"


_CSS = """body{font-family:Helvetica,Arial,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:13px}
th,td{border:1px solid #ccc;padding:4px 8px}th{background:#f0f0f0;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}tfoot td{font-weight:bold}
.bad{color:#b00;font-weight:bold}.ok{color:#070}"""


def html_page(title: str, sections: Sequence[tuple[str, str]]) -> bytes:
    """A self-contained HTML page from ``(heading, html fragment)`` sections."""
    parts = [f"<h2>{html.escape(h)}</h2>\n{frag}" for h, frag in sections]
    text = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>\n" + "\n".join(parts) + "\n</body></html>\n"
    )
    return text.encode("utf-8")


def payout_chart_svg(summary: pa.Table, *, title: str) -> str:
    """Horizontal bar chart (SVG text) of net booked and settled amounts by role and level.

    Written with a fixed ``svg.hashsalt`` and no date metadata, so the same summary
    always gives the same bytes.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = summary.to_pylist() if summary.num_rows else []
    labels = [f"{r['role']} / {r['model']} L{r['level']}" for r in rows]
    net = [float(r["net"]) for r in rows]
    settled = [float(r["settled"]) for r in rows]
    with matplotlib.rc_context({"svg.hashsalt": "koc-graph", "svg.fonttype": "none"}):
        fig, ax = plt.subplots(figsize=(7, 1.2 + 0.45 * max(len(rows), 1)))
        y = list(range(len(rows)))
        ax.barh([v - 0.2 for v in y], net, height=0.4, label="net booked")
        ax.barh([v + 0.2 for v in y], settled, height=0.4, label="settled by the close")
        ax.set_yticks(y, labels)
        ax.invert_yaxis()
        ax.set_title(title)
        ax.set_xlabel("amount")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2, frameon=False)
        fig.tight_layout()
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": "KOC Graph"})
        plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg") :]


def render_statement(statement: Statement, fmt: str, *, tz: str | None = None) -> bytes:
    """A statement as bytes in ``fmt``: ``json``, ``csv`` (:func:`statement_csv`),
    ``xlsx`` (times in ``tz``) or ``html``.

    Raises
    ------
    ConfigError
        Unknown format.
    """
    from graph.errors import ConfigError

    st = statement
    if fmt == "json":
        return (
            json.dumps(st.to_dict(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        ).encode("utf-8")
    if fmt == "csv":
        return statement_csv(st)
    title = f"Commission statement {st.beneficiary} {st.period}"
    if fmt == "xlsx":
        return xlsx_bytes(_statement_sheets(st, tz), title=title, fixed_time=st.as_of, tz=tz)
    if fmt == "html":
        figures, lines = _statement_sheets(st, None)
        return html_page(
            title,
            [
                ("Balance", table_html(figures.header, figures.rows)),
                ("Entries", table_html(lines.header, lines.rows, lines.totals)),
            ],
        )
    raise ConfigError(
        f"Unknown statement format {fmt!r}; use one of {', '.join(FORMATS)}.", key="format"
    )
