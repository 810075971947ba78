"""Web sessions: the signed cookie of ``POST /login``, checked on a real ``koc serve``.

The server gets a known ``KOC_API_SESSION_SECRET`` so that the tests can sign tokens
the server must accept (or, expired, refuse) with :class:`SessionSigner` itself.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import httpx
import pytest

from api.http.sessions import SESSION_COOKIE, SESSION_SECONDS, SessionSigner
from api.services.keys import create_key
from graph.duckdb_store import DuckDBStore
from tests.api.conftest import auth, populate

SECRET = "test-secret-" + "x" * 32


def key_id(token: str) -> str:
    """The id part of ``koc_<key_id>_<secret>``."""
    return token.split("_")[1]


def sign_in(client: httpx.Client, token: str) -> httpx.Response:
    """Post the sign-in form as a browser would (its hidden fields included)."""
    form = client.get("/login")
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form.text))
    return client.post("/login", data={**fields, "key": token})


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    """A private ``koc serve`` (pages need a key) with the known session secret."""
    from tests.api.server import running_server

    extra: dict[str, str] = {}

    def fill(store: DuckDBStore) -> None:
        populate(store)
        extra["to-revoke"] = create_key(store, "to-revoke", "read")[1]

    env = {"KOC_API_SESSION_SECRET": SECRET}
    with running_server(tmp_path_factory.mktemp("sessions"), fill=fill, env=env) as (base, tokens):
        yield base, {**tokens, **extra}


@pytest.fixture
def client(server: tuple[str, dict[str, str]]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server[0], timeout=30, follow_redirects=True) as c:
        yield c


def test_signer_token_roundtrip_and_tamper() -> None:
    signer = SessionSigner(SECRET.encode())
    token = signer.issue("0123abcd", now=1000.0)
    assert signer.verify(token, now=1000.0 + SESSION_SECONDS - 1) == "0123abcd"
    assert signer.verify(token, now=1000.0 + SESSION_SECONDS) is None  # expired
    key, expiry, mac = token.split(".")
    assert signer.verify(f"{key}.{int(expiry) + 3600}.{mac}", now=1000.0) is None
    assert signer.verify(f"89abcdef.{expiry}.{mac}", now=1000.0) is None
    flipped = mac[:-1] + ("A" if mac[-1] != "A" else "B")
    assert signer.verify(f"{key}.{expiry}.{flipped}", now=1000.0) is None
    assert SessionSigner(b"another-secret-" * 3).verify(token, now=1000.0) is None
    assert signer.verify("garbage", now=1000.0) is None


def test_signer_short_secret_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        SessionSigner(b"short")


def test_settings_short_session_secret_refused() -> None:
    from pydantic import ValidationError

    from graph.settings import Settings

    with pytest.raises(ValidationError, match="at least 32 characters"):
        Settings(api_session_secret="too-short")  # type: ignore[arg-type]


def test_login_cookie_does_not_contain_key(
    client: httpx.Client, server: tuple[str, dict[str, str]]
) -> None:
    token = server[1]["read"]
    response = sign_in(client, token)
    assert response.status_code == 200 and 'data-user="u02"' in response.text
    session = client.cookies[SESSION_COOKIE]
    secret_part = token.split("_", 2)[2]
    assert token not in session and secret_part not in session
    assert SessionSigner(SECRET.encode()).verify(session, now=time.time()) == key_id(token)
    header = response.history[0].headers["set-cookie"].lower()
    assert "httponly" in header and "samesite=strict" in header
    assert f"max-age={SESSION_SECONDS}" in header


def test_session_tampered_rejected(
    client: httpx.Client, server: tuple[str, dict[str, str]]
) -> None:
    sign_in(client, server[1]["read"])
    key, expiry, mac = client.cookies[SESSION_COOKIE].split(".")
    for forged in (
        f"{key}.{int(expiry) + 86400}.{mac}",  # a longer session
        f"{key_id(server[1]['admin'])}.{expiry}.{mac}",  # another (stronger) key
        f"{key}.{expiry}.{mac[:-2]}AA",
    ):
        client.cookies.set(SESSION_COOKIE, forged)
        page = client.get("/", follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"] == "/login"
        assert client.get("/v1/leaderboard").status_code == 401


def test_session_expired_rejected(client: httpx.Client, server: tuple[str, dict[str, str]]) -> None:
    signer = SessionSigner(SECRET.encode())
    read = key_id(server[1]["read"])
    client.cookies.set(SESSION_COOKIE, signer.issue(read, now=time.time() - SESSION_SECONDS - 1))
    assert client.get("/", follow_redirects=False).status_code == 303
    client.cookies.set(SESSION_COOKIE, signer.issue(read, now=time.time()))
    assert client.get("/", follow_redirects=False).status_code == 200  # the same, unexpired


def test_session_of_revoked_key_rejected(
    client: httpx.Client, server: tuple[str, dict[str, str]]
) -> None:
    base, tokens = server
    token = tokens["to-revoke"]
    sign_in(client, token)
    assert client.get("/", follow_redirects=False).status_code == 200
    revoked = httpx.delete(f"{base}/v1/keys/{key_id(token)}", headers=auth(tokens["admin"]))
    assert revoked.status_code == 200
    assert client.get("/", follow_redirects=False).status_code == 303
    assert client.get("/v1/leaderboard").status_code == 401


def test_session_of_revoked_fixture_key_rejected(
    client: httpx.Client, server: tuple[str, dict[str, str]]
) -> None:
    # the fixture's "revoked" key: its token cannot sign in, and a session for it is refused
    assert sign_in(client, server[1]["revoked"]).status_code == 401
    signer = SessionSigner(SECRET.encode())
    client.cookies.set(SESSION_COOKIE, signer.issue(key_id(server[1]["revoked"]), now=time.time()))
    assert client.get("/", follow_redirects=False).status_code == 303
    assert client.get("/v1/leaderboard").status_code == 401


def test_session_header_auth_unchanged(server: tuple[str, dict[str, str]]) -> None:
    base, tokens = server
    assert httpx.get(f"{base}/v1/leaderboard", headers=auth(tokens["read"])).status_code == 200
    bearer = {"Authorization": f"Bearer {tokens['read']}"}
    assert httpx.get(f"{base}/v1/leaderboard", headers=bearer).status_code == 200
    # a raw key in the cookie (the old sign-in) no longer counts
    raw = httpx.get(f"{base}/v1/leaderboard", cookies={SESSION_COOKIE: tokens["read"]})
    assert raw.status_code == 401


def test_logout_clears_session(client: httpx.Client, server: tuple[str, dict[str, str]]) -> None:
    sign_in(client, server[1]["read"])
    out = client.get("/logout", follow_redirects=False)
    assert out.status_code == 303 and SESSION_COOKIE not in client.cookies
