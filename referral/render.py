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
import zipfile
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa

from referral.reports import LINE_COLUMNS, Statement

__all__ = [
    "FORMATS",
    "render_statement",
    "csv_bytes",
    "xlsx_bytes",
    "html_page",
    "payout_chart_svg",
    "cell",
    "money_text",
    "neutralize_formula",
    "neutralize_formula_columns",
]

FORMATS: tuple[str, ...] = ("json", "csv", "xlsx", "html")
_TOTALS = ("opening", "commissions", "reversals", "accrued", "paid", "closing", "held", "pending")


#: First characters that make a spreadsheet read a cell as a formula (OWASP "CSV Injection").
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


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
    value = _plain(value)
    return neutralize_formula(value) if isinstance(value, str) else value


def money_text(value: Decimal) -> str:
    """A Decimal for people: trailing zeros dropped, at least two decimals (5.0000 -> 5.00)."""
    text = format(value.normalize(), "f")
    whole, _, frac = text.partition(".")
    return f"{whole}.{frac.ljust(2, '0')}"


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


def _statement_sections(st: Statement) -> list[tuple[str, list[str], list[list[Any]]]]:
    head: list[list[Any]] = [
        ["beneficiary", st.beneficiary],
        ["period", st.period],
        ["currency", st.currency],
        ["state", "closed" if st.closed else "open (projected)"],
        ["as_of", st.as_of],
    ]
    head += [[k, getattr(st, k)] for k in _TOTALS]
    lines = [[line.get(c) for c in LINE_COLUMNS] for line in st.lines]
    return [("Statement", ["field", "value"], head), ("Entries", list(LINE_COLUMNS), lines)]


def xlsx_bytes(
    sheets: Sequence[tuple[str, Sequence[str], Sequence[Sequence[Any]]]],
    *,
    title: str,
    fixed_time: datetime,
) -> bytes:
    """An XLSX workbook, one sheet per ``(name, header, rows)``, reproducible byte for byte.

    Decimals are written as numbers, datetimes as ISO text (write-only workbook).
    Text is always a string cell, never a formula: text that would start a formula
    (``=``, ``+``, ``-``, ``@``, tab, CR) is written with the "quote prefix" style,
    so Excel keeps it text even when the cell is edited.
    """
    from openpyxl import Workbook

    wb = Workbook(write_only=True)  # streaming: fast for large sheets
    for name, header, rows in sheets:
        ws = wb.create_sheet(name[:31])
        ws.append([_xlsx_value(ws, v) for v in header])
        for r in rows:
            ws.append([_xlsx_value(ws, v) for v in r])
    naive = fixed_time.replace(tzinfo=None)
    props = wb.properties
    props.creator = props.lastModifiedBy = "KOC Graph"
    props.title = title
    props.created = props.modified = naive
    raw = io.BytesIO()
    wb.save(raw)
    return _fix_zip_dates(raw.getvalue(), naive)


def _xlsx_value(ws: Any, v: Any) -> Any:
    if isinstance(v, Decimal):
        return float(v)  # display only; the ledger keeps the exact Decimal
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, str) and v.startswith(FORMULA_TRIGGERS):
        from openpyxl.cell import WriteOnlyCell

        c = WriteOnlyCell(ws, value=v)
        c.data_type = "s"  # openpyxl would store text starting with '=' as a formula
        c.quotePrefix = True
        return c
    return v


def _fix_zip_dates(data: bytes, when: datetime) -> bytes:
    """Rewrite a zip with every entry dated ``when`` (openpyxl stamps the wall clock)."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    stamp = (max(when.year, 1980), when.month, when.day, when.hour, when.minute, when.second)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = _fix_core(body, when)
            zi = zipfile.ZipInfo(info.filename, date_time=stamp)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o600 << 16
            dst.writestr(zi, body)
    return out.getvalue()


def _fix_core(body: bytes, when: datetime) -> bytes:
    import re

    iso = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    return re.sub(
        rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms)",
        lambda m: m.group(1) + iso.encode() + m.group(2),
        body,
    )


def _table_html(
    header: Sequence[str], rows: Sequence[Sequence[Any]], total: Sequence[Any] | None = None
) -> str:
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
    """Horizontal bar chart (SVG text) of paid and net amounts by role and level.

    Written with a fixed ``svg.hashsalt`` and no date metadata, so the same summary
    always gives the same bytes.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = summary.to_pylist() if summary.num_rows else []
    labels = [f"{r['role']} / {r['model']} L{r['level']}" for r in rows]
    net = [float(r["net"]) for r in rows]
    paid = [float(r["paid"]) for r in rows]
    with matplotlib.rc_context({"svg.hashsalt": "koc-graph", "svg.fonttype": "none"}):
        fig, ax = plt.subplots(figsize=(7, 1.2 + 0.45 * max(len(rows), 1)))
        y = list(range(len(rows)))
        ax.barh([v - 0.2 for v in y], net, height=0.4, label="net booked")
        ax.barh([v + 0.2 for v in y], paid, height=0.4, label="paid")
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


def render_statement(statement: Statement, fmt: str) -> bytes:
    """A statement as bytes in ``fmt``: ``json``, ``csv``, ``xlsx`` or ``html``.

    Raises
    ------
    ConfigError
        Unknown format.
    """
    from graph.errors import ConfigError

    if fmt == "json":
        return (
            json.dumps(statement.to_dict(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        ).encode("utf-8")
    sections = _statement_sections(statement)
    if fmt == "csv":
        head, lines = sections
        out = csv_bytes(head[1], head[2]) + b"\r\n" + csv_bytes(lines[1], lines[2])
        return out
    title = f"Commission statement {statement.beneficiary} {statement.period}"
    if fmt == "xlsx":
        return xlsx_bytes(sections, title=title, fixed_time=statement.as_of)
    if fmt == "html":
        head, lines = sections
        total: list[Any] = [""] * len(LINE_COLUMNS)
        total[LINE_COLUMNS.index("amount")] = sum(
            (line["amount"] for line in statement.lines), Decimal(0)
        )
        return html_page(
            title,
            [
                ("Balance", _table_html(head[1], head[2])),
                ("Entries", _table_html(lines[1], lines[2], total)),
            ],
        )
    raise ConfigError(
        f"Unknown statement format {fmt!r}; use one of {', '.join(FORMATS)}.", key="format"
    )
