"""Role history in the embedded store: roster / KOL-list import and role resolution."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from graph.duckdb_store import DuckDBStore
from graph.errors import IngestError, NotFoundError, ParameterError, ValidationFailure
from graph.events import EventType
from graph.roles import (
    ModelRecord,
    import_declarations,
    latest_model_version,
    read_declarations,
    role_at,
    save_inferences,
    save_model,
)
from graph.store import ARROW_SCHEMAS


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _users(store: DuckDBStore, rows: list[tuple[str, str]]) -> None:
    schema = ARROW_SCHEMAS[EventType.USER]
    cols = {n: [None] * len(rows) for n in schema.names}
    cols["event_id"] = [f"e-{u}" for u, _ in rows]
    cols["user_id"] = [u for u, _ in rows]
    cols["role"] = [r for _, r in rows]
    store.append_batch({EventType.USER: pa.table(cols, schema=schema)})


def _roles(store: DuckDBStore, ids: list[str], ts: object = None) -> list[str]:
    return role_at(store.conn, ids, ts).column("role").to_pylist()


@pytest.fixture
def roster(tmp_path: Path) -> Path:
    return _write(
        tmp_path,
        "employees.csv",
        "user_id,store_id,since,until\n"
        "e1,S1,2026-07-01,2026-09-01\n"
        "e2,S2,2026-07-01T09:00:00+08:00,\n",
    )


def test_import_declarations_employee_roster_loads_rows(store: DuckDBStore, roster: Path) -> None:
    result = import_declarations(store.conn, roster, kind="employee")
    assert (result.rows, result.inserted, result.replaced, result.unchanged) == (2, 2, 0, 0)
    decl = read_declarations(store.conn).to_pylist()
    assert [d["user_id"] for d in decl] == ["e1", "e2"]
    assert decl[0]["valid_to"] == _utc(2026, 9, 1)
    assert decl[1]["valid_from"] == _utc(2026, 7, 1, 1)  # 09:00 China time
    assert decl[1]["valid_to"] is None and decl[1]["store_id"] == "S2"


def test_import_declarations_twice_changes_nothing(store: DuckDBStore, roster: Path) -> None:
    import_declarations(store.conn, roster, kind="employee")
    again = import_declarations(store.conn, roster, kind="employee")
    assert (again.inserted, again.replaced, again.unchanged) == (0, 0, 2)
    assert read_declarations(store.conn).num_rows == 2


def test_import_declarations_same_start_replaces_period(store: DuckDBStore, tmp_path: Path) -> None:
    first = _write(tmp_path, "a.csv", "user_id,store_id,since\ne1,S1,2026-07-01\n")
    second = _write(
        tmp_path, "b.csv", "user_id,store_id,since,until\ne1,S1,2026-07-01,2026-08-15\n"
    )
    import_declarations(store.conn, first, kind="employee")
    assert _roles(store, ["e1"], _utc(2026, 10, 1)) == ["employee"]
    result = import_declarations(store.conn, second, kind="employee")
    assert (result.inserted, result.replaced) == (0, 1)
    assert read_declarations(store.conn).num_rows == 1
    assert _roles(store, ["e1"], _utc(2026, 10, 1)) == ["consumer"]


def test_import_declarations_kol_list_with_aliases_and_fee(
    store: DuckDBStore, tmp_path: Path
) -> None:
    path = _write(
        tmp_path,
        "kols.csv",
        "User,Agency,Contract_Start,Contract_End,Fee\n"
        "k1,Acme,2026-07-01,2026-12-31,12000.50\n"
        "k2,independent,2026-08-01,,\n",
    )
    import_declarations(store.conn, path, kind="kol")
    rows = read_declarations(store.conn, "kol").to_pylist()
    assert rows[0]["fee"] == Decimal("12000.5000") and rows[0]["currency"] == "CNY"
    assert rows[1]["fee"] is None and rows[1]["currency"] is None
    assert _roles(
        store, ["k1", "k2", "k2"], [_utc(2026, 7, 2), _utc(2026, 7, 2), _utc(2026, 8, 2)]
    ) == [
        "kol",
        "consumer",  # on the list, but not yet under contract
        "kol",
    ]


@pytest.mark.parametrize(
    ("text", "row", "field"),
    [
        ("user_id,store_id,since\n,S1,2026-07-01\n", 1, "user_id"),
        ("user_id,store_id,since\ne1,S1,2026-07-01\ne2,,2026-07-01\n", 2, "store_id"),
        ("user_id,store_id,since\ne1,S1,01/07/2026\n", 1, "since"),
        ("user_id,store_id,since\ne1,S1,2026-07-01T09:00:00\n", 1, "since"),  # no zone
        ("user_id,store_id,since,until\ne1,S1,2026-07-01,2026-06-01\n", 1, "until"),
        ("user_id,store_id,since\ne1,S1,2026-07-01\ne1,S2,2026-07-01\n", 2, "user_id"),
    ],
)
def test_import_declarations_invalid_row_names_file_row_field(
    store: DuckDBStore, tmp_path: Path, text: str, row: int, field: str
) -> None:
    path = _write(tmp_path, "bad.csv", text)
    with pytest.raises(ValidationFailure) as info:
        import_declarations(store.conn, path, kind="employee")
    err = info.value
    assert (err.source, err.row, err.field) == (str(path), row, field)
    assert str(path) in err.message and f"row {row}" in err.message
    assert read_declarations(store.conn).num_rows == 0  # nothing half-imported


def test_import_declarations_kol_bad_fee_and_currency(store: DuckDBStore, tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "kols.csv",
        "user_id,agency,since,fee,currency\nk1,A,2026-07-01,-5,CNY\nk2,A,2026-07-01,10,XXX\n",
    )
    with pytest.raises(ValidationFailure) as info:
        import_declarations(store.conn, path, kind="kol")
    fields = {(e["row"], e["field"]) for e in info.value.context["errors"]}
    assert fields == {(1, "fee"), (2, "currency")}


def test_import_declarations_missing_column_or_file(store: DuckDBStore, tmp_path: Path) -> None:
    path = _write(tmp_path, "x.csv", "user_id,since\ne1,2026-07-01\n")
    with pytest.raises(IngestError, match="store_id"):
        import_declarations(store.conn, path, kind="employee")
    with pytest.raises(IngestError, match="does not exist"):
        import_declarations(store.conn, tmp_path / "nope.csv", kind="employee")
    with pytest.raises(ParameterError, match="kind"):
        import_declarations(store.conn, path, kind="manager")


def test_role_at_employee_who_left_is_consumer_after_leaving(
    store: DuckDBStore, roster: Path
) -> None:
    _users(store, [("e1", "employee")])  # the user record still says employee
    import_declarations(store.conn, roster, kind="employee")
    ts = [_utc(2026, 6, 30), _utc(2026, 7, 1), _utc(2026, 8, 31, 23, 59), _utc(2026, 9, 1)]
    table = role_at(store.conn, ["e1"] * 4, ts)
    assert table.column("role").to_pylist() == ["consumer", "employee", "employee", "consumer"]
    assert set(table.column("source").to_pylist()) == {"declared"}


def test_role_at_precedence_declared_over_inferred(store: DuckDBStore, roster: Path) -> None:
    _users(store, [("c1", "consumer"), ("x1", "unknown"), ("x2", "unknown")])
    import_declarations(store.conn, roster, kind="employee")
    save_model(store.conn, ModelRecord("m1", _utc(2026, 10, 1), 0.6))
    save_inferences(
        store.conn,
        "m1",
        pa.table(
            {
                "user_id": ["c1", "x1", "x2", "e2"],
                "predicted_role": ["kol", "kol", "employee", "kol"],
                "role": ["kol", "kol", "unknown", "kol"],
                "confidence": [0.9, 0.8, 0.4, 0.99],
            }
        ),
    )
    t = role_at(store.conn, ["c1", "x1", "x2", "e2", "nobody"], _utc(2026, 10, 1)).to_pylist()
    assert [r["role"] for r in t] == ["consumer", "kol", "unknown", "employee", "unknown"]
    assert [r["source"] for r in t] == ["declared", "inferred", "unknown", "declared", "unknown"]
    assert t[1]["confidence"] == pytest.approx(0.8) and t[1]["model_version"] == "m1"
    assert t[0]["confidence"] == 1.0 and t[0]["model_version"] is None
    # declarations only
    no_model = role_at(store.conn, ["x1"], _utc(2026, 10, 1), model_version=None)
    assert no_model.column("role").to_pylist() == ["unknown"]


def test_role_at_latest_model_wins_and_unknown_version_raises(store: DuckDBStore) -> None:
    for version, day, role in (("m1", 1, "kol"), ("m2", 2, "employee")):
        save_model(store.conn, ModelRecord(version, _utc(2026, 10, day), 0.5))
        save_inferences(
            store.conn,
            version,
            pa.table(
                {"user_id": ["x"], "predicted_role": [role], "role": [role], "confidence": [0.7]}
            ),
        )
    assert latest_model_version(store.conn) == "m2"
    assert _roles(store, ["x"]) == ["employee"]
    assert role_at(store.conn, ["x"], model_version="m1").column("role").to_pylist() == ["kol"]
    with pytest.raises(NotFoundError):
        role_at(store.conn, ["x"], model_version="m9")


def test_role_at_accepts_epoch_microseconds_and_rejects_naive(
    store: DuckDBStore, roster: Path
) -> None:
    import_declarations(store.conn, roster, kind="employee")
    us = np.array(
        [int(_utc(2026, 8, 1).timestamp() * 1e6), int(_utc(2026, 9, 2).timestamp() * 1e6)]
    )
    assert _roles(store, ["e1", "e1"], us) == ["employee", "consumer"]
    with pytest.raises(ValidationFailure):
        role_at(store.conn, ["e1"], datetime(2026, 8, 1))


def test_role_at_read_only_store_without_role_tables(tmp_path: Path) -> None:
    path = tmp_path / "ro.duckdb"
    with DuckDBStore(path) as s:
        _users(s, [("a", "kol")])
    with DuckDBStore(path, read_only=True) as ro:
        assert role_at(ro.conn, ["a", "b"]).column("role").to_pylist() == ["kol", "unknown"]
        assert read_declarations(ro.conn).num_rows == 0
