"""Failed sign-ins rate-limited per client address: the limiter, then a real ``koc serve``.

The server allows 3 failures per 60 s. Its clients connect from distinct loopback
addresses (127.0.0.2, 127.0.0.3, ...: Linux routes all of 127/8 to the loopback), so
each is its own client to the server.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pytest

from api.http.ratelimit import FailureLimiter
from tests.api.conftest import hidden_fields, sign_in

WRONG = "koc_00000000_" + "x" * 43


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_limiter_sliding_window_blocks_and_recovers() -> None:
    clock = FakeClock()
    limiter = FailureLimiter(3, 60.0, clock=clock)
    for step in (0.0, 10.0, 20.0):
        clock.now = 1000.0 + step
        assert limiter.retry_after("a") is None
        limiter.record("a")
    assert limiter.retry_after("a") == pytest.approx(40.0)  # the first failure leaves at 1060
    clock.now = 1059.9
    assert limiter.retry_after("a") == pytest.approx(0.1)
    clock.now = 1060.0  # sliding: one slot free again, not the whole window
    assert limiter.retry_after("a") is None and limiter.failures("a") == 2
    limiter.record("a")
    assert limiter.retry_after("a") == pytest.approx(10.0)  # now the failure of 1010 is oldest
    clock.now = 1200.0
    assert limiter.failures("a") == 0 and limiter.retry_after("a") is None


def test_limiter_clients_counted_apart() -> None:
    limiter = FailureLimiter(2, 60.0, clock=FakeClock())
    limiter.record("a")
    limiter.record("a")
    assert limiter.retry_after("a") is not None
    assert limiter.retry_after("b") is None and limiter.failures("b") == 0


def test_limiter_memory_bounded() -> None:
    clock = FakeClock()
    limiter = FailureLimiter(2, 60.0, max_clients=3, clock=clock)
    for client in ("a", "b", "c"):
        limiter.record(client)
    clock.now += 1
    limiter.record("d")  # full: the client whose last failure is oldest goes
    assert limiter.failures("a") == 0
    assert [limiter.failures(c) for c in ("b", "c", "d")] == [1, 1, 1]
    clock.now += 120  # all expired: dropped before anyone is evicted
    limiter.record("e")
    assert limiter.failures("e") == 1


def test_limiter_thread_safe_counts() -> None:
    limiter = FailureLimiter(10_000, 60.0)

    def fail() -> None:
        for _ in range(500):
            limiter.record("a")
            limiter.retry_after("a")

    threads = [threading.Thread(target=fail) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert limiter.failures("a") == 4000


def test_limiter_bad_parameters_refused() -> None:
    with pytest.raises(ValueError, match="max_failures >= 1"):
        FailureLimiter(0, 60.0)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    from tests.api.server import running_server

    env = {"KOC_API_LOGIN_MAX_FAILURES": "3", "KOC_API_LOGIN_WINDOW_S": "60"}
    with running_server(tmp_path_factory.mktemp("ratelimit"), env=env) as running:
        yield running


def _client(base: str, address: str) -> httpx.Client:
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=base, transport=transport, timeout=30, follow_redirects=True)


def test_login_rate_limit_429_with_retry_after(server: tuple[str, dict[str, str]]) -> None:
    base, tokens = server
    with _client(base, "127.0.0.2") as client:
        for _ in range(3):
            assert sign_in(client, WRONG).status_code == 401
        blocked = sign_in(client, tokens["read"])  # even the right key, while blocked
        assert blocked.status_code == 429
        assert 0 < int(blocked.headers["retry-after"]) <= 60
        assert blocked.headers["content-type"].startswith("text/html")
        assert 'id="error"' in blocked.text and "Too many failed sign-ins" in blocked.text
        assert '"code"' not in blocked.text
        assert "koc_session" not in client.cookies


def test_login_rate_limit_success_keeps_others_counts(server: tuple[str, dict[str, str]]) -> None:
    base, tokens = server
    with _client(base, "127.0.0.3") as guesser, _client(base, "127.0.0.4") as other:
        for _ in range(2):
            assert sign_in(guesser, WRONG).status_code == 401
        assert sign_in(other, tokens["read"]).status_code == 200  # another client signs in
        assert sign_in(guesser, tokens["read"]).status_code == 200  # its own success...
        assert sign_in(guesser, WRONG).status_code == 401  # ...reset nothing: 3rd failure
        assert sign_in(guesser, tokens["read"]).status_code == 429
        # the other client is not limited by the guesser's failures
        fresh = other.get("/login")
        assert fresh.status_code == 200
        assert (
            other.post("/login", data={**hidden_fields(fresh.text), "key": WRONG}).status_code
            == 401
        )
