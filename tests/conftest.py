"""Shared fixtures: a real embedded store in a temp dir, and the shared datasets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from graph.duckdb_store import DuckDBStore

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DuckDBStore]:
    """A fresh embedded store in a temporary file."""
    s = DuckDBStore(tmp_path / "koc.duckdb")
    yield s
    s.close()


def shared_dataset(name: str) -> Path:
    """Path of ``../shared/data/<name>``; skips the test with a reason when absent."""
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"real dataset {path} is absent (only present beside the project checkout)")
    return path
