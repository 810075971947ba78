"""``koc ingest`` and ``koc rejects``: exit codes, JSON output, reject files."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from api.cli import cli
from graph.duckdb_store import DuckDBStore
from graph.errors import KocError
from tests.graph.conftest import GOOD_ROWS, SYNTH_HEADER

BAD_LINE = "order,,,,,,,,,,,,,,,,,,,o9,b,-1,CNY,,,2024-01-01T00:00:00Z"


def _run(db: Path, *args: str):
    return CliRunner().invoke(cli, ["--db", str(db), *args], catch_exceptions=False)


def test_cli_ingest_json_summary(tmp_path, good_csv) -> None:
    result = _run(tmp_path / "k.duckdb", "ingest", str(good_csv), "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["read"] == payload["inserted"] == len(GOOD_ROWS)
    assert payload["read"] == payload["inserted"] + payload["duplicates"] + payload["rejected"]
    assert payload["by_type"]["order"] == {"inserted": 2, "duplicates": 0, "rejected": 0}
    assert payload["files"][0]["source"] == str(good_csv.resolve())


def test_cli_ingest_strict_exit_code(tmp_path, write_file) -> None:
    path = write_file("bad.csv", f"{SYNTH_HEADER}\n{GOOD_ROWS[2]}\n{BAD_LINE}\n")
    db = tmp_path / "k.duckdb"
    assert _run(db, "ingest", str(path)).exit_code == 0  # rejects alone are not a failure
    strict = _run(db, "ingest", str(path), "--strict", "--json")
    assert strict.exit_code == 1
    assert json.loads(strict.stdout)["failed"] is True


def test_cli_ingest_strict_clean_file_exit_zero(tmp_path, good_csv) -> None:
    assert _run(tmp_path / "k.duckdb", "ingest", str(good_csv), "--strict").exit_code == 0


def test_cli_ingest_rejects_file_and_listing(tmp_path, write_file) -> None:
    path = write_file("bad.csv", f"{SYNTH_HEADER}\n{GOOD_ROWS[2]}\n{BAD_LINE}\n")
    db, out = tmp_path / "k.duckdb", tmp_path / "rejects.csv"
    result = _run(db, "ingest", str(path), "--rejects", str(out))
    assert result.exit_code == 0
    assert "negative amount" in result.stdout and "koc rejects" in result.stdout
    with out.open() as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["row_number"], r["field"], r["reason"]) for r in rows] == [
        ("3", "amount", "negative amount")
    ]
    listing = _run(db, "rejects", "--json")
    assert [r["reason"] for r in json.loads(listing.stdout)] == ["negative amount"]
    table = _run(db, "rejects")
    assert "negative amount" in table.stdout and "bad.csv" in table.stdout


def test_cli_ingest_type_format_and_unknown_columns_options(tmp_path, write_file) -> None:
    path = write_file(
        "orders.txt",
        "order_id,buyer,amount,currency,ts,note\no1,b,1.00,CNY,2024-01-01T00:00:00Z,hi\n",
    )
    db = tmp_path / "k.duckdb"
    result = _run(
        db,
        "ingest",
        str(path),
        "--format",
        "csv",
        "--type",
        "order",
        "--unknown-columns",
        "reject",
        "--json",
    )
    payload = json.loads(result.stdout)
    assert (payload["inserted"], payload["rejected"]) == (0, 1)
    with DuckDBStore(db) as s:
        assert s.read_rejects().column("field").to_pylist() == ["note"]


def test_cli_ingest_missing_type_is_a_clean_error(tmp_path, write_file) -> None:
    path = write_file("x.csv", "sharer,content_id,ts\ns,c,2024-01-01T00:00:00Z\n")
    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "k.duckdb"), "ingest", str(path)])
    assert result.exit_code != 0
    assert "--type" in str(result.exception)


def test_cli_rejects_empty(tmp_path) -> None:
    DuckDBStore(tmp_path / "k.duckdb").close()
    assert "empty" in _run(tmp_path / "k.duckdb", "rejects").stdout


@pytest.mark.parametrize("args", [("rejects",), ("top",), ("status",), ("keys", "list")])
def test_cli_read_of_missing_store_is_an_error_and_creates_nothing(tmp_path, args) -> None:
    db = tmp_path / "typo.duckdb"
    result = CliRunner().invoke(cli, [*args, "--db", str(db)])
    assert result.exit_code != 0
    assert isinstance(result.exception, KocError) and "No store at" in str(result.exception)
    assert not db.exists()


def test_cli_db_option_after_the_subcommand_names_the_store(tmp_path, write_file) -> None:
    path = write_file("u.csv", "type,user_id\nuser,a\nuser,b\n")
    db = tmp_path / "after.duckdb"
    result = CliRunner().invoke(cli, ["ingest", str(path), "--db", str(db), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["inserted"] == 2
    assert f"store: {db}" in result.stderr


def test_cli_ingest_source_with_type_is_a_usage_error(tmp_path, write_file) -> None:
    path = write_file("test.txt", "1 2 3\n")
    result = CliRunner().invoke(
        cli,
        [
            "--db",
            str(tmp_path / "k.duckdb"),
            "ingest",
            "--source",
            "beibei",
            "--type",
            "order",
            str(path),
        ],
    )
    assert result.exit_code == 2
    assert "--source beibei fixes the record types" in result.output
    assert not (tmp_path / "k.duckdb").exists()  # refused before opening the store
