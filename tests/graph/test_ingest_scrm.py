"""A WeChat SCRM export (Chinese column names, local times, ``¥1,299.00``, ``人民币``) loads
with only a mapping file, from CSV and from XLSX; ``koc rejects --clear`` after a fixed
reload; a file whose rows were all rejected exits non-zero."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import Workbook

from api.cli import cli
from graph.duckdb_store import DuckDBStore
from graph.errors import IngestError
from graph.events import EventType
from graph.ingest.mapping import load_mapping

#: One mapping for both files of the export (customers and orders), per record type.
SCRM_MAPPING = """\
# WeChat SCRM (企业微信) export: 客户列表.csv (--type user) and 订单明细 (--type order)
[types.user.columns]
"客户ID" = "user_id"
"客户昵称" = "display_name"
"客户类型" = "role"
"添加渠道" = "channel"
"所属门店" = "store_id"
"添加时间" = "created_at"

[types.order.columns]
"订单编号" = "order_id"
"客户ID" = "buyer"
"实付金额" = "amount"
"币种" = "currency"
"下单时间" = "ts"
"下单门店" = "store_id"

[values.role]
"导购" = "employee"
"达人" = "kol"
"顾客" = "consumer"

[values.channel]
"企业微信" = "wechat"
"小程序" = "miniprogram"

[values.currency]
"人民币" = "CNY"

[timestamps]
formats = ["%Y/%m/%d %H:%M", "%Y/%m/%d %H:%M:%S"]
timezone = "Asia/Shanghai"

[amounts]
"""

CUSTOMERS = (
    "客户ID,客户昵称,客户类型,添加渠道,所属门店,添加时间,备注\n"
    "wx_001,小红,导购,企业微信,SH01,2026/09/01 09:30,店长推荐\n"
    'wx_002,"李, 先生",顾客,小程序,,2026/09/15 21:00:05,\n'
    "wx_003,Amy,达人,企业微信,,2026/10/01 00:10,\n"
)
#: 2026/10/03 14:05 in Shanghai is 06:05 UTC; 2026/10/01 00:10 is 2026-09-30 16:10 UTC.
ORDERS = [
    ("订单编号", "客户ID", "实付金额", "币种", "下单时间", "下单门店", "支付方式"),
    ("SO20261003001", "wx_002", "¥1,299.00", "人民币", "2026/10/03 14:05", "SH01", "微信支付"),
    ("SO20261003002", "wx_003", "¥12,345.60", "人民币", "2026/10/03 23:59:59", "", "微信支付"),
    ("SO20261004003", "wx_002", "88.8元", "CNY", "2026/10/04 08:00", "SH01", "支付宝"),
]


def _run(db: Path, *args: str):
    return CliRunner().invoke(cli, ["--db", str(db), *args], catch_exceptions=False)


@pytest.fixture
def scrm(tmp_path: Path) -> dict[str, Path]:
    mapping = tmp_path / "scrm.toml"
    mapping.write_text(SCRM_MAPPING, encoding="utf-8")
    customers = tmp_path / "客户列表.csv"
    customers.write_bytes(b"\xef\xbb\xbf" + CUSTOMERS.encode("utf-8"))  # Excel-style BOM
    orders_csv = tmp_path / "订单明细.csv"
    orders_csv.write_text(
        "\n".join(",".join(f'"{v}"' if "," in v else v for v in r) for r in ORDERS) + "\n",
        encoding="utf-8",
    )
    wb = Workbook()
    ws = wb.active
    for r in ORDERS:
        ws.append(list(r))
    # a real Excel date cell and a numeric amount cell, as exports often have
    ws.append(["SO20261005004", "wx_001", 1299, "人民币", datetime(2026, 10, 5, 10, 30), "SH01"])
    orders_xlsx = tmp_path / "订单明细.xlsx"
    wb.save(orders_xlsx)
    return {"map": mapping, "customers": customers, "csv": orders_csv, "xlsx": orders_xlsx}


def _orders(db: Path) -> dict[str, dict]:
    with DuckDBStore(db, read_only=True) as store:
        return {r["order_id"]: r for r in store.read_events(EventType.ORDER).to_pylist()}


def test_scrm_csv_loads_with_mapping_only(tmp_path, scrm) -> None:
    db = tmp_path / "k.duckdb"
    users = _run(
        db, "ingest", str(scrm["customers"]), "--type", "user", "--map", str(scrm["map"]), "--json"
    )
    assert users.exit_code == 0, users.output
    assert json.loads(users.stdout)["inserted"] == 3
    orders = _run(
        db, "ingest", str(scrm["csv"]), "--type", "order", "--map", str(scrm["map"]), "--json"
    )
    assert orders.exit_code == 0, orders.output
    summary = json.loads(orders.stdout)
    assert (summary["read"], summary["inserted"], summary["rejected"]) == (3, 3, 0)
    got = _orders(db)
    o1 = got["SO20261003001"]
    assert o1["amount"] == Decimal("1299.0000") and o1["currency"] == "CNY"
    assert o1["ts"] == datetime(2026, 10, 3, 6, 5, tzinfo=UTC)  # 14:05 Shanghai
    assert o1["buyer"] == "wx_002" and o1["store_id"] == "SH01"
    assert got["SO20261003002"]["amount"] == Decimal("12345.6000")
    assert got["SO20261003002"]["ts"] == datetime(2026, 10, 3, 15, 59, 59, tzinfo=UTC)
    assert got["SO20261004003"]["amount"] == Decimal("88.8000")
    with DuckDBStore(db, read_only=True) as store:
        people = {r["user_id"]: r for r in store.read_events(EventType.USER).to_pylist()}
    assert people["wx_001"]["role"] == "employee" and people["wx_003"]["role"] == "kol"
    assert people["wx_002"]["display_name"] == "李, 先生"
    assert people["wx_001"]["channel"] == "wechat" and people["wx_002"]["channel"] == "miniprogram"
    assert people["wx_003"]["created_at"] == datetime(2026, 9, 30, 16, 10, tzinfo=UTC)


def test_scrm_xlsx_loads_like_the_csv(tmp_path, scrm) -> None:
    db = tmp_path / "k.duckdb"
    result = _run(
        db, "ingest", str(scrm["xlsx"]), "--type", "order", "--map", str(scrm["map"]), "--json"
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["read"], summary["inserted"], summary["rejected"]) == (4, 4, 0)
    got = _orders(db)
    assert got["SO20261003001"]["amount"] == Decimal("1299.0000")
    assert got["SO20261003001"]["ts"] == datetime(2026, 10, 3, 6, 5, tzinfo=UTC)
    # a date cell is a naive local time too: 10:30 Shanghai = 02:30 UTC
    assert got["SO20261005004"]["ts"] == datetime(2026, 10, 5, 2, 30, tzinfo=UTC)
    assert got["SO20261005004"]["amount"] == Decimal("1299.0000")
    # the same orders from CSV and XLSX are the same events (content-derived ids)
    again = _run(
        db, "ingest", str(scrm["csv"]), "--type", "order", "--map", str(scrm["map"]), "--json"
    )
    assert json.loads(again.stdout)["duplicates"] == 3


def test_scrm_bad_values_rejected_with_original_reason(tmp_path, scrm) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "订单编号,客户ID,实付金额,币种,下单时间\n"
        'A1,wx_1,"1,29",人民币,2026/10/03 14:05\n'  # a comma that does not group thousands
        "A2,wx_1,¥5.00,美元票,2026/10/03 14:05\n"  # currency not mapped
        "A3,wx_1,¥5.00,人民币,03-10-2026\n"  # a format the mapping does not list
        "A4,wx_1,¥5.00,人民币,2026/10/03 14:05\n",
        encoding="utf-8",
    )
    db = tmp_path / "k.duckdb"
    result = _run(db, "ingest", str(bad), "--type", "order", "--map", str(scrm["map"]), "--json")
    assert json.loads(result.stdout)["inserted"] == 1
    reasons = {
        r["row_number"]: (r["field"], r["reason"])
        for r in json.loads(_run(db, "rejects", "--json").stdout)
    }
    assert reasons[2][0] == "amount" and "not a decimal amount" in reasons[2][1]
    assert reasons[3][0] == "currency" and "unknown currency" in reasons[3][1]
    assert reasons[4][0] == "ts" and "not a timestamp" in reasons[4][1]


def test_mapping_unquoted_chinese_key_suggests_quoting(tmp_path) -> None:
    path = tmp_path / "m.toml"
    path.write_text('[columns]\n客户ID = "user_id"\n', encoding="utf-8")
    with pytest.raises(IngestError) as err:
        load_mapping(path)
    msg = str(err.value)
    assert "not valid TOML" in msg and "Line 2" in msg
    assert '"客户ID" = "user_id"' in msg and "must be quoted" in msg


def test_mapping_timestamps_need_a_timezone(tmp_path) -> None:
    path = tmp_path / "m.toml"
    path.write_text('[timestamps]\nformats = ["%Y/%m/%d %H:%M"]\n', encoding="utf-8")
    with pytest.raises(IngestError, match="needs timezone"):
        load_mapping(path)
    path.write_text('[timestamps]\ntimezone = "Mars/Olympus"\n', encoding="utf-8")
    with pytest.raises(IngestError, match="not an IANA time zone"):
        load_mapping(path)


def test_mapping_value_map_unknown_field_refused(tmp_path) -> None:
    path = tmp_path / "m.toml"
    path.write_text('[values.colour]\n"红" = "red"\n', encoding="utf-8")
    with pytest.raises(IngestError, match=r"\[values.colour\] names an unknown KOC field"):
        load_mapping(path)


def test_mapping_constant_fills_missing_column(tmp_path) -> None:
    """An export without a currency column: a constant supplies it."""
    mapping = tmp_path / "m.toml"
    mapping.write_text(
        '[columns]\n"订单号" = "order_id"\n"买家" = "buyer"\n"金额" = "amount"\n"时间" = "ts"\n'
        '[constants]\ncurrency = "CNY"\n[timestamps]\ntimezone = "Asia/Shanghai"\n[amounts]\n',
        encoding="utf-8",
    )
    data = tmp_path / "o.csv"
    data.write_text('订单号,买家,金额,时间\nX1,b1,"¥2,000",2026-10-01 08:00\n', encoding="utf-8")
    db = tmp_path / "k.duckdb"
    result = _run(db, "ingest", str(data), "--type", "order", "--map", str(mapping), "--json")
    assert json.loads(result.stdout)["inserted"] == 1, result.output
    o = _orders(db)["X1"]
    assert (o["amount"], o["currency"]) == (Decimal("2000.0000"), "CNY")
    assert o["ts"] == datetime(2026, 10, 1, 0, 0, tzinfo=UTC)  # naive ISO, local time


def test_ingest_all_rows_rejected_exits_nonzero(tmp_path, scrm) -> None:
    db = tmp_path / "k.duckdb"
    # the orders file without the mapping: no row has the KOC columns
    result = _run(db, "ingest", str(scrm["csv"]), "--type", "order", "--json")
    assert result.exit_code == 1
    payload = json.loads(result.stdout)
    assert payload["rejected"] == payload["read"] == 3
    assert payload["all_rejected"] == [str(scrm["csv"].resolve())]
    assert "every row of" in result.stderr and "--map" in result.stderr
    allowed = _run(db, "ingest", str(scrm["csv"]), "--type", "order", "--allow-all-rejected")
    assert allowed.exit_code == 0


def test_rejects_clear_after_fixed_reload(tmp_path, scrm) -> None:
    db = tmp_path / "k.duckdb"
    orders, customers = scrm["csv"], scrm["customers"]
    _run(db, "ingest", str(orders), "--type", "order")  # all rejected: no mapping
    _run(db, "ingest", str(customers), "--type", "user")  # all rejected too
    rejects = json.loads(_run(db, "rejects", "--json").stdout)
    assert {r["source"] for r in rejects} == {str(orders.resolve()), str(customers.resolve())}
    fixed = _run(db, "ingest", str(orders), "--type", "order", "--map", str(scrm["map"]))
    assert fixed.exit_code == 0, fixed.output
    assert _run(db, "rejects", "--source", str(orders)).exit_code == 2  # --source needs --clear
    cleared = _run(db, "rejects", "--clear", "--source", str(orders), "--json")
    assert json.loads(cleared.stdout)["cleared"] == 3
    left = json.loads(_run(db, "rejects", "--json").stdout)
    assert {r["source"] for r in left} == {str(customers.resolve())}
    assert "cleared 3 quarantined row(s)" in _run(db, "rejects", "--clear").stdout
    assert "The quarantine is empty." in _run(db, "rejects").stdout


def test_xlsx_duplicate_header_is_a_clear_error(tmp_path) -> None:
    wb = Workbook()
    wb.active.append(["订单编号", "订单编号"])
    wb.active.append(["a", "b"])
    path = tmp_path / "dup.xlsx"
    wb.save(path)
    with pytest.raises(IngestError, match=r"duplicate column name\(s\) \['订单编号'\] in row 1"):
        _run(tmp_path / "k.duckdb", "ingest", str(path), "--type", "order")
