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
