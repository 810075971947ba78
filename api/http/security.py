"""Authentication and scopes: which key is calling, and may it do this?

A key travels in the ``X-API-Key`` header or as ``Authorization: Bearer <key>``;
the web pages (and ``read`` endpoints) also accept the signed session in the
``koc_session`` cookie that ``POST /login`` sets (:mod:`api.http.sessions`: never the
key itself; it names the key by id, and a revoked key ends its sessions). No key -> 401,
a key without the scope -> 403. Verified keys and sessions
are cached for :data:`CACHE_SECONDS` so that a request costs one dictionary
lookup, not one query; revoking a key through the API clears the cache at once,
revoking it with ``koc keys revoke`` takes effect within that time (or on the
next start).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from api.http.deps import StoreDep
from api.http.errors import ApiError
from api.http.forms import check_csrf
from api.http.sessions import SESSION_COOKIE, signer_of
from api.services.keys import SCOPES, ApiKey, find_key, verify_token
from graph.store import GraphStore

__all__ = [
    "COOKIE_NAME",
    "CACHE_SECONDS",
    "KeyCache",
    "require_scope",
    "page_key",
    "check_token",
    "ReadKey",
    "IngestKey",
    "FinanceKey",
    "AdminKey",
    "page_scope_key",
]

COOKIE_NAME = SESSION_COOKIE
CACHE_SECONDS = 10.0
_MAX_TOKEN = 200

_header = APIKeyHeader(name="X-API-Key", auto_error=False, scheme_name="ApiKeyHeader")
_bearer = HTTPBearer(auto_error=False, scheme_name="Bearer")
_cookie = APIKeyCookie(name=COOKIE_NAME, auto_error=False, scheme_name="ApiKeyCookie")


class KeyCache:
    """Verified keys by token digest, each kept for ``ttl`` seconds (thread-safe)."""

    def __init__(self, ttl: float = CACHE_SECONDS, max_entries: int = 10_000) -> None:
        self.ttl, self.max_entries = ttl, max_entries
        self._items: dict[str, tuple[float, ApiKey | None]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _digest(token: str) -> str:
        return hashlib.sha256(token.encode("utf-8")).hexdigest()

    def get(self, token: str) -> tuple[bool, ApiKey | None]:
        item = self._items.get(self._digest(token))
        if item is None or item[0] < time.monotonic():
            return False, None
        return True, item[1]

    def put(self, token: str, key: ApiKey | None) -> None:
        with self._lock:
            if len(self._items) >= self.max_entries:
                self._items.clear()
            self._items[self._digest(token)] = (time.monotonic() + self.ttl, key)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


def _session_key(store: GraphStore, key_id: str) -> ApiKey | None:
    key = find_key(store, key_id)
    return key if key is not None and key.active else None


async def _lookup(request: Request, store: GraphStore, token: str, session: bool) -> ApiKey | None:
    """The active key of an API key (``session`` False) or of a session token."""
    if session:
        key_id = signer_of(request).verify(token, now=time.time())  # expiry: every request
        if key_id is None:
            return None
        verify = partial(_session_key, store, key_id)
    else:
        verify = partial(verify_token, store, token)
    cache: KeyCache = request.app.state.key_cache
    hit, key = cache.get(token)
    if not hit:
        key = await run_in_threadpool(verify)
        cache.put(token, key)
    return key


async def _authenticate(
    request: Request, store: GraphStore, token: str | None, scope: str, *, session: bool = False
) -> ApiKey:
    if not token:
        raise _unauthorized(
            "An API key is required: send it as 'X-API-Key: <key>' or "
            "'Authorization: Bearer <key>' (create one with `koc keys create`)."
        )
    if len(token) > _MAX_TOKEN:
        raise _unauthorized("The API key is malformed.")
    key = await _lookup(request, store, token, session)
    if key is None:
        raise _unauthorized(
            "The session has expired or its key was revoked; sign in again."
            if session
            else "The API key is unknown or revoked."
        )
    if not key.allows(scope):
        raise ApiError(
            403,
            "forbidden",
            f"This key ({key.key_id}) lacks the '{scope}' scope; it has {', '.join(key.scopes)}.",
            details={"required_scope": scope, "key_scopes": list(key.scopes)},
        )
    request.state.api_key = key
    return key


async def _page_authenticate(request: Request, store: GraphStore, scope: str) -> ApiKey:
    """A page's caller: the ``X-API-Key`` header, else the session cookie."""
    header = request.headers.get("x-api-key")
    if header:
        return await _authenticate(request, store, header, scope)
    cookie = request.cookies.get(COOKIE_NAME)
    return await _authenticate(request, store, cookie, scope, session=cookie is not None)


def require_scope(scope: str) -> Callable[..., Any]:
    """A dependency that authenticates the caller and checks ``scope``.

    ``read`` also accepts the page's session cookie, so a signed-in marketer can follow
    the leaderboard's links; writing scopes take headers only (no cross-site requests).
    """
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}")

    if scope == "read":

        async def dependency(
            request: Request,
            store: StoreDep,
            header: Annotated[str | None, Depends(_header)] = None,
            bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)] = None,
            cookie: Annotated[str | None, Depends(_cookie)] = None,
        ) -> ApiKey:
            token = header or (bearer.credentials if bearer else None)
            if token is None and cookie is not None:
                return await _authenticate(request, store, cookie, scope, session=True)
            return await _authenticate(request, store, token, scope)

    else:

        async def dependency(  # type: ignore[misc]
            request: Request,
            store: StoreDep,
            header: Annotated[str | None, Depends(_header)] = None,
            bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)] = None,
        ) -> ApiKey:
            token = header or (bearer.credentials if bearer else None)
            return await _authenticate(request, store, token, scope)

    dependency.__name__ = f"require_{scope}"
    return dependency


async def page_key(request: Request, store: GraphStore) -> ApiKey | None:
    """For the HTML pages: None when the leaderboard is public, else the caller's
    ``read`` key from the ``X-API-Key`` header or the session cookie.

    Raises
    ------
    ApiError
        401 or 403, which the page turns into a redirect to ``/login``.
    """
    if request.app.state.settings.api_public_leaderboard:
        return None
    return await _page_authenticate(request, store, "read")


async def check_token(request: Request, store: GraphStore, token: str) -> ApiKey:
    """Verify a key typed into the sign-in form (it needs ``read``)."""
    return await _authenticate(request, store, token, "read")


ReadKey = Annotated[ApiKey, Depends(require_scope("read"))]
IngestKey = Annotated[ApiKey, Depends(require_scope("ingest"))]
FinanceKey = Annotated[ApiKey, Depends(require_scope("finance"))]
AdminKey = Annotated[ApiKey, Depends(require_scope("admin"))]


async def page_scope_key(
    request: Request, store: GraphStore, scope: str, form: dict[str, str]
) -> ApiKey:
    """For a page form that writes (a campaign plan): the caller's key with ``scope``,
    from the ``X-API-Key`` header or the session cookie, even when the pages are public.

    With the session cookie, the posted ``form`` must carry the session's CSRF token
    (:func:`api.http.forms.check_csrf`). Besides, the cookie is SameSite=Strict, and a
    request whose ``Origin`` names another host or whose ``Sec-Fetch-Site`` says
    ``cross-site`` is refused.

    Raises
    ------
    ApiError
        401 without a key, 403 for a key without ``scope``, a cross-site request or a
        missing or wrong CSRF token.
    """
    origin = request.headers.get("origin")
    host = request.headers.get("host", "")
    if request.headers.get("sec-fetch-site") == "cross-site" or (
        origin not in (None, "null") and origin.split("://", 1)[-1] != host
    ):
        raise ApiError(403, "forbidden", "This form only accepts requests from its own pages.")
    key = await _page_authenticate(request, store, scope)
    if not request.headers.get("x-api-key"):
        check_csrf(request, form)
    return key
