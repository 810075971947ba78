"""Fixtures of the API tests: a small real store with two ranking runs, keys per scope, a client.

The store (20 users) is written with ``append_batch`` and two saved runs, so every
expected value below can be worked out by hand:

* referral tree (first referral wins): u00 -> u01 -> u02 -> u04, u00 -> u03;
* orders: u01 100.00, u02 50.00 (10.00 refunded), u04 20.00 CNY;
* run ``r1`` (older) ranks users by index, run ``r2`` swaps u00 and u01 and moves
  u05 from rank 6 to rank 3.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pyarrow as pa
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.http.app import create_app
from api.http.deps import get_store
from api.services.keys import create_key
from graph.duckdb_store import DuckDBStore
from graph.events import EventType
from graph.settings import Settings
from graph.store import ARROW_SCHEMAS, COMPONENT_SCHEMA, SCORE_SCHEMA, RunRecord

T0 = datetime(2026, 1, 1, tzinfo=UTC)
N_USERS = 20
ROLES = ["employee", "kol", "consumer", "consumer"]
COMPONENTS = ["conversion", "engagement", "pagerank", "reach", "spend"]
#: rank of each user index in run r2 (r1 ranks user i at i + 1)
R2_ORDER = [1, 0, 5, 2, 3, 4, *range(6, N_USERS)]


def uid(i: int) -> str:
    return f"u{i:02d}"


def _table(event_type: EventType, rows: list[dict]) -> pa.Table:
    schema = ARROW_SCHEMAS[event_type]
    return pa.Table.from_pylist(
        [{name: r.get(name) for name in schema.names} for r in rows], schema=schema
    )


def populate(store: DuckDBStore) -> None:
    """Write the users, events, orders and two runs described in the module docstring."""
    users = [
        {
            "event_id": f"user-{i}",
            "user_id": uid(i),
            "role": ROLES[i % 4],
            "display_name": f"User {i}",
            "created_at": T0,
        }
        for i in range(N_USERS)
    ]
    referrals = [
        {
            "event_id": f"ref-{a}-{b}",
            "referrer": uid(a),
            "referee": uid(b),
            "ts": T0 + timedelta(hours=k),
        }
        for k, (a, b) in enumerate([(0, 1), (1, 2), (0, 3), (2, 4)])
    ]
    views = [
        {
            "event_id": f"view-{v}",
            "viewer": uid(v),
            "sharer": uid(0),
            "content_id": "c0",
            "ts": T0 + timedelta(days=1),
        }
        for v in range(5, 10)
    ]
    orders = [
        {
            "event_id": f"order-{b}",
            "order_id": f"o{b}",
            "buyer": uid(b),
            "amount": Decimal(a),
            "currency": "CNY",
            "ts": T0 + timedelta(days=2),
        }
        for b, a in [(1, "100.00"), (2, "50.00"), (4, "20.00")]
    ]
    refunds = [
        {
            "event_id": "refund-2",
            "order_id": "o2",
            "amount": Decimal("10.00"),
            "ts": T0 + timedelta(days=3),
        }
    ]
    store.append_batch(
        {
            EventType.USER: _table(EventType.USER, users),
            EventType.REFERRAL: _table(EventType.REFERRAL, referrals),
            EventType.VIEW: _table(EventType.VIEW, views),
            EventType.ORDER: _table(EventType.ORDER, orders),
            EventType.REFUND: _table(EventType.REFUND, refunds),
        }
    )
    for run_id, order, created in (
        ("r1", list(range(N_USERS)), T0),
        ("r2", R2_ORDER, T0 + timedelta(days=7)),
    ):
        ranks = {user: pos + 1 for pos, user in enumerate(order)}
        scores = pa.Table.from_pylist(
            [
                {
                    "user_id": uid(i),
                    "rank": ranks[i],
                    "score": round(1.0 - ranks[i] / 100, 4),
                    "role": ROLES[i % 4],
                    "community": i % 3,
                }
                for i in range(N_USERS)
            ],
            schema=SCORE_SCHEMA,
        )
        components = pa.Table.from_pylist(
            [
                {
                    "user_id": uid(i),
                    "component": c,
                    "raw": float(i * (k + 1)),
                    "normalized": (N_USERS - i) / N_USERS if c != "spend" else i / N_USERS,
                    "contribution": (1.0 - ranks[i] / 100) / len(COMPONENTS),
                }
                for i in range(N_USERS)
                for k, c in enumerate(COMPONENTS)
            ],
            schema=COMPONENT_SCHEMA,
        )
        store.save_run(
            RunRecord(run_id=run_id, created_at=created, status="succeeded", window_end=created),
            scores,
            components,
        )


def make_tokens(store: DuckDBStore) -> dict[str, str]:
    """One token per scope, plus ``revoked`` (a revoked admin key)."""
    from api.services.keys import revoke_key

    out = {
        scope: create_key(store, f"test-{scope}", scope)[1]
        for scope in ("read", "ingest", "finance", "admin")
    }
    key, out["revoked"] = create_key(store, "test-revoked", "admin")
    revoke_key(store, key.key_id)
    return out


@pytest.fixture(scope="session")
def shared_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DuckDBStore]:
    """The populated store shared by tests that only read (built once per session)."""
    s = DuckDBStore(tmp_path_factory.mktemp("api-shared") / "api.duckdb")
    populate(s)
    s.shared_tokens = make_tokens(s)  # type: ignore[attr-defined]
    yield s
    s.close()


@pytest.fixture
def api_store(tmp_path: Path) -> Iterator[DuckDBStore]:
    """A populated store of its own, for tests that write."""
    s = DuckDBStore(tmp_path / "api.duckdb")
    populate(s)
    yield s
    s.close()


@pytest.fixture
def tokens(shared_store: DuckDBStore) -> dict[str, str]:
    """Tokens of the shared store (see :func:`make_tokens`)."""
    return shared_store.shared_tokens  # type: ignore[attr-defined,no-any-return]


@pytest.fixture
def own_tokens(api_store: DuckDBStore) -> dict[str, str]:
    """Tokens of the test's own store."""
    return make_tokens(api_store)


def make_app(store: DuckDBStore, tmp_path: Path, **settings: object) -> FastAPI:
    """The app with its store swapped for ``store`` through a dependency override."""
    app = create_app(
        Settings(db_path=tmp_path / "never-opened.duckdb", **settings),  # type: ignore[arg-type]
        store_factory=lambda: store,
    )
    app.dependency_overrides[get_store] = lambda: store
    return app


@pytest.fixture(scope="session")
def shared_app(shared_store: DuckDBStore, tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    return make_app(shared_store, tmp_path_factory.mktemp("api-app"))


@pytest.fixture(scope="session")
def _shared_client(shared_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(shared_app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def client(_shared_client: TestClient) -> Iterator[TestClient]:
    """A client of the app over the shared store (read-only tests)."""
    _shared_client.cookies.clear()
    yield _shared_client
    _shared_client.cookies.clear()


@pytest.fixture
def own_client(api_store: DuckDBStore, tmp_path: Path) -> Iterator[TestClient]:
    """A client of an app over the test's own store (tests that write)."""
    with TestClient(make_app(api_store, tmp_path), raise_server_exceptions=False) as c:
        yield c


def auth(token: str) -> dict[str, str]:
    """Headers carrying ``token``."""
    return {"X-API-Key": token}


def hidden_fields(html: str) -> dict[str, str]:
    """The hidden fields of the forms on a page (their CSRF token)."""
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))


def sign_in(client: httpx.Client, token: str) -> httpx.Response:
    """Post the sign-in form as a browser does: open it (its cookie and hidden token),
    then send it with ``token`` (a ``TestClient`` or an ``httpx.Client``)."""
    form = client.get("/login")
    return client.post("/login", data={**hidden_fields(form.text), "key": token})


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    """``koc serve`` in its own process (public leaderboard page), started once."""
    from tests.api.server import running_server

    with running_server(tmp_path_factory.mktemp("live"), public=True) as server:
        yield server
