"""In-memory profile facts: the same profiles as the store's queries, and when they are served."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from api.services.cache import RunCache
from api.services.facts import FactsCache, build_facts
from api.services.profiles import user_view
from graph.duckdb_store import DuckDBStore
from graph.events import EventType
from graph.roles import ModelRecord, import_declarations, role_at, save_inferences, save_model
from graph.store import ARROW_SCHEMAS
from tests.api.conftest import T0, auth, make_app, uid


def _referral(event_id: str, referrer: str, referee: str) -> dict[EventType, pa.Table]:
    row = {"event_id": event_id, "referrer": referrer, "referee": referee, "ts": T0}
    schema = ARROW_SCHEMAS[EventType.REFERRAL]
    return {EventType.REFERRAL: pa.Table.from_pylist([row], schema=schema)}


def _all_profiles(store: object, facts: object = None) -> dict[tuple[str, str], dict]:
    out = {}
    for run in ("r1", "r2"):
        for user in store.read_scores(run).column("user_id").to_pylist():  # type: ignore[attr-defined]
            out[run, user] = user_view(store, user, run, facts=facts)  # type: ignore[arg-type]
    return out


def test_facts_profiles_equal_store_queries(shared_store: DuckDBStore) -> None:
    facts = build_facts(shared_store)
    assert facts.run_ids == ("r2", "r1")
    from_store, from_facts = _all_profiles(shared_store), _all_profiles(shared_store, facts)
    assert len(from_store) == 40 and from_facts == from_store


def test_facts_roles_equal_role_at_with_declarations_and_inferences(
    api_store: DuckDBStore, tmp_path: Path
) -> None:
    roster = tmp_path / "staff.csv"
    roster.write_text("user_id,store_id,since\nu02,S1,2025-01-01\n", encoding="utf-8")
    import_declarations(api_store.conn, roster, kind="employee")
    save_model(api_store.conn, ModelRecord("m1", T0, 0.5))
    # two users only seen in events (undeclared): one inferred KOL, one below threshold
    api_store.append_batch(_referral("n1", uid(1), "newbie"))
    api_store.append_batch(_referral("n2", uid(1), "shy"))
    inferences = pa.table(
        {
            "user_id": [uid(6), "newbie", "shy"],
            "predicted_role": ["kol", "kol", "employee"],
            "role": ["kol", "kol", "unknown"],
            "confidence": [0.9, 0.8, 0.3],
        }
    )
    save_inferences(api_store.conn, "m1", inferences)  # u06 is declared: no effect on it
    facts = build_facts(api_store)
    assert _all_profiles(api_store, facts) == _all_profiles(api_store)
    expected = role_at(api_store.conn, api_store.node_ids()).to_pylist()
    for row in expected:
        v = facts.node(row["user_id"])
        assert v is not None
        got = facts.role(v)
        assert got is not None
        assert (got["role"], got["source"], got["model_version"]) == (
            row["role"],
            row["source"],
            row["model_version"],
        )
        assert got["confidence"] == row["confidence"]
    newbie = facts.role(facts.node("newbie"))  # type: ignore[arg-type]
    assert newbie is not None and (newbie["role"], newbie["inferred"]) == ("kol", True)
    v = facts.node(uid(2))
    assert v is not None and facts.role(v) == {
        "role": "employee",
        "source": "declared",
        "inferred": False,
        "confidence": 1.0,
        "model_version": None,
    }


def test_facts_know_when_the_next_role_period_starts(
    api_store: DuckDBStore, tmp_path: Path
) -> None:
    roster = tmp_path / "staff.csv"
    roster.write_text("user_id,store_id,since\nu03,S1,2030-01-01\n", encoding="utf-8")
    import_declarations(api_store.conn, roster, kind="employee")
    facts = build_facts(api_store)
    assert facts.valid_until == pytest.approx(T0.replace(year=2030).timestamp())


class _Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_facts_cache_serves_stale_facts_within_the_limit(api_store: DuckDBStore) -> None:
    clock = _Clock()
    cache = FactsCache(max_stale_s=10, clock=clock)
    assert cache.get(api_store) is None  # nothing built yet: query the store
    first = cache.wait(30)
    assert first is not None and cache.get(api_store) is first
    api_store.append_batch(_referral("late", uid(9), uid(8)))
    cache.invalidate()
    clock.now += 1
    assert cache.get(api_store) is first  # stale, within 10 s, while the rebuild runs
    rebuilt = cache.wait(30)
    assert rebuilt is not None and rebuilt is not first
    assert rebuilt.revision == api_store.revision()
    v8 = rebuilt.node(uid(8))
    assert v8 is not None and rebuilt.referral_summary(v8)["referred_by"] == uid(9)
    assert cache.get(api_store) is rebuilt


def test_facts_cache_without_staleness_falls_back_after_a_write(api_store: DuckDBStore) -> None:
    clock = _Clock()
    cache = FactsCache(max_stale_s=0, clock=clock)
    cache.get(api_store)
    first = cache.wait(30)
    assert cache.get(api_store) is first
    clock.now += 5  # past the cool-down after a build (as long as the build took)
    api_store.append_batch(_referral("late", uid(9), uid(8)))
    assert cache.get(api_store) is None  # never stale: the caller queries the store
    rebuilt = cache.wait(30)
    assert rebuilt is not first and cache.get(api_store) is rebuilt


def test_facts_cache_stale_too_long_falls_back(api_store: DuckDBStore) -> None:
    clock = _Clock()
    gated = _Bulk(api_store)
    cache = FactsCache(max_stale_s=10, clock=clock)
    cache.get(gated)
    first = cache.wait(30)
    gated.gate.clear()  # the next rebuild blocks in its bulk read
    api_store.append_batch(_referral("late", uid(9), uid(8)))
    cache.invalidate()
    clock.now += 1
    assert cache.get(gated) is first
    clock.now += 10
    assert cache.get(gated) is None  # stale for 10 s: the store answers again
    gated.gate.set()
    assert cache.wait(30) is not first


def test_facts_cache_new_run_triggers_rebuild(api_store: DuckDBStore) -> None:
    from graph.store import RunRecord

    clock = _Clock()
    store = RunCache(api_store)
    cache = FactsCache(max_stale_s=0, clock=clock)
    cache.get(store)
    assert cache.wait(30).run_ids == ("r2", "r1")  # type: ignore[union-attr]
    run = RunRecord(
        run_id="r3", created_at=T0 + timedelta(days=90), status="succeeded", window_end=T0
    )
    store.save_run(run, store.read_scores("r2"), store.read_components("r2"))
    clock.now += 5  # past the cool-down
    assert cache.get(store) is None
    rebuilt = cache.wait(30)
    assert rebuilt is not None and rebuilt.run_ids == ("r3", "r2", "r1")
    v = rebuilt.node(uid(1))
    assert v is not None
    assert [h["run_id"] for h in rebuilt.rank_history(v)] == ["r3", "r2", "r1"]


def test_facts_cache_failed_build_keeps_store_path(api_store: DuckDBStore) -> None:
    failing = _Bulk(api_store, fail=True)
    cache = FactsCache(max_stale_s=10)
    assert cache.get(failing) is None
    assert cache.wait(30) is None and cache.last_error == "RuntimeError: disk on fire"
    assert cache.get(failing) is None  # no retry storm: the next build waits 30 s
    assert cache.builds == 0


class _Bulk:
    """A store wrapper whose bulk reads (the rebuild's) fail, or wait for ``gate``."""

    def __init__(self, store: DuckDBStore, *, fail: bool = False) -> None:
        self._store, self._fail = store, fail
        self.gate = threading.Event()
        self.gate.set()
        self.wrapped = self

    def read_spend(self, *args: object, **kwargs: object) -> pa.Table:
        if self._fail:
            raise RuntimeError("disk on fire")
        assert self.gate.wait(30)
        return self._store.read_spend(*args, **kwargs)  # type: ignore[arg-type]

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)


def test_user_profile_served_from_facts_over_http(
    shared_store: DuckDBStore, tokens: dict[str, str], tmp_path: Path
) -> None:
    app = make_app(shared_store, tmp_path)
    with TestClient(app) as client:
        before = client.get("/v1/users/u01", headers=auth(tokens["read"])).json()
        assert app.state.facts.wait(30) is not None
        after = client.get("/v1/users/u01", headers=auth(tokens["read"])).json()
        assert app.state.facts.builds == 1
    assert after == before
    assert after["referrals"]["downline_gmv"] == "60.00"
