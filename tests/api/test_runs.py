"""``POST /v1/runs`` and ``GET /v1/runs/{id}``: background runs, one at a time."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from tests.api.conftest import auth


def _wait(client: TestClient, token: str, run_id: str, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        body = client.get(f"/v1/runs/{run_id}", headers=auth(token)).json()
        if body["status"] != "running" or time.monotonic() > deadline:
            return body
        time.sleep(0.05)


def test_post_run_ranks_in_background(own_client: TestClient, own_tokens: dict[str, str]) -> None:
    response = own_client.post("/v1/runs", headers=auth(own_tokens["admin"]))
    assert response.status_code == 202, response.text
    started = response.json()
    assert started["status"] == "running"
    done = _wait(own_client, own_tokens["read"], started["run_id"])
    assert done["status"] == "succeeded", done
    assert done["row_counts"]["scores"] == 20 and done["progress"] is None
    board = own_client.get("/v1/leaderboard", headers=auth(own_tokens["read"])).json()
    assert board["run_id"] == started["run_id"]
    listed = own_client.get("/v1/runs?limit=2", headers=auth(own_tokens["read"])).json()
    assert listed["count"] == 2 and listed["data"][0]["run_id"] == started["run_id"]


def test_post_run_with_window(own_client: TestClient, own_tokens: dict[str, str]) -> None:
    window = {"start": "2026-01-01T00:00:00Z", "end": "2026-01-02T12:00:00Z"}
    response = own_client.post("/v1/runs", json=window, headers=auth(own_tokens["admin"]))
    assert response.status_code == 202
    done = _wait(own_client, own_tokens["read"], response.json()["run_id"])
    assert done["status"] == "succeeded"
    assert done["window_end"].startswith("2026-01-02T12:00:00")


def test_post_run_failing_in_child_is_stored_failed(
    own_client: TestClient, own_tokens: dict[str, str]
) -> None:
    window = {"start": "2030-01-01T00:00:00Z", "end": "2030-02-01T00:00:00Z"}  # no data
    response = own_client.post("/v1/runs", json=window, headers=auth(own_tokens["admin"]))
    assert response.status_code == 202, response.text
    done = _wait(own_client, own_tokens["read"], response.json()["run_id"])
    assert done["status"] == "failed" and "no social events" in done["error"]
    board = own_client.get("/v1/leaderboard", headers=auth(own_tokens["read"])).json()
    assert board["run_id"] != done["run_id"]


def test_post_run_bad_window_is_422(own_client: TestClient, own_tokens: dict[str, str]) -> None:
    for window in (
        {"start": "2026-02-01T00:00:00Z", "end": "2026-01-01T00:00:00Z"},
        {"start": "2026-01-01T00:00:00"},
        {"start": "2026-01-01T00:00:00Z", "extra": 1},
    ):
        response = own_client.post("/v1/runs", json=window, headers=auth(own_tokens["admin"]))
        assert response.status_code == 422, window


def test_second_run_while_one_runs_is_409(
    own_client: TestClient, own_tokens: dict[str, str]
) -> None:
    slot = own_client.app.state.run_slot
    assert slot.acquire()
    slot.run_id = "r-busy"
    try:
        response = own_client.post("/v1/runs", headers=auth(own_tokens["admin"]))
    finally:
        slot.release()
    assert response.status_code == 409
    assert response.json()["code"] == "conflict" and "r-busy" in response.json()["message"]


def test_get_run_unknown_is_404(client: TestClient, tokens: dict[str, str]) -> None:
    response = client.get("/v1/runs/r-missing", headers=auth(tokens["read"]))
    assert response.status_code == 404


def test_get_run_stored(client: TestClient, tokens: dict[str, str]) -> None:
    body = client.get("/v1/runs/r1", headers=auth(tokens["read"])).json()
    assert (body["run_id"], body["status"]) == ("r1", "succeeded")


def test_serve_marks_run_of_killed_rank_failed_and_gets_ready(tmp_path) -> None:
    import socket
    import subprocess
    import sys
    from datetime import UTC, datetime

    import httpx

    from graph.store import RunRecord
    from tests.api.conftest import populate
    from tests.api.server import running_server

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # the pid of a `koc rank` that was killed mid-run

    def fill(store) -> None:
        populate(store)
        owner = {"host": socket.gethostname(), "pid": gone.pid}
        store.save_run(RunRecord("r-killed", datetime.now(UTC), params={"owner": owner}))

    with running_server(tmp_path, fill=fill) as (base, tokens):
        headers = auth(tokens["read"])
        deadline = time.monotonic() + 120
        while (ready := httpx.get(f"{base}/readyz", timeout=10).json())["status"] != "ready":
            assert time.monotonic() < deadline, ready  # never stuck at "warming"
            time.sleep(0.2)
        killed = httpx.get(f"{base}/v1/runs/r-killed", headers=headers, timeout=10).json()
        board = httpx.get(f"{base}/v1/leaderboard", headers=headers, timeout=10).json()
    assert killed["status"] == "failed" and "abandoned" in killed["error"]
    assert board["run_id"] != "r-killed"  # the leaderboard stays on the last succeeded run
