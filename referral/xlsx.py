"""Finance-ready XLSX workbooks, reproducible byte for byte (openpyxl, write-only).

Each sheet (:class:`XlsxSheet`) gets: number formats (money ``#,##0.00``, counts
``#,##0``, per-column overrides such as rates ``0.000000``), column widths from its content, a frozen
header row, an auto-filter over the table, and an optional bold totals row. Timestamps
are written as real Excel date-times in the report's local time zone (Excel has no
zones: the cover sheet names it). Text is always a string cell, never a formula: text
that would start one (``=``, ``+``, ``-``, ``@``, tab, CR) gets the quote-prefix style,
so Excel keeps it text even when the cell is edited (OWASP CSV injection).

Reproducibility: fixed workbook properties and creation/modification dates, and every
zip entry dated ``fixed_time``.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

__all__ = ["XlsxSheet", "xlsx_bytes", "FORMULA_TRIGGERS", "MONEY_FORMAT", "TIME_FORMAT"]

#: First characters that make a spreadsheet read a cell as a formula (OWASP "CSV Injection").
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
MONEY_FORMAT = "#,##0.00"
COUNT_FORMAT = "#,##0"
TIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
_MAX_WIDTH, _MIN_WIDTH = 60, 8
_WIDTH_SAMPLE = 500


@dataclass(frozen=True)
class XlsxSheet:
    """One sheet: a header, rows, an optional totals row and a last note line.

    ``table=False`` writes a plain key/value sheet (no filter). ``formats`` overrides the
    number format of columns by name (``{"rate": "0.000000", "seq": "0"}``).
    """

    name: str
    header: Sequence[str]
    rows: Sequence[Sequence[Any]]
    totals: Sequence[Any] | None = None
    note: str | None = None
    table: bool = True
    formats: dict[str, str] = field(default_factory=dict)


def _letter(i: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(i + 1)


def _text_len(v: Any) -> int:
    if v is None:
        return 0
    if isinstance(v, Decimal):
        return len(f"{v:,.2f}")
    if isinstance(v, datetime):
        return 19
    return len(str(v))


def _widths(sheet: XlsxSheet) -> list[float]:
    n = len(sheet.header)
    out = [float(len(str(h))) for h in sheet.header]
    sample = list(sheet.rows[:_WIDTH_SAMPLE]) + ([sheet.totals] if sheet.totals else [])
    for r in sample:
        for j in range(min(n, len(r))):
            out[j] = max(out[j], float(_text_len(r[j])))
    return [min(max(w + 2, _MIN_WIDTH), _MAX_WIDTH) for w in out]


def xlsx_bytes(
    sheets: Sequence[XlsxSheet | tuple[str, Sequence[str], Sequence[Sequence[Any]]]],
    *,
    title: str,
    fixed_time: datetime,
    tz: str | None = None,
) -> bytes:
    """An XLSX workbook with one formatted sheet per :class:`XlsxSheet` (or
    ``(name, header, rows)``), reproducible byte for byte.

    Decimals are numbers with the money format, ints counts, datetimes Excel
    date-times in ``tz`` (the timestamps' own zone when None).
    """
    from openpyxl import Workbook
    from openpyxl.styles import Font

    zone = ZoneInfo(tz) if tz else None
    bold = Font(bold=True)
    wb = Workbook(write_only=True)  # streaming: fast for large sheets
    for spec in sheets:
        sheet = spec if isinstance(spec, XlsxSheet) else XlsxSheet(*spec)
        ws = wb.create_sheet(sheet.name[:31])
        for j, w in enumerate(_widths(sheet)):
            ws.column_dimensions[_letter(j)].width = w
        if sheet.header:
            ws.freeze_panes = "A2"
            last_row = 1 + len(sheet.rows)
            if sheet.table:
                ws.auto_filter.ref = f"A1:{_letter(len(sheet.header) - 1)}{max(last_row, 2)}"
        over = [sheet.formats.get(str(h)) for h in sheet.header]
        ws.append([_cell(ws, str(h), zone, font=bold) for h in sheet.header])
        for r in sheet.rows:
            ws.append(
                [
                    _cell(ws, v, zone, fmt=over[j] if j < len(over) else None)
                    for j, v in enumerate(r)
                ]
            )
        if sheet.totals is not None:
            ws.append([_cell(ws, v, zone, font=bold) for v in sheet.totals])
        if sheet.note:
            ws.append([_cell(ws, sheet.note, zone)])
    naive = fixed_time.replace(tzinfo=None)
    props = wb.properties
    props.creator = props.lastModifiedBy = "KOC Graph"
    props.title = title
    props.created = props.modified = naive
    raw = io.BytesIO()
    wb.save(raw)
    return _fix_zip_dates(raw.getvalue(), naive)


def _cell(
    ws: Any, v: Any, zone: ZoneInfo | None, *, font: Any = None, fmt: str | None = None
) -> Any:
    from openpyxl.cell import WriteOnlyCell

    if isinstance(v, Decimal):
        value: Any = float(v)  # display only; the ledger keeps the exact Decimal
        fmt = fmt or MONEY_FORMAT
    elif isinstance(v, bool):
        value, fmt = v, None
    elif isinstance(v, int):
        value, fmt = v, fmt or COUNT_FORMAT
    elif isinstance(v, datetime):
        local = v.astimezone(zone) if zone is not None and v.tzinfo is not None else v
        value, fmt = local.replace(tzinfo=None), TIME_FORMAT
    else:
        value, fmt = v, None
    c = WriteOnlyCell(ws, value=value)
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        c.data_type = "s"  # openpyxl would store text starting with '=' as a formula
        c.quotePrefix = True
    if fmt is not None:
        c.number_format = fmt
    if font is not None:
        c.font = font
    return c


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
    iso = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    return re.sub(
        rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms)",
        lambda m: m.group(1) + iso.encode() + m.group(2),
        body,
    )
