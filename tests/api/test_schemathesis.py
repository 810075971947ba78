"""Property-based conformance over the live OpenAPI schema (schemathesis).

Every operation is called with generated inputs (valid and invalid) and an admin
key: no response may be a 5xx, and every response must match the documented
status codes, content types and schemas. Bounded to a few examples per operation.

``positive_data_acceptance`` is left out: opaque cursors, unknown run ids and
ingest rows that fail the event model's validation are schema-valid strings the
API rightly refuses (400/404/422), which OpenAPI cannot express.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from graph.duckdb_store import DuckDBStore
from tests.api.conftest import make_app, make_tokens, populate

pytestmark = pytest.mark.slow

#: examples per operation: keeps the run well under a minute
MAX_EXAMPLES = 8


@pytest.fixture(scope="module")
def fuzz_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FastAPI, str]]:
    path: Path = tmp_path_factory.mktemp("fuzz")
    store = DuckDBStore(path / "fuzz.duckdb")
    populate(store)
    token = make_tokens(store)["admin"]
    app = make_app(store, path)
    app.state.run_slot.acquire()  # POST /runs answers 409: no ranking work during fuzzing
    yield app, token
    app.state.run_slot.release()
    store.close()


def test_api_conforms_to_its_schema(fuzz_env: tuple[FastAPI, str]) -> None:
    app, token = fuzz_env
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 12
    for operation in operations:

        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        @given(case=operation.as_strategy())
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(
                headers={"X-API-Key": token}, excluded_checks=[positive_data_acceptance]
            )

        check()
