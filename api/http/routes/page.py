"""Sign-in for the web pages (:mod:`api.http.routes.web`): ``/login`` and ``/logout``.

The pages are public when ``api_public_leaderboard`` is set; otherwise they need a
``read`` key, sent as ``X-API-Key`` or checked once by ``/login``, which then keeps a
signed session (not the key: :mod:`api.http.sessions`) in an HttpOnly, SameSite=Strict
cookie for 8 hours.
"""

from __future__ import annotations

import time
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.http.deps import StoreDep
from api.http.errors import ApiError
from api.http.routes.web import templates
from api.http.security import COOKIE_NAME, check_token
from api.http.sessions import SESSION_SECONDS, set_cookie, signer_of

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

_MAX_FORM_BYTES = 4096


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request) -> Response:
    return templates.TemplateResponse(request, "login.html", {"error": None, "signed_in": False})


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, store: StoreDep) -> Response:
    """Check the key from the form and keep a session of it in an HttpOnly cookie."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > _MAX_FORM_BYTES:
            break
    token = (parse_qs(body[:_MAX_FORM_BYTES].decode("utf-8", "replace")).get("key") or [""])[0]
    try:
        key = await check_token(request, store, token.strip())
    except ApiError as exc:
        return templates.TemplateResponse(
            request, "login.html", {"error": exc.message, "signed_in": False}, status_code=401
        )
    response = RedirectResponse("/", status_code=303)
    session = signer_of(request).issue(key.key_id, now=time.time())
    set_cookie(request, response, COOKIE_NAME, session, max_age=SESSION_SECONDS)
    return response


@router.get("/logout")
async def logout() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE_NAME)
    return response
