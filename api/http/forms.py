"""The web app's forms: reading a posted form and its CSRF token (:mod:`api.http.sessions`).

Every form that posts carries the hidden field :data:`~api.http.sessions.CSRF_FIELD`:

* a signed-in form (sign out, plan a campaign, review a plan) the token of the
  session in the cookie (:func:`csrf_input` renders it; :func:`check_csrf` checks it);
* the sign-in form the token of the nonce in its short-lived cookie
  (:func:`start_login`, :func:`check_login`).

A missing or wrong token is :class:`~api.http.errors.ApiError` 403, which the page error
handler shows as a page. Requests authenticated by the ``X-API-Key`` header need no
token: another site cannot make a browser send that header.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import parse_qs

from fastapi import Request, Response
from markupsafe import Markup, escape

from api.http.errors import ApiError
from api.http.sessions import (
    CSRF_FIELD,
    LOGIN_COOKIE,
    LOGIN_SECONDS,
    SESSION_COOKIE,
    set_cookie,
    signer_of,
)

__all__ = ["read_form", "csrf_input", "check_csrf", "start_login", "check_login", "end_login"]

_FORM_BYTES = 64 * 1024
_LOGIN_PATH = "/login"


async def read_form(request: Request, max_bytes: int = _FORM_BYTES) -> dict[str, str]:
    """A url-encoded form body as ``{field: first value}`` (stripped), at most ``max_bytes``."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            break
    fields = parse_qs(body[:max_bytes].decode("utf-8", "replace"), keep_blank_values=True)
    return {name: values[0].strip() for name, values in fields.items()}


def _hidden(token: str) -> Markup:
    return Markup('<input type="hidden" name="{}" value="{}">').format(CSRF_FIELD, escape(token))


def csrf_input(request: Request) -> Markup:
    """The hidden token field of a signed-in form (empty without a session cookie:
    such a form then needs a key in the ``X-API-Key`` header)."""
    session = request.cookies.get(SESSION_COOKIE)
    return _hidden(signer_of(request).csrf_token(session)) if session else Markup("")


def _refused() -> ApiError:
    return ApiError(
        403,
        "forbidden",
        "This form has expired or did not come from this site's pages; "
        "reload the page and submit it again.",
    )


def check_csrf(request: Request, form: dict[str, str]) -> None:
    """Refuse (403) a signed-in form whose token is not its session's."""
    if not signer_of(request).check_csrf(request.cookies.get(SESSION_COOKIE), form.get(CSRF_FIELD)):
        raise _refused()


def start_login(request: Request, render: Callable[[Markup], Response]) -> Response:
    """The sign-in page that ``render`` makes around the hidden token field, with the
    fresh sign-in cookie (the token's nonce) that makes the token valid."""
    signer = signer_of(request)
    nonce = signer.login_nonce(now=time.time())
    response = render(_hidden(signer.login_token(nonce)))
    set_cookie(request, response, LOGIN_COOKIE, nonce, max_age=LOGIN_SECONDS, path=_LOGIN_PATH)
    return response


def check_login(request: Request, form: dict[str, str]) -> None:
    """Refuse (403) a sign-in form without the token of its cookie's (unexpired) nonce."""
    if not signer_of(request).check_login(
        request.cookies.get(LOGIN_COOKIE), form.get(CSRF_FIELD), now=time.time()
    ):
        raise _refused()


def end_login(response: Response) -> None:
    """Drop the sign-in cookie (signed in: it has served)."""
    response.delete_cookie(LOGIN_COOKIE, path=_LOGIN_PATH)
