"""The server-rendered leaderboard page for marketers (``GET /``), and its sign-in.

No front-end build: Jinja2 templates in ``api/http/templates``. The page is public
when ``api_public_leaderboard`` is set; otherwise it needs a ``read`` key, sent
as ``X-API-Key`` or kept in an HttpOnly, SameSite=Strict cookie by ``/login``.
"""

from __future__ import annotations

from pathlib import Path as FsPath
from typing import Annotated, Any
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from api.http.deps import StoreDep
from api.http.errors import ApiError
from api.http.routes.leaderboard import leaderboard_page
from api.http.security import COOKIE_NAME, check_token, page_key
from graph.errors import KocError

__all__ = ["router", "templates", "PAGE_MAX_ROWS"]

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(FsPath(__file__).resolve().parents[1] / "templates"))

PAGE_MAX_ROWS = 200
_ROLES = ("consumer", "kol", "employee", "unknown")
_MAX_FORM_BYTES = 4096


@router.get("/", response_class=HTMLResponse)
async def leaderboard_html(
    request: Request,
    store: StoreDep,
    role: Annotated[str | None, Query(max_length=32)] = None,
    community: Annotated[str | None, Query(max_length=12)] = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX_ROWS)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> Response:
    """The leaderboard as an HTML table, with role and community filters."""
    try:
        key = await page_key(request, store)
    except ApiError:
        return RedirectResponse("/login", status_code=303)
    role = role if role in _ROLES else None
    group = int(community) if community and community.isdigit() else None
    context: dict[str, Any] = {
        "roles": _ROLES,
        "role": role,
        "community": group,
        "limit": limit,
        "max_limit": PAGE_MAX_ROWS,
        "signed_in": key is not None,
        "error": None,
    }
    status = 200
    try:
        page = await run_in_threadpool(
            leaderboard_page,
            store,
            run_id=None,
            role=role,
            community=group,
            min_score=None,
            sort="score",
            include_staff=False,
            limit=limit,
            cursor=cursor,
            cache=request.app.state.page_cache,
        )
        context["page"] = page
        params = {k: v for k, v in {"role": role, "community": group, "limit": limit}.items() if v}
        context["next_query"] = urlencode({**params, "cursor": page["next_cursor"] or ""})
    except (KocError, ApiError) as exc:
        context["error"] = exc.message
        status = 404 if getattr(exc, "code", "") == "not_found" else 400
    return templates.TemplateResponse(request, "leaderboard.html", context, status_code=status)


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request) -> Response:
    return templates.TemplateResponse(request, "login.html", {"error": None, "signed_in": False})


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, store: StoreDep) -> Response:
    """Check the key from the form and keep it in an HttpOnly cookie."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > _MAX_FORM_BYTES:
            break
    token = (parse_qs(body[:_MAX_FORM_BYTES].decode("utf-8", "replace")).get("key") or [""])[0]
    try:
        await check_token(request, store, token.strip())
    except ApiError as exc:
        return templates.TemplateResponse(
            request, "login.html", {"error": exc.message, "signed_in": False}, status_code=401
        )
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        COOKIE_NAME,
        token.strip(),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        max_age=8 * 3600,
    )
    return response


@router.get("/logout")
async def logout() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE_NAME)
    return response
