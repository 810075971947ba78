"""``GET /v1/commissions`` and statements: the ledger through the API, finance scope."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from graph.duckdb_store import DuckDBStore
from referral import service
from referral.attribution import attribute
from referral.ledger import Ledger
from referral.rules import default_rules
from tests.api.conftest import auth, make_app, make_tokens


@pytest.fixture(scope="module")
def ledger_env(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[TestClient, str, DuckDBStore]]:
    """A populated store with commissions attributed by the default rules."""
    from tests.api.conftest import populate

    path = tmp_path_factory.mktemp("ledger")
    store = DuckDBStore(path / "ledger.duckdb")
    populate(store)
    attribute(store, Ledger.open(store), default_rules())
    token = make_tokens(store)["finance"]
    with TestClient(make_app(store, path), raise_server_exceptions=False) as c:
        yield c, token, store
    store.close()


def test_entries_match_the_ledger(ledger_env: tuple) -> None:
    client, token, store = ledger_env
    body = client.get("/v1/commissions?limit=1000", headers=auth(token)).json()
    expected = service.list_entries(store, limit=1000)
    assert body["count"] == len(expected) > 0
    assert [e["entry_id"] for e in body["data"]] == [e["entry_id"] for e in expected]
    for e in body["data"]:
        assert Decimal(e["amount"]) == Decimal(str(expected[e["seq"] - 1]["amount"]))
        if e["kind"] == "commission":  # amount = basis x rate, rounded to cents
            assert Decimal(e["amount"]) == (Decimal(e["basis"]) * Decimal(e["rate"])).quantize(
                Decimal("0.01")
            )


def test_entries_cursor_pages_cover_all(ledger_env: tuple) -> None:
    client, token, _ = ledger_env
    total = client.get("/v1/commissions", headers=auth(token)).json()["count"]
    seqs, cursor = [], None
    while True:
        q = "limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(f"/v1/commissions?{q}", headers=auth(token)).json()
        seqs += [e["seq"] for e in page["data"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seqs == sorted(set(seqs)) and len(seqs) == total


@pytest.mark.parametrize("query", ["beneficiary=u01", "period=2026-01", "status=pending"])
def test_entries_filters(ledger_env: tuple, query: str) -> None:
    client, token, _ = ledger_env
    key, value = query.split("=")
    rows = client.get(f"/v1/commissions?{query}", headers=auth(token)).json()["data"]
    assert rows and all(r[key] == value for r in rows)


@pytest.mark.parametrize(
    ("query", "status"),
    [("period=2026-13", 422), ("status=lost", 422), ("limit=5000", 422), ("cursor=zzz", 400)],
)
def test_entries_bad_input(ledger_env: tuple, query: str, status: int) -> None:
    client, token, _ = ledger_env
    assert client.get(f"/v1/commissions?{query}", headers=auth(token)).status_code == status


def test_statement_json_balances(ledger_env: tuple) -> None:
    client, token, store = ledger_env
    body = client.get("/v1/commissions/statements/u01?period=2026-01", headers=auth(token)).json()
    assert (body["beneficiary"], body["period"], body["currency"]) == ("u01", "2026-01", "CNY")
    expected = service.statement(store, "u01", "2026-01").to_dict()
    assert body["commissions"] == expected["commissions"]
    assert Decimal(body["commissions"]) == sum(
        (
            Decimal(e["amount"])
            for e in service.list_entries(store, beneficiary="u01", period="2026-01")
            if e["kind"] == "commission"
        ),
        Decimal(0),
    )


@pytest.mark.parametrize(
    ("fmt", "media", "magic"),
    [
        ("csv", "text/csv", b"row,beneficiary,statement_period"),
        ("html", "text/html", b"<!DOCTYPE html>"),
        ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", b"PK"),
    ],
)
def test_statement_formats(ledger_env: tuple, fmt: str, media: str, magic: bytes) -> None:
    client, token, _ = ledger_env
    response = client.get(
        f"/v1/commissions/statements/u01?period=2026-01&format={fmt}", headers=auth(token)
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media)
    assert response.content.startswith(magic)
    assert f"statement-u01-2026-01.{fmt}" in response.headers["content-disposition"]
    if fmt == "xlsx":
        import openpyxl

        assert openpyxl.load_workbook(io.BytesIO(response.content)).sheetnames


def test_statement_bad_format_or_period(ledger_env: tuple) -> None:
    client, token, _ = ledger_env
    base = "/v1/commissions/statements/u01"
    assert client.get(f"{base}?period=2026-01&format=pdf", headers=auth(token)).status_code == 422
    assert client.get(base, headers=auth(token)).status_code == 422


def test_commissions_on_store_without_ledger(
    client: TestClient, tokens: dict[str, str], tmp_path: Path
) -> None:
    body = client.get("/v1/commissions", headers=auth(tokens["finance"])).json()
    assert body == {"count": 0, "data": [], "next_cursor": None}


def test_statement_unknown_beneficiary_404(ledger_env: tuple) -> None:
    client, token, _ = ledger_env
    response = client.get("/v1/commissions/statements/ghost?period=2026-01", headers=auth(token))
    assert response.status_code == 404
    body = response.json()
    assert "beneficiary 'ghost'" in json.dumps(body)


def test_statement_json_states_gross_payable(ledger_env: tuple) -> None:
    client, token, _ = ledger_env
    body = client.get("/v1/commissions/statements/u01?period=2026-01", headers=auth(token)).json()
    assert Decimal(body["gross_payable"]) == Decimal(body["opening"]) + Decimal(body["accrued"])
    assert Decimal(body["closing"]) == Decimal(body["gross_payable"]) - Decimal(body["paid"])
    assert "brought_forward" in body


def test_commissions_json_money_at_currency_decimals(ledger_env: tuple) -> None:
    import re

    client, token, store = ledger_env
    two = re.compile(r"^-?\d+\.\d{2}$")
    rows = client.get("/v1/commissions?limit=1000", headers=auth(token)).json()["data"]
    assert rows and all(two.match(r["amount"]) and two.match(r["basis"]) for r in rows)
    stored = {e["entry_id"]: e["rate"] for e in service.list_entries(store, limit=1000)}
    assert all(Decimal(r["rate"]) == stored[r["entry_id"]] for r in rows)  # rates as stored
    body = client.get("/v1/commissions/statements/u01?period=2026-01", headers=auth(token)).json()
    figures = ("opening", "commissions", "reversals", "held", "accrued", "gross_payable", "closing")
    assert all(two.match(body[f]) for f in figures)
    assert body["lines"] and all(two.match(line["amount"]) for line in body["lines"])


def test_money_schema_follows_the_row_currency() -> None:
    from api.http.schemas.commissions import LedgerEntry

    def row(currency: str) -> dict:
        e = LedgerEntry(
            seq=1,
            entry_id="e",
            currency=currency,
            basis=Decimal("1299.5000"),
            amount=Decimal("0.1250"),
            rate=Decimal("0.035000"),
        )
        return json.loads(e.model_dump_json())

    assert (row("CNY")["basis"], row("CNY")["amount"]) == ("1299.50", "0.13")  # half up
    assert (row("JPY")["basis"], row("JPY")["amount"]) == ("1300", "0")
    assert row("KWD")["amount"] == "0.125" and row("CNY")["rate"] == "0.035000"
    schema = LedgerEntry.model_json_schema(mode="serialization")["properties"]["amount"]
    assert {"type": "string"} in [{"type": s.get("type")} for s in schema["anyOf"]]
