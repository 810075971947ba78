"""``GET /v1/roles/{role}`` over the roles service."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import auth


@pytest.mark.parametrize(("role", "members"), [("employee", 5), ("kol", 5), ("consumer", 10)])
def test_role_view_counts(
    client: TestClient, tokens: dict[str, str], role: str, members: int
) -> None:
    body = client.get(f"/v1/roles/{role}?limit=3", headers=auth(tokens["read"])).json()
    assert body["role"] == role
    # 20 users, roles by index mod 4: employee, kol, consumer, consumer
    assert body["counts"]["total"] == members
    assert len(body["items"]) <= 3


def test_role_view_consumer_is_leaderboard(client: TestClient, tokens: dict[str, str]) -> None:
    body = client.get("/v1/roles/consumer?limit=3", headers=auth(tokens["read"])).json()
    assert [r["user_id"] for r in body["items"]] == ["u02", "u03", "u06"]


def test_role_view_unknown_role_is_422(client: TestClient, tokens: dict[str, str]) -> None:
    response = client.get("/v1/roles/ceo", headers=auth(tokens["read"]))
    assert response.status_code == 422 and response.json()["code"] == "validation_error"


def test_role_view_cached_until_a_write(own_client: TestClient, own_tokens: dict[str, str]) -> None:
    # M8: the view is computed once (its `at` stays); after a write the last view is
    # answered while the new one is computed in the background
    first = own_client.get("/v1/roles/kol", headers=auth(own_tokens["read"])).json()
    again = own_client.get("/v1/roles/kol", headers=auth(own_tokens["read"])).json()
    assert again == first  # served from memory: same `at`
    posted = own_client.post(
        "/v1/events",
        json=[{"type": "user", "user_id": "new-kol", "role": "kol"}],
        headers=auth(own_tokens["ingest"]),
    )
    assert posted.status_code == 200 and posted.json()["inserted"] == 1
    stale = own_client.get("/v1/roles/kol", headers=auth(own_tokens["read"])).json()
    assert stale == first  # answered at once; the new view is computed in the background
    own_client.app.state.role_views.wait(60)  # type: ignore[attr-defined]
    after = own_client.get("/v1/roles/kol", headers=auth(own_tokens["read"])).json()
    assert after["at"] != first["at"]
    assert after["counts"]["total"] == first["counts"]["total"] + 1
