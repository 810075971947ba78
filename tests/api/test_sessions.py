"""Web sessions: the signed cookie of ``POST /login``, checked on a real ``koc serve``.

The server gets a known ``KOC_API_SESSION_SECRET`` so that the tests can sign tokens
the server must accept (or, expired, refuse) with :class:`SessionSigner` itself.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.http.sessions import SESSION_COOKIE, SESSION_SECONDS, SessionSigner
from api.services.keys import create_key
from graph.duckdb_store import DuckDBStore
from tests.api.conftest import auth, hidden_fields, populate, sign_in

SECRET = "test-secret-" + "x" * 32


def key_id(token: str) -> str:
    """The id part of ``koc_<key_id>_<secret>``."""
    return token.split("_")[1]


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
    page = sign_in(client, server[1]["read"])
    assert 'action="/logout"' in page.text  # the nav's sign-out form
    out = client.post("/logout", data=hidden_fields(page.text), follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert SESSION_COOKIE not in client.cookies
    assert client.get("/", follow_redirects=False).status_code == 303


def _is_error_page(response: httpx.Response, status: int) -> bool:
    return (
        response.status_code == status
        and response.headers["content-type"].startswith("text/html")
        and 'id="error"' in response.text
        and '"code"' not in response.text
        and "Traceback" not in response.text
    )


def test_login_csrf_missing_is_403_page(
    client: httpx.Client, server: tuple[str, dict[str, str]]
) -> None:
    client.get("/login")  # the sign-in cookie, but no token in the post
    response = client.post("/login", data={"key": server[1]["read"]})
    assert _is_error_page(response, 403) and "reload the page" in response.text
    assert SESSION_COOKIE not in client.cookies


def test_login_csrf_bad_is_403_page(
    client: httpx.Client, server: tuple[str, dict[str, str]]
) -> None:
    token = server[1]["read"]
    fields = hidden_fields(client.get("/login").text)
    assert list(fields) == ["csrf_token"]
    bad = client.post("/login", data={"key": token, "csrf_token": fields["csrf_token"][:-2] + "AA"})
    assert _is_error_page(bad, 403)
    # a genuine token without its cookie (another browser's form): refused too
    with httpx.Client(base_url=server[0], timeout=30) as other:
        assert _is_error_page(other.post("/login", data={"key": token, **fields}), 403)
    # a nonce past its 15 minutes, signed with the right secret: refused
    signer = SessionSigner(SECRET.encode())
    old = signer.login_nonce(now=time.time() - 16 * 60)
    client.cookies.set("koc_login", old, path="/login")
    stale = client.post("/login", data={"key": token, "csrf_token": signer.login_token(old)})
    assert _is_error_page(stale, 403)


def test_login_wrong_key_keeps_form_usable(
    client: httpx.Client, server: tuple[str, dict[str, str]]
) -> None:
    wrong = sign_in(client, "koc_00000000_" + "x" * 43)
    assert wrong.status_code == 401 and "unknown or revoked" in wrong.text
    # the re-rendered form has a fresh token that works
    again = client.post("/login", data={**hidden_fields(wrong.text), "key": server[1]["read"]})
    assert again.status_code == 200 and SESSION_COOKIE in client.cookies


def test_campaign_forms_csrf_missing_or_bad_is_403_page(
    client: httpx.Client, server: tuple[str, dict[str, str]]
) -> None:
    sign_in(client, server[1]["admin"])
    fields = hidden_fields(client.get("/campaigns").text)
    assert list(fields) == ["csrf_token"]
    plan = {"k": "1", "runs": "10"}
    for data in (plan, {**plan, "csrf_token": "x" * 43}):
        assert _is_error_page(client.post("/campaigns/plan", data=data), 403)
        review = client.post(
            "/campaigns/abcdef12/review", data={**data, "start": "2026-01-01T00:00"}
        )
        assert _is_error_page(review, 403)
    # another session's token (another key's): refused
    with httpx.Client(base_url=server[0], timeout=30, follow_redirects=True) as other:
        sign_in(other, server[1]["read"])
        foreign = hidden_fields(other.get("/campaigns").text)
    assert foreign != fields
    assert _is_error_page(client.post("/campaigns/plan", data={**plan, **foreign}), 403)
    # the page's own token: the job starts
    ok = client.post("/campaigns/plan", data={**plan, **fields}, follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"].startswith("/campaigns/jobs/")


def test_campaign_forms_header_key_needs_no_csrf(server: tuple[str, dict[str, str]]) -> None:
    base, tokens = server
    # past the key and CSRF checks to the form's own validation (k must be >= 1)
    response = httpx.post(
        f"{base}/campaigns/plan", data={"k": "0"}, headers=auth(tokens["admin"]), timeout=30
    )
    assert _is_error_page(response, 422) and "form.k" in response.text


def test_logout_csrf_missing_is_403_page(
    client: httpx.Client, server: tuple[str, dict[str, str]]
) -> None:
    sign_in(client, server[1]["read"])
    assert _is_error_page(client.post("/logout", data={}), 403)
    assert client.get("/", follow_redirects=False).status_code == 200  # still signed in


def test_serve_workers_share_one_session_secret(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import os

    import uvicorn

    from api.http.server import serve
    from graph.settings import Settings

    environ = {k: v for k, v in os.environ.items() if not k.startswith("KOC_")}
    monkeypatch.setattr(os, "environ", environ)  # what the worker processes inherit
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: None)
    serve(Settings(api_workers=2, db_path=tmp_path / "x.duckdb"), announce=lambda _: None)
    secret = environ["KOC_API_SESSION_SECRET"]
    assert len(secret) >= 32
    # every worker reads the same secret from that environment
    signers = [SessionSigner.from_settings(Settings(_env_file=None)) for _ in range(2)]
    assert not any(s.ephemeral for s in signers)
    token = signers[0].issue("0123abcd", now=time.time())
    assert signers[1].verify(token, now=time.time()) == "0123abcd"
    # a configured secret is passed on as it is
    serve(
        Settings(api_workers=2, db_path=tmp_path / "x.duckdb", api_session_secret=SECRET),  # type: ignore[arg-type]
        announce=lambda _: None,
    )
    assert environ["KOC_API_SESSION_SECRET"] == SECRET
