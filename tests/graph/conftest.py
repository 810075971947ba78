"""Fixtures of the graph tests: input files for ingestion and store factories for the contract suite."""

from __future__ import annotations

import gzip
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from graph.duckdb_store import DuckDBStore
from graph.ingest import IngestSummary, ingest_files
from graph.store import GraphStore

#: Header of a multi-type CSV in the ``koc synth`` layout: a type column plus the canonical fields.
SYNTH_HEADER = (
    "type,event_id,user_id,role,display_name,store_id,channel,created_at,attrs,"
    "sharer,viewer,forwarder,from_user,commenter,on_user,content_id,referrer,referee,"
    "campaign,order_id,buyer,amount,currency,attribution_token,refund_id,ts"
)
_COLS = SYNTH_HEADER.split(",")


def synth_row(**values: str) -> str:
    """One CSV line in the synth layout (absent fields are empty cells)."""
    unknown = set(values) - set(_COLS)
    assert not unknown, unknown
    return ",".join(values.get(c, "") for c in _COLS)


#: A small valid data set covering every record type (11 rows, all valid).
GOOD_ROWS = [
    synth_row(
        type="user",
        user_id="alice",
        role="consumer",
        created_at="2024-01-01T00:00:00Z",
        attrs='"{""vip"": true}"',
    ),
    synth_row(type="user", user_id="bob", role="kol", display_name="Bob"),
    synth_row(
        type="share",
        sharer="alice",
        content_id="c1",
        channel="wechat",
        ts="2024-03-01T10:00:00+08:00",
    ),
    synth_row(
        type="view", viewer="bob", sharer="alice", content_id="c1", ts="2024-03-01T11:00:00+08:00"
    ),
    synth_row(
        type="forward",
        forwarder="bob",
        from_user="alice",
        content_id="c1",
        ts="2024-03-01T12:00:00+08:00",
    ),
    synth_row(type="view", viewer="carol", sharer="bob", content_id="c1", ts="1709265600"),
    synth_row(
        type="comment", commenter="carol", on_user="bob", content_id="c1", ts="1709265660000"
    ),
    synth_row(
        type="referral",
        referrer="alice",
        referee="carol",
        campaign="spring",
        ts="2024-03-02T09:00:00Z",
    ),
    synth_row(
        type="order",
        order_id="o1",
        buyer="carol",
        amount="199.00",
        currency="CNY",
        attribution_token="c1",
        ts="2024-03-02T10:00:00+08:00",
    ),
    synth_row(
        type="order",
        order_id="o2",
        buyer="bob",
        amount="50",
        currency="usd",
        ts="2024-03-03T10:00:00Z",
    ),
    synth_row(
        type="refund", order_id="o1", amount="20.5", refund_id="r1", ts="2024-03-05T10:00:00Z"
    ),
]


@pytest.fixture
def write_file(tmp_path: Path) -> Callable[..., Path]:
    """``write_file(name, text_or_bytes)``: a file in the test's temp dir (``.gz`` compresses)."""

    def write(name: str, content: str | bytes) -> Path:
        path = tmp_path / name
        data = content.encode("utf-8") if isinstance(content, str) else content
        if name.endswith(".gz"):
            data = gzip.compress(data)
        path.write_bytes(data)
        return path

    return write


@pytest.fixture
def good_csv(write_file: Callable[..., Path]) -> Path:
    """The :data:`GOOD_ROWS` data set as a synth-layout CSV."""
    return write_file("good.csv", "\n".join([SYNTH_HEADER, *GOOD_ROWS]) + "\n")


@pytest.fixture
def ingest(store: DuckDBStore) -> Callable[..., IngestSummary]:
    """``ingest(*paths, **options)`` into the test's store; checks the balance every time."""

    def run(*paths: Path, **kwargs: Any) -> IngestSummary:
        summary = ingest_files(store, list(paths), **kwargs)
        assert summary.read == summary.inserted + summary.duplicates + summary.rejected
        return summary

    return run


def rejects_of(store: GraphStore) -> list[dict[str, Any]]:
    """The quarantine as dicts, ordered by row number."""
    return sorted(store.read_rejects().to_pylist(), key=lambda r: (r["source"], r["row_number"]))


# --- store contract -------------------------------------------------------------------------
def _duckdb_store(tmp_path: Path) -> Iterator[GraphStore]:
    s = DuckDBStore(tmp_path / "contract.duckdb")
    yield s
    s.close()


def _neo4j_store(tmp_path: Path) -> Iterator[GraphStore]:  # pragma: no cover - needs a server
    if not os.environ.get("KOC_NEO4J_URI"):
        pytest.skip("KOC_NEO4J_URI is not set: no Neo4j server to run the contract suite against")
    from graph.factory import open_store
    from graph.settings import get_settings

    # the relational side beside Neo4j: a DuckDB tables file (KOC_LEDGER_PATH)
    s = open_store(get_settings(store="neo4j", ledger_path=tmp_path / "tables.duckdb"))
    s.wipe()  # type: ignore[attr-defined]  # the contract starts from an empty database
    yield s
    s.wipe()  # type: ignore[attr-defined]
    s.close()


#: Store factories the contract suite runs against (add a name here to cover a new store).
STORE_FACTORIES: dict[str, Callable[[Path], Iterator[GraphStore]]] = {
    "duckdb": _duckdb_store,
    "neo4j": _neo4j_store,  # skips with a reason unless KOC_NEO4J_URI is set
}


@pytest.fixture(params=sorted(STORE_FACTORIES))
def contract_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[GraphStore]:
    """A fresh, empty store of each implementation in :data:`STORE_FACTORIES`."""
    yield from STORE_FACTORIES[request.param](tmp_path)
