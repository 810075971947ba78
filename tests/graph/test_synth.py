"""``koc synth`` output: file contract, determinism, manifest, broken rows, formats, CLI."""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import re
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from api.cli import cli
from graph.errors import ParameterError
from graph.events import RECORD_SPECS, EventType, Role
from graph.money import CURRENCY_MINOR_UNITS
from graph.synth import WINDOW_END, WINDOW_START, SynthParams, generate
from graph.synth._arrays import first_of_each, in_sorted
from graph.synth._writer import _json_lines

USERS, SEED = 2_000, 7
PLURAL = {t: f"{t.value}s" for t in EventType}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth")
    generate(out, SynthParams(users=USERS, seed=SEED))
    return out


def read_rows(path: Path) -> list[dict[str, str]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- an independent statement of the row rules, to judge broken.csv and the clean files ---
_AMOUNT = re.compile(r"^\d+(\.\d+)?$")
_VALID = {
    "money": lambda v: bool(_AMOUNT.match(v)),
    "currency": lambda v: v in CURRENCY_MINOR_UNITS,
    "role": lambda v: v in {r.value for r in Role},
}


def violations(row: dict[str, str]) -> list[str]:
    """Rules of graph.events a row breaks (empty list = valid), checked without the ingester."""
    try:
        spec = RECORD_SPECS[EventType(row["type"])]
    except ValueError:
        return ["unknown type"]
    found = []
    for f in spec.fields:
        value = row.get(f.name, "")
        if value == "":
            if f.required:
                found.append(f"missing {f.name}")
            continue
        if f.kind == "ts":
            try:
                if datetime.fromisoformat(value).tzinfo is None:
                    found.append(f"naive {f.name}")
            except ValueError:
                found.append(f"bad {f.name}")
        elif f.kind == "json":
            try:
                if not isinstance(json.loads(value), dict):
                    found.append(f"bad {f.name}")
            except ValueError:
                found.append(f"bad {f.name}")
        elif not _VALID.get(f.kind, lambda v: True)(value):
            found.append(f"bad {f.name}")
    if spec.src and spec.dst and row.get(spec.src) and row.get(spec.src) == row.get(spec.dst):
        found.append("self edge")
    return found


# --- tests ------------------------------------------------------------------------------------
def test_generate_same_seed_byte_identical(data: Path, tmp_path: Path) -> None:
    generate(tmp_path, SynthParams(users=USERS, seed=SEED))
    names = sorted(p.name for p in data.iterdir())
    assert names == sorted(p.name for p in tmp_path.iterdir())
    assert len(names) == 13
    for name in names:
        assert sha(data / name) == sha(tmp_path / name), name


def test_generate_other_seed_differs(data: Path, tmp_path: Path) -> None:
    generate(tmp_path, SynthParams(users=USERS, seed=SEED + 1))
    for t in EventType:
        name = f"{PLURAL[t]}.csv.gz"
        assert sha(data / name) != sha(tmp_path / name), name


def test_files_columns_follow_record_specs(data: Path) -> None:
    for t in EventType:
        header = pacsv.read_csv(data / f"{PLURAL[t]}.csv.gz").column_names
        assert header == ["type", *RECORD_SPECS[t].names]


def test_manifest_counts_match_files(data: Path) -> None:
    manifest = json.loads((data / "manifest.json").read_text())
    truth = json.loads((data / "ground_truth.json").read_text())
    for entry in manifest["files"]:
        path = data / entry["name"]
        assert len(read_rows(path)) == entry["rows"], entry["name"]
        assert sha(path) == entry["sha256"]
        assert path.stat().st_size == entry["bytes"]
        if entry["type"] != "mixed":
            assert truth["counts"][entry["type"]] == entry["rows"]
    assert manifest["total_rows"] == sum(truth["counts"].values())
    assert truth["broken_rows"] == len(read_rows(data / "broken.csv"))


def test_clean_files_every_row_valid(data: Path) -> None:
    start, end = WINDOW_START, WINDOW_END
    for t in EventType:
        rows = read_rows(data / f"{PLURAL[t]}.csv.gz")
        assert rows, t
        for row in rows:
            assert row["type"] == t.value
            assert violations(row) == [], row
            if t is not EventType.USER:
                assert row["ts"].endswith("+08:00")
                assert start <= datetime.fromisoformat(row["ts"]) < end, row
            if "amount" in row:
                assert re.fullmatch(r"\d+\.\d\d", row["amount"]), row
    # ids are unique where they must be
    for t, key in (
        (EventType.USER, "user_id"),
        (EventType.ORDER, "order_id"),
        (EventType.SHARE, "content_id"),
    ):
        values = [r[key] for r in read_rows(data / f"{PLURAL[t]}.csv.gz")]
        assert len(values) == len(set(values)), t


def test_broken_file_every_row_violates_a_rule(data: Path) -> None:
    rows = read_rows(data / "broken.csv")
    total = sum(
        json.loads((data / "manifest.json").read_text())["files"][i]["rows"]
        for i in range(len(EventType))
    )
    assert len(rows) == max(16, round(total * 0.001))
    for row in rows:
        assert violations(row), row
    defects = {r["defect"] for r in read_rows(data / "ground_truth_broken.csv")}
    assert {
        "negative_amount",
        "unknown_currency",
        "self_view",
        "unknown_type",
        "bad_timestamp",
        "missing_buyer",
    } <= defects


def test_users_roles_partly_unknown(data: Path) -> None:
    roles = [r["role"] for r in read_rows(data / "users.csv.gz")]
    unknown = roles.count("unknown") / len(roles)
    assert 0.25 < unknown < 0.35
    assert {"consumer", "employee", "kol"} <= set(roles)


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_generate_formats_hold_same_rows(fmt: str, tmp_path: Path) -> None:
    params = SynthParams(users=300, seed=3)
    generate(tmp_path / "csv", params)
    generate(tmp_path / fmt, params, fmt=fmt)
    for t in EventType:
        csv_rows = read_rows(tmp_path / "csv" / f"{PLURAL[t]}.csv.gz")
        if fmt == "parquet":
            other = pq.read_table(tmp_path / fmt / f"{PLURAL[t]}.parquet").to_pylist()
        else:
            with gzip.open(tmp_path / fmt / f"{PLURAL[t]}.jsonl.gz", "rt") as fh:
                other = [json.loads(line) for line in fh]
        assert len(other) == len(csv_rows), t
        for a, b in zip(csv_rows, other, strict=True):
            for name, value in a.items():
                got = b[name]
                if isinstance(got, int):  # parquet timestamps: epoch milliseconds
                    got = datetime.fromisoformat(value).timestamp() * 1000 == got and value
                assert (got or "") == value, (t, name)


def test_generate_rejects_bad_parameters(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="'users' parameter"):
        generate(tmp_path, SynthParams(users=10))
    with pytest.raises(ParameterError, match="'format' parameter"):
        generate(tmp_path, SynthParams(users=300), fmt="xlsx")
    assert not list(tmp_path.iterdir())


def test_cli_synth_writes_and_reports(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["synth", "--users", "300", "--seed", "1", "--out", str(tmp_path), "--json"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["out_dir"] == str(tmp_path.resolve())
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert summary["rows"] == {
        e["type"]: e["rows"] for e in manifest["files"] if e["type"] != "mixed"
    }


def test_cli_synth_help_explains_every_option() -> None:
    result = CliRunner().invoke(cli, ["synth", "--help"])
    assert result.exit_code == 0
    for option in ("--users", "--seed", "--out", "--format", "--chunk-users", "--json"):
        assert option in result.output
    bad = CliRunner().invoke(cli, ["synth", "--users", "5", "--out", "x"])
    assert bad.exit_code == 2


# --- building blocks ---------------------------------------------------------------------------
@given(st.lists(st.one_of(st.none(), st.text()), min_size=1, max_size=30))
def test_json_lines_round_trip_any_text(values: list[str | None]) -> None:
    table = pa.table({"a": pa.array(values, pa.string()), "b": pa.array(["x"] * len(values))})
    # JSON lines are separated by "\n" only (str.splitlines would also split on U+2028, NEL...)
    lines = _json_lines(table).decode("utf-8").split("\n")
    assert lines.pop() == ""
    assert [json.loads(line) for line in lines] == [{"a": v, "b": "x"} for v in values]


@given(st.lists(st.integers(0, 20), max_size=60), st.lists(st.integers(0, 20), max_size=30))
def test_first_of_each_and_in_sorted_match_numpy(keys: list[int], other: list[int]) -> None:
    k = np.array(keys, dtype=np.int64)
    when = np.arange(k.shape[0])[::-1]  # later rows first: the earliest is the last listed
    first = first_of_each(k, when)
    assert sorted(k[first].tolist()) == sorted(set(keys))
    for pos in first.tolist():
        assert when[pos] == when[k == k[pos]].min()
    s = np.sort(np.array(other, dtype=np.int64))
    assert in_sorted(k, s).tolist() == np.isin(k, s).tolist()
