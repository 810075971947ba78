"""Sign-in for the web pages (:mod:`api.http.routes.web`): ``/login`` and ``/logout``.

The pages are public when ``api_public_leaderboard`` is set; otherwise they need a
``read`` key, sent as ``X-API-Key`` or checked once by ``/login``, which then keeps a
signed session (not the key: :mod:`api.http.sessions`) in an HttpOnly, SameSite=Strict
cookie for 8 hours. Both forms carry a CSRF token (:mod:`api.http.forms`); failed
sign-ins are rate-limited per client address (:mod:`api.http.ratelimit`).
"""

from __future__ import annotations

import math
import time

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup

from api.http.deps import StoreDep
from api.http.errors import ApiError
from api.http.forms import check_csrf, check_login, csrf_input, end_login, read_form, start_login
from api.http.ratelimit import FailureLimiter
from api.http.routes.web import templates
from api.http.security import COOKIE_NAME, check_token
from api.http.sessions import SESSION_SECONDS, set_cookie, signer_of

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

_MAX_FORM_BYTES = 4096


def _login_page(request: Request, error: str | None = None, status: int = 200) -> Response:
    def render(field: Markup) -> Response:
        context = {"error": error, "signed_in": False, "login_field": field}
        return templates.TemplateResponse(request, "login.html", context, status_code=status)

    return start_login(request, render)


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request) -> Response:
    """The sign-in form (with a fresh sign-in cookie for its CSRF token)."""
    return _login_page(request)


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, store: StoreDep) -> Response:
    """Check the key from the form and keep a session of it in an HttpOnly cookie.

    Failed sign-ins are counted per client address (:mod:`api.http.ratelimit`): over
    ``api_login_max_failures`` in ``api_login_window_s`` the answer is a 429 page with
    ``Retry-After``.
    """
    limiter: FailureLimiter = request.app.state.login_limiter
    client = request.client.host if request.client else "unknown"
    wait = limiter.retry_after(client)
    if wait is not None:
        raise ApiError(
            429,
            "too_many_requests",
            f"Too many failed sign-ins from this address; try again in {math.ceil(wait)} s.",
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )
    form = await read_form(request, _MAX_FORM_BYTES)
    check_login(request, form)
    try:
        key = await check_token(request, store, form.get("key", ""))
    except ApiError as exc:
        limiter.record(client)
        return _login_page(request, exc.message, 401)
    response = RedirectResponse("/", status_code=303)
    session = signer_of(request).issue(key.key_id, now=time.time())
    set_cookie(request, response, COOKIE_NAME, session, max_age=SESSION_SECONDS)
    end_login(response)
    return response


@router.get("/logout", response_class=HTMLResponse)
async def logout_form(request: Request) -> Response:
    """A page with the sign-out button (signing out is a form: it changes state)."""
    context = {"signed_in": COOKIE_NAME in request.cookies, "field": csrf_input(request)}
    return templates.TemplateResponse(request, "logout.html", context)


@router.post("/logout")
async def logout(request: Request) -> Response:
    """End the session (its form's token is checked) and go to the sign-in form."""
    if COOKIE_NAME in request.cookies:
        check_csrf(request, await read_form(request, _MAX_FORM_BYTES))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE_NAME)
    return response
