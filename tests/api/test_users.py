"""``GET /v1/users/{id}``, ``/referrals`` and ``/reach`` (expected values by hand from the
fixture in tests/api/conftest.py; reach also against networkx)."""

from __future__ import annotations

from decimal import Decimal

import networkx as nx
import pytest
from fastapi.testclient import TestClient

from graph.duckdb_store import DuckDBStore
from graph.events import EventType
from tests.api.conftest import auth


def _get(client: TestClient, tokens: dict[str, str], path: str, status: int = 200) -> dict:
    response = client.get(path, headers=auth(tokens["read"]))
    assert response.status_code == status, response.text
    return response.json()


def test_user_profile_values(client: TestClient, tokens: dict[str, str]) -> None:
    p = _get(client, tokens, "/v1/users/u01")
    assert (p["run_id"], p["rank"], p["previous_rank"], p["rank_change"]) == ("r2", 1, 2, 1)
    assert p["score"] == pytest.approx(0.99)
    assert (p["role"], p["community"]) == ("kol", 1)
    assert {c["component"] for c in p["components"]} == {
        "conversion",
        "engagement",
        "pagerank",
        "reach",
        "spend",
    }
    assert sum(c["contribution"] for c in p["components"]) == pytest.approx(p["score"])
    assert p["role_info"] == {
        "role": "kol",
        "source": "declared",
        "inferred": False,
        "confidence": 1.0,
        "model_version": None,
    }
    assert [(h["run_id"], h["rank"]) for h in p["rank_history"]] == [("r2", 1), ("r1", 2)]
    # u01 was referred by u00 and referred u02, who referred u04: net GMV 40 + 20
    assert p["referrals"] == {
        "referred_by": "u00",
        "direct_referrals": 1,
        "downline_users": 2,
        "downline_buyers": 2,
        "downline_gmv": "60.00",
        "levels": 3,
    }


def test_user_profile_of_older_run(client: TestClient, tokens: dict[str, str]) -> None:
    p = _get(client, tokens, "/v1/users/u05?run=r1")
    assert (p["run_id"], p["rank"], p["rank_change"]) == ("r1", 6, None)


def test_user_profile_unknown_is_404(client: TestClient, tokens: dict[str, str]) -> None:
    body = _get(client, tokens, "/v1/users/nobody", 404)
    assert body["code"] == "not_found" and "nobody" in body["message"]


@pytest.mark.parametrize("bad", ["a" * 200, "bad%20id", "semi;colon"])
def test_user_id_bounded(client: TestClient, tokens: dict[str, str], bad: str) -> None:
    assert _get(client, tokens, f"/v1/users/{bad}", 422)["code"] == "validation_error"


def test_referrals_upline_and_downline(client: TestClient, tokens: dict[str, str]) -> None:
    body = _get(client, tokens, "/v1/users/u02/referrals")
    assert [(u["level"], u["user_id"]) for u in body["upline"]] == [(1, "u01"), (2, "u00")]
    assert body["downline"] == [{"level": 1, "users": 1, "buyers": 1, "gmv": "20.00"}]
    root = _get(client, tokens, "/v1/users/u00/referrals?levels=2")
    assert root["upline"] == []
    # u00 -> u01 (bought 100), u03; u01 -> u02 (bought 50, refunded 10)
    assert [(d["level"], d["users"], d["buyers"], Decimal(d["gmv"])) for d in root["downline"]] == [
        (1, 2, 1, Decimal(100)),
        (2, 1, 1, Decimal(40)),
    ]
    assert (root["downline_users"], Decimal(root["downline_gmv"])) == (3, Decimal(140))


def test_referrals_unknown_user_is_404(client: TestClient, tokens: dict[str, str]) -> None:
    assert _get(client, tokens, "/v1/users/ghost/referrals", 404)["code"] == "not_found"


def test_referrals_levels_bounded(client: TestClient, tokens: dict[str, str]) -> None:
    _get(client, tokens, "/v1/users/u00/referrals?levels=4", 422)


def _reference_reach(store: DuckDBStore, user: str, hops: int) -> list[int]:
    g = nx.DiGraph()
    g.add_nodes_from(store.node_ids().tolist())
    for t, (src, dst) in {
        EventType.VIEW: ("sharer", "viewer"),
        EventType.REFERRAL: ("referrer", "referee"),
    }.items():
        for r in store.read_events(t).to_pylist():
            g.add_edge(r[src], r[dst])
    dist = nx.single_source_shortest_path_length(g, user, cutoff=hops)
    return [sum(1 for d in dist.values() if 0 < d <= k) for k in range(1, hops + 1)]


def test_reach_matches_hand_count_and_networkx(
    client: TestClient, tokens: dict[str, str], shared_store: DuckDBStore
) -> None:
    body = _get(client, tokens, "/v1/users/u00/reach?hops=3")
    # hop 1: viewers u05..u09 and referees u01, u03; hop 2: u02; hop 3: u04
    assert body["reach"] == [7, 8, 9]
    assert body["reach"] == _reference_reach(shared_store, "u00", 3)
    assert _get(client, tokens, "/v1/users/u02/reach?hops=2")["reach"] == [1, 1]


def test_reach_unknown_user_is_404(client: TestClient, tokens: dict[str, str]) -> None:
    _get(client, tokens, "/v1/users/ghost/reach", 404)


@pytest.mark.parametrize("hops", [0, 7])
def test_reach_hops_bounded(client: TestClient, tokens: dict[str, str], hops: int) -> None:
    _get(client, tokens, f"/v1/users/u00/reach?hops={hops}", 422)


def test_reach_over_budget_is_503_with_retry_after(
    own_client: TestClient, own_tokens: dict[str, str]
) -> None:
    own_client.app.state.reach_budget_s = 0.0
    response = own_client.get("/v1/users/u00/reach", headers=auth(own_tokens["read"]))
    assert response.status_code == 503
    assert response.json()["code"] == "deadline_exceeded"
    assert int(response.headers["retry-after"]) > 0
