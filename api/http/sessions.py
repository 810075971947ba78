"""Signed sessions of the web app and the tokens that guard its forms.

Signing in (``POST /login``) checks the API key once and then keeps, in the HttpOnly,
SameSite=Strict cookie :data:`SESSION_COOKIE`, not the key but a session token::

    <key_id>.<expiry_unix>.<mac>
    mac = base64url(HMAC-SHA256(secret, "session\\x00<key_id>.<expiry_unix>"))  (no padding)

Each request checks the MAC (:func:`hmac.compare_digest`), the expiry and, in
:mod:`api.http.security`, that the key still exists and is not revoked. The secret is
the ``api_session_secret`` setting or, when unset, random per process (sessions then
end when the server restarts).

Form tokens (CSRF) are MACs with the same secret under other purposes, so one kind of
token never passes for another:

* a signed-in form carries ``HMAC("csrf", session token)``: only a page of this site,
  rendered for this session, knows it;
* the sign-in form, before any session, carries ``HMAC("login", nonce)`` where the
  nonce ``<issued_unix>.<random>`` sits in the short-lived cookie :data:`LOGIN_COOKIE`
  (:data:`LOGIN_SECONDS`, path ``/login``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

from fastapi import Request, Response

from graph.settings import Settings

__all__ = [
    "SESSION_COOKIE",
    "LOGIN_COOKIE",
    "CSRF_FIELD",
    "SESSION_SECONDS",
    "LOGIN_SECONDS",
    "SessionSigner",
    "signer_of",
    "set_cookie",
]

SESSION_COOKIE = "koc_session"
LOGIN_COOKIE = "koc_login"
#: the hidden field of every form that posts
CSRF_FIELD = "csrf_token"
#: how long a session lasts (the cookie's Max-Age and the token's expiry)
SESSION_SECONDS = 8 * 3600
#: how long the sign-in form may stay open
LOGIN_SECONDS = 15 * 60

_SESSION_RE = re.compile(r"^([0-9a-f]{8})\.([0-9]{1,12})\.([A-Za-z0-9_-]{43})$")
_NONCE_RE = re.compile(r"^([0-9]{1,12})\.[A-Za-z0-9_-]{22}$")


class SessionSigner:
    """Issues and checks session tokens and form tokens with one secret.

    Parameters
    ----------
    secret : bytes
        The HMAC key; :meth:`from_settings` reads it from ``api_session_secret``.
    ephemeral : bool
        Whether the secret was made up for this process (sessions end on restart).
    """

    def __init__(self, secret: bytes, *, ephemeral: bool = False) -> None:
        if len(secret) < 32:
            raise ValueError("a session secret needs at least 32 bytes")
        self._secret, self.ephemeral = secret, ephemeral

    @classmethod
    def from_settings(cls, settings: Settings) -> SessionSigner:
        """The signer of ``settings.api_session_secret``, or of a random per-process key."""
        if settings.api_session_secret is None:
            return cls(secrets.token_bytes(32), ephemeral=True)
        return cls(settings.api_session_secret.get_secret_value().encode("utf-8"))

    def _mac(self, purpose: str, message: str) -> str:
        digest = hmac.new(self._secret, f"{purpose}\x00{message}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")

    def _matches(self, purpose: str, message: str, mac: str) -> bool:
        return hmac.compare_digest(self._mac(purpose, message), mac)

    def issue(self, key_id: str, *, now: float, ttl: int = SESSION_SECONDS) -> str:
        """A session token for ``key_id`` that expires ``ttl`` seconds after ``now``."""
        body = f"{key_id}.{int(now) + ttl}"
        return f"{body}.{self._mac('session', body)}"

    def verify(self, token: str | None, *, now: float) -> str | None:
        """The key id of a genuine, unexpired session token; None for anything else."""
        match = _SESSION_RE.match(token or "")
        if match is None:
            return None
        key_id, expiry, mac = match.groups()
        if not self._matches("session", f"{key_id}.{expiry}", mac) or int(expiry) <= now:
            return None
        return key_id

    def csrf_token(self, session: str) -> str:
        """The form token of the pages rendered for ``session``."""
        return self._mac("csrf", session)

    def check_csrf(self, session: str | None, token: str | None) -> bool:
        """Whether ``token`` is the form token of ``session``."""
        return bool(session and token) and self._matches("csrf", session or "", token or "")

    def login_nonce(self, *, now: float) -> str:
        """A fresh nonce for the sign-in cookie."""
        return f"{int(now)}.{secrets.token_urlsafe(16)}"

    def login_token(self, nonce: str) -> str:
        """The sign-in form's token for the cookie's ``nonce``."""
        return self._mac("login", nonce)

    def check_login(self, nonce: str | None, token: str | None, *, now: float) -> bool:
        """Whether ``token`` belongs to ``nonce`` and the nonce is under
        :data:`LOGIN_SECONDS` old."""
        match = _NONCE_RE.match(nonce or "")
        if match is None or not token or int(match.group(1)) + LOGIN_SECONDS < now:
            return False
        return self._matches("login", nonce or "", token)


def signer_of(request: Request) -> SessionSigner:
    """The app's signer (``app.state.sessions``)."""
    signer: SessionSigner = request.app.state.sessions
    return signer


def set_cookie(
    request: Request, response: Response, name: str, value: str, *, max_age: int, path: str = "/"
) -> None:
    """Set an HttpOnly, SameSite=Strict cookie, Secure over https or when
    ``api_session_cookie_secure`` says so."""
    settings: Settings = request.app.state.settings
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=path,
        httponly=True,
        samesite="strict",
        secure=settings.api_session_cookie_secure or request.url.scheme == "https",
    )
