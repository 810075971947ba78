"""The marketers' web app: server-rendered pages over the same services as ``/v1``.

No front-end build: Jinja2 templates in ``api/http/templates``, one stylesheet in
``api/http/static``, pictures as inline SVG (:mod:`api.http.charts`). Pages:

* ``/`` the leaderboard (legend, breakdown bars, business facts, filters by role,
  community and rising / falling, pages both ways) and ``/leaderboard.csv`` (the
  current view as CSV, every row of it, streamed :data:`CSV_CHUNK_ROWS` at a time);
* ``/users/{id}`` a user: facts, breakdown, rank history chart, referral up- and
  downline, ego network; with a ``finance`` key also staff/fraud flags and the
  commission summary;
* ``/roles/{role}`` employees (uplift, by store), KOLs (GMV per fee), consumers;
* ``/communities`` with their top spreaders; ``/runs`` the run history;
* ``/docs`` (Swagger UI) and ``/redoc`` from bundled assets (no CDN).

A page needs a ``read`` key (header or the sign-in cookie) unless
``api_public_leaderboard`` is set; without one it redirects to ``/login``.
Errors on these paths are pages too (``app.state.error_page``).
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path as FsPath
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, Path, Query, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from api.http import charts
from api.http.deps import StoreDep
from api.http.errors import ApiError
from api.http.forms import csrf_input
from api.http.routes.leaderboard import ID_PATTERN
from api.http.security import page_key
from api.services import dashboard, ranking, segments
from api.services.ledger_views import entries_page
from api.services.profiles import referral_tree, user_view
from api.services.roles import ROLE_VIEWS, role_view
from graph.errors import DeadlineExceeded
from graph.money import format_money
from influence.config import COMPONENTS
from referral.render import neutralize_formula

__all__ = ["router", "templates", "install_web", "PAGE_MAX_ROWS", "CSV_CHUNK_ROWS", "csv_chunks"]

router = APIRouter(include_in_schema=False)
_HERE = FsPath(__file__).resolve().parents[1]
templates = Jinja2Templates(directory=str(_HERE / "templates"))
templates.env.globals.update(
    colors=charts.COMPONENT_COLORS,
    labels=charts.COMPONENT_LABELS,
    color_of=charts.color_of,
    csrf_input=csrf_input,
)
templates.env.filters["money"] = lambda v: (
    "" if v is None else format_money(Decimal(str(v)), thousands=True)
)
templates.env.filters["count"] = lambda v: "–" if v is None else f"{int(round(float(v))):,}"
templates.env.filters["fixed"] = lambda v, n=3: "" if v is None else f"{float(v):.{n}f}"
templates.env.filters["pct"] = lambda v: "" if v is None else f"{100 * float(v):.0f}%"

PAGE_MAX_ROWS = 200
CSV_CHUNK_ROWS = 2_000  #: rows per streamed CSV chunk (one leaderboard page each)
_ROLES = ("consumer", "kol", "employee", "unknown")
_SORTS = {"score": "best score", "rank_change": "rising", "falling": "falling"}


async def _key_or_login(request: Request, store: Any) -> tuple[bool, Any, Response | None]:
    """``(signed_in, key, redirect)``: a redirect to /login when the page needs a key."""
    try:
        key = await page_key(request, store)
    except ApiError:
        return False, None, RedirectResponse("/login", status_code=303)
    return key is not None, key, None


def _page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    return templates.TemplateResponse(request, name, context, status_code=status)


def _filters(role: str | None, community: str | None, sort: str | None) -> tuple[Any, ...]:
    role = role if role in _ROLES else None
    group = int(community) if community and community.isdigit() else None
    return role, group, sort if sort in _SORTS else "score"


def _segment(store: Any, name: str | None) -> tuple[str | None, list[dict[str, Any]]]:
    """The chosen segment (None when absent or unknown) and every segment for the menu."""
    available = segments.list_segments(store, counts=False)
    return (name if any(s["name"] == name for s in available) else None), available


def _rows(
    store: Any,
    role: str | None,
    group: int | None,
    sort: str,
    limit: int,
    after: int,
    segment: str | None = None,
) -> list[dict[str, Any]]:
    return ranking.leaderboard(
        store,
        role=role,
        community=group,
        sort=sort,
        limit=limit,
        after_rank=after,
        include_staff=role is not None,
        mask=None if segment is None else segments.segment_row_mask(store, segment),
    )


@router.get("/", response_class=HTMLResponse)
async def leaderboard_html(
    request: Request,
    store: StoreDep,
    role: Annotated[str | None, Query(max_length=32)] = None,
    community: Annotated[str | None, Query(max_length=12)] = None,
    sort: Annotated[str | None, Query(max_length=16)] = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX_ROWS)] = 50,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    segment: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """The leaderboard with its legend, facts, filters (a segment too) and pages."""
    signed_in, _, redirect = await _key_or_login(request, store)
    if redirect is not None:
        return redirect
    role, group, sort = _filters(role, community, sort)

    def build() -> dict[str, Any]:
        chosen, menu = _segment(store, segment)
        rows = _rows(store, role, group, sort, limit + 1, (page - 1) * limit, chosen)
        more, rows = len(rows) > limit, rows[:limit]
        facts = dashboard.row_facts(store, rows, request.app.state.facts.get(store))
        return {
            "rows": list(zip(rows, facts, strict=True)),
            "more": more,
            "segment": chosen,
            "segments": menu,
        }

    data = await run_in_threadpool(build)
    params = {
        "role": role or "",
        "community": "" if group is None else group,
        "sort": sort,
        "limit": limit,
        "segment": data["segment"] or "",
    }
    rows = data["rows"]
    context = {
        "signed_in": signed_in,
        "roles": _ROLES,
        "sorts": _SORTS,
        "role": role,
        "community": group,
        "sort": sort,
        "segment": data["segment"],
        "segments": data["segments"],
        "limit": limit,
        "max_limit": PAGE_MAX_ROWS,
        "page": page,
        "rows": rows,
        "bar": charts.stacked_bar,
        "run_id": rows[0][0]["run_id"] if rows else None,
        "changed_roles": sum(f["role_now"] != r["role"] for r, f in rows),
        "prev_query": urlencode({**params, "page": page - 1}) if page > 1 else None,
        "next_query": urlencode({**params, "page": page + 1}) if data["more"] else None,
        "csv_query": urlencode(params),
    }
    return _page(request, "leaderboard.html", context)


_CSV_HEADER = (
    "position",
    "rank",
    "user_id",
    "score",
    "rank_change",
    "role_at_run",
    "role_now",
    "role_confidence",
    "community",
    "buyers",
    "gmv",
    "reach",
    "referrals",
    *[f"contribution_{c}" for c in COMPONENTS],
)


def _csv_line(writer: Any, values: list[Any]) -> None:
    writer.writerow([neutralize_formula(v) if isinstance(v, str) else v for v in values])


def csv_chunks(
    store: Any, facts_index: Any, role: str | None, group: int | None, sort: str, chosen: str | None
) -> Iterator[bytes]:
    """The rows of a leaderboard view as CSV, :data:`CSV_CHUNK_ROWS` at a time.

    Every row of the view, in page order, in bounded memory: one page of
    :func:`api.services.ranking.leaderboard` per chunk. Text cells go through
    :func:`referral.render.neutralize_formula` (a user id ``=HYPERLINK(...)`` stays
    text in a spreadsheet); money has 2 decimals.
    """
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(_CSV_HEADER)
    after = 0
    while True:
        rows = _rows(store, role, group, sort, CSV_CHUNK_ROWS, after, chosen)
        facts = dashboard.row_facts(store, rows, facts_index)
        for r, f in zip(rows, facts, strict=True):
            _csv_line(
                writer,
                [
                    r["rank"],
                    r["overall_rank"],
                    r["user_id"],
                    f"{r['score']:.6f}",
                    r["rank_change"],
                    r["role"],
                    f["role_now"],
                    "" if f["confidence"] is None else f"{f['confidence']:.3f}",
                    r["community"],
                    "" if f["buyers"] is None else int(f["buyers"]),
                    "" if f["gmv"] is None else format_money(f["gmv"]),
                    "" if f["reach"] is None else f"{f['reach']:.0f}",
                    "" if f["referrals"] is None else f["referrals"],
                    *[f"{r['breakdown'].get(c, 0.0):.6f}" for c in COMPONENTS],
                ],
            )
        yield buf.getvalue().encode("utf-8")
        buf.seek(0)
        buf.truncate()
        if len(rows) < CSV_CHUNK_ROWS:
            return
        after += len(rows)


@router.get("/leaderboard.csv")
async def leaderboard_csv(
    request: Request,
    store: StoreDep,
    role: Annotated[str | None, Query(max_length=32)] = None,
    community: Annotated[str | None, Query(max_length=12)] = None,
    sort: Annotated[str | None, Query(max_length=16)] = None,
    segment: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """The current view (filters, segment and sort of the page) as CSV: every row,
    streamed page by page."""
    _, _, redirect = await _key_or_login(request, store)
    if redirect is not None:
        return redirect
    role, group, sort = _filters(role, community, sort)
    chosen, _ = await run_in_threadpool(_segment, store, segment)
    # the first chunk here, so a missing run or a bad filter is an error page, not a cut stream
    chunks = csv_chunks(store, request.app.state.facts.get(store), role, group, sort, chosen)
    first = await run_in_threadpool(next, chunks)

    def body() -> Iterator[bytes]:
        yield first
        yield from chunks

    parts = (role, group, sort, chosen)
    name = "leaderboard" + "".join(f"-{v}" for v in parts if v not in (None, "score"))
    return StreamingResponse(
        body(),  # a sync iterator: Starlette pulls each chunk in its thread pool
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


def _commissions(store: Any, user_id: str) -> dict[str, Any]:
    """Totals by status and the holds (with reasons) of a beneficiary's entries."""
    page = entries_page(
        store,
        period=None,
        beneficiary=user_id,
        status=None,
        limit=1000,
        cursor=None,
    )
    totals: dict[str, Decimal] = defaultdict(Decimal)
    holds = []
    for e in page["data"]:
        totals[str(e["status"])] += Decimal(str(e["amount"]))
        if e["status"] == "held":
            holds.append(e)
    return {
        "entries": page["count"],
        "more": page["next_cursor"] is not None,
        "totals": dict(sorted(totals.items())),
        "holds": holds[:20],
    }


@router.get("/users/{user_id}", response_class=HTMLResponse)
async def user_html(
    request: Request,
    store: StoreDep,
    user_id: Annotated[str, Path(pattern=ID_PATTERN)],
) -> Response:
    """A user's facts, breakdown, rank history, referrals and ego network."""
    signed_in, key, redirect = await _key_or_login(request, store)
    if redirect is not None:
        return redirect
    finance = key is not None and ("finance" in key.scopes or "admin" in key.scopes)
    state = request.app.state

    def build() -> dict[str, Any]:
        profile = user_view(store, user_id, None, facts=state.facts.get(store))
        (facts,) = dashboard.row_facts(
            store, [{**profile, "run_id": profile["run_id"]}], state.facts.get(store)
        )
        try:
            ego = dashboard.ego_network(
                state.snapshot_cache.get(store, state.reach_budget_s), user_id
            )
        except DeadlineExceeded:
            ego = None
        out = {
            "profile": profile,
            "facts": facts,
            "tree": referral_tree(store, user_id),
            "ego": ego,
        }
        if finance:
            out["commissions"] = _commissions(store, user_id)
        return out

    data = await run_in_threadpool(build)
    profile = data["profile"]
    context = {
        **data,
        "signed_in": signed_in,
        "finance": finance,
        "staff": profile["role_info"].get("role") in ("employee", "kol"),
        "bar": charts.stacked_bar(
            {c["component"]: c["contribution"] for c in profile["components"]}, width=320, height=18
        ),
        "rank_chart": charts.rank_chart(profile["rank_history"]),
        "ego_chart": None if data["ego"] is None else charts.ego_chart(data["ego"]),
    }
    return _page(request, "user.html", context)


@router.get("/roles", response_class=HTMLResponse)
async def roles_index() -> Response:
    return RedirectResponse("/roles/employee", status_code=303)


@router.get("/roles/{role}", response_class=HTMLResponse)
async def role_html(
    request: Request,
    store: StoreDep,
    role: Annotated[str, Path(pattern="^(employee|kol|consumer)$")],
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Response:
    """Employees (uplift, by store), KOLs (GMV per fee) or consumers."""
    signed_in, _, redirect = await _key_or_login(request, store)
    if redirect is not None:
        return redirect
    view = await run_in_threadpool(role_view, store, role, limit=limit)
    by_store: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in view.get("items", []):
        by_store[str(item.get("store_id") or "-")].append(item)
    context = {
        "signed_in": signed_in,
        "role": role,
        "roles": ROLE_VIEWS,
        "view": view,
        "by_store": dict(sorted(by_store.items())),
        "bar": charts.stacked_bar,
    }
    return _page(request, "roles.html", context)


@router.get("/communities", response_class=HTMLResponse)
async def communities_html(request: Request, store: StoreDep) -> Response:
    """Communities of the latest run, largest first, with their top spreaders."""
    signed_in, _, redirect = await _key_or_login(request, store)
    if redirect is not None:
        return redirect
    data = await run_in_threadpool(dashboard.communities, store)
    return _page(request, "communities.html", {"signed_in": signed_in, **data})


@router.get("/runs", response_class=HTMLResponse)
async def runs_html(request: Request, store: StoreDep) -> Response:
    """The ranking runs, newest first."""
    signed_in, _, redirect = await _key_or_login(request, store)
    if redirect is not None:
        return redirect
    runs = await run_in_threadpool(store.list_runs, 50)
    return _page(request, "runs.html", {"signed_in": signed_in, "runs": runs})


_DOCS_STATIC = "/static/docs"


@router.get("/docs", response_class=HTMLResponse)
async def swagger_html() -> Response:
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="KOC Graph API - Swagger UI",
        swagger_js_url=f"{_DOCS_STATIC}/swagger-ui-bundle.js",
        swagger_css_url=f"{_DOCS_STATIC}/swagger-ui.css",
        swagger_favicon_url=f"{_DOCS_STATIC}/favicon.png",
    )


@router.get("/redoc", response_class=HTMLResponse)
async def redoc_html() -> Response:
    return get_redoc_html(
        openapi_url="/openapi.json",
        title="KOC Graph API - ReDoc",
        redoc_js_url=f"{_DOCS_STATIC}/redoc.standalone.js",
        redoc_favicon_url=f"{_DOCS_STATIC}/favicon.png",
        with_google_fonts=False,
    )


def _error_page(request: Request, status: int, body: dict[str, Any]) -> Response:
    details = body.get("details") if isinstance(body.get("details"), list) else None
    titles = {
        401: "Please sign in",
        403: "Not allowed",
        404: "Not found",
        422: "Check the filters",
        429: "Too many attempts",
    }
    context = {
        "status": status,
        "title": titles.get(status, "Something went wrong"),
        "message": body.get("message", ""),
        "details": details,
        "signed_in": False,
    }
    return templates.TemplateResponse(request, "error.html", context, status_code=status)


def install_web(app: FastAPI) -> None:
    """Mount the static files (the stylesheet, the bundled Swagger UI / ReDoc assets)
    and make errors on page paths pages."""
    import fastapi_offline

    docs_assets = FsPath(fastapi_offline.__file__).resolve().parent / "static"
    app.mount(_DOCS_STATIC, StaticFiles(directory=str(docs_assets)), name="docs-assets")
    app.mount("/static", StaticFiles(directory=str(_HERE / "static")), name="static")
    app.state.error_page = _error_page


#: for the other page modules (:mod:`api.http.routes.web_campaigns`)
key_or_login = _key_or_login
render_page = _page
