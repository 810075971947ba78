"""Shared fixtures: a real embedded store in a temp dir, and the shared datasets."""

from __future__ import annotations

import os
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


@pytest.fixture(scope="session")
def spark():
    """One Spark ``local[2]`` session for the whole test run (start-up costs ~10 s).

    Skips, with the reason, when pyspark (the ``spark`` extra) or Java is missing; fails
    instead when ``KOC_REQUIRE_SPARK=1`` (scripts/test.sh, i.e. CI, sets it), so a broken
    install cannot hide the Spark tests.
    """
    import shutil

    missing = None
    try:
        import pyspark  # noqa: F401
    except ImportError:
        missing = "pyspark is not installed (uv sync --extra spark)"
    if missing is None and shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        missing = "Spark needs Java 17+: no `java` on PATH and no JAVA_HOME"
    if missing is not None:
        if os.environ.get("KOC_REQUIRE_SPARK") == "1":
            pytest.fail(missing + " (KOC_REQUIRE_SPARK=1)")
        pytest.skip(missing)
    from api.services.spark_components import spark_session

    session = spark_session("local[2]", app_name="koc-tests")
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
