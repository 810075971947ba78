"""The Campaigns pages of the web app: plan a seeding campaign, watch the job, read
and review plans (server-rendered, no script: a running job's page refreshes itself).

* ``/campaigns`` the planning form (K, segment, epsilon, model, algorithm,
  probabilities, excluded recent seeds, budget and cost field) and the saved plans;
* ``POST /campaigns/plan`` starts the same background job as ``POST /v1/campaigns/plan``
  and redirects to ``/campaigns/jobs/{id}``, which refreshes every second while the
  plan is computed and then redirects to the plan;
* ``/campaigns/{plan_id}`` the ordered seeds with their marginal gains, the expected
  spread with its 95% interval, the baselines under the same simulations (top K by KOC
  score, top K by degree, random K), the plan's reviews and a form to review it
  (``POST /campaigns/{plan_id}/review``, as ``koc campaign review``).

Reading needs what every page needs (:func:`api.http.routes.web.key_or_login`); the
two forms write, so they need an ``admin`` key (header, or the session cookie with the
form's CSRF token), as the API does. Errors are pages (bad fields list the field and
the reason).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from api.http.deps import StoreDep, WritableDep
from api.http.errors import ApiError
from api.http.forms import read_form
from api.http.routes.campaigns import ID_PATTERN, plan_request
from api.http.routes.web import key_or_login, render_page
from api.http.schemas.campaigns import PlanCreate
from api.http.security import page_scope_key
from api.services import segments
from api.services.campaigns import CampaignJobs, list_plans, load_plan, review_plan
from graph.errors import ParameterError

__all__ = ["router", "SEEDS_SHOWN"]

router = APIRouter(include_in_schema=False)

#: seeds listed on a plan's page (a plan may have up to 100,000)
SEEDS_SHOWN = 500
_BASELINE_LABELS = {
    "top_koc_score": "Top K by KOC score",
    "top_degree": "Top K by degree (ties)",
    "random": "Random K",
}


def _jobs(request: Request) -> CampaignJobs:
    jobs: CampaignJobs = request.app.state.campaign_jobs
    return jobs


def _plan_fields(form: dict[str, str]) -> PlanCreate:
    """The form's fields as the API's request model (blank fields take the defaults).

    Raises
    ------
    RequestValidationError
        Naming each bad field (``form.<name>``) and the reason, shown on the error page.
    """
    fields: dict[str, Any] = {
        k: v for k, v in form.items() if v != "" and k in PlanCreate.model_fields
    }
    if "exclude" in fields:
        fields["exclude"] = fields["exclude"].replace(",", " ").split()
    try:
        return PlanCreate.model_validate(fields)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("form", *e["loc"])} for e in exc.errors(include_url=False)]
        ) from None


@router.get("/campaigns", response_class=HTMLResponse)
async def campaigns_html(request: Request, store: StoreDep) -> Response:
    """The planning form and the saved plans, newest first."""
    signed_in, _, redirect = await key_or_login(request, store)
    if redirect is not None:
        return redirect

    def build() -> dict[str, Any]:
        return {
            "plans": list_plans(store, 50),
            "segments": segments.list_segments(store, counts=False),
        }

    data = await run_in_threadpool(build)
    defaults = PlanCreate()
    return render_page(
        request, "campaigns.html", {"signed_in": signed_in, "defaults": defaults, **data}
    )


@router.post("/campaigns/plan", response_class=HTMLResponse)
async def plan_form(request: Request, store: StoreDep, writable: WritableDep) -> Response:
    """Start planning from the form (an ``admin`` key) and go to the job's page."""
    form = await read_form(request)
    await page_scope_key(request, store, "admin", form)
    body = _plan_fields(form)
    job = _jobs(request).start(store, plan_request(body))
    return RedirectResponse(f"/campaigns/jobs/{job['job_id']}", status_code=303)


@router.get("/campaigns/jobs/{job_id}", response_class=HTMLResponse)
async def job_html(
    request: Request, store: StoreDep, job_id: Annotated[str, Path(pattern=ID_PATTERN)]
) -> Response:
    """A running job refreshes itself every second; a finished one redirects to its plan."""
    signed_in, _, redirect = await key_or_login(request, store)
    if redirect is not None:
        return redirect
    job = _jobs(request).get(job_id)
    if job is None:
        raise ApiError(
            404, "not_found", f"No planning job {job_id!r} on this server; see the saved plans."
        )
    if job["status"] == "succeeded":
        return RedirectResponse(f"/campaigns/{job['plan']['plan_id']}", status_code=303)
    return render_page(request, "campaign_job.html", {"signed_in": signed_in, "job": job})


@router.get("/campaigns/{plan_id}", response_class=HTMLResponse)
async def plan_html(
    request: Request, store: StoreDep, plan_id: Annotated[str, Path(pattern=ID_PATTERN)]
) -> Response:
    """A plan: seeds with marginal gains, spread with its interval, baselines, reviews."""
    signed_in, _, redirect = await key_or_login(request, store)
    if redirect is not None:
        return redirect
    plan = await run_in_threadpool(load_plan, store, plan_id)
    spread = plan["expected_spread"]
    baselines = [
        {
            "name": name,
            "label": _BASELINE_LABELS.get(name, name.replace("_", " ")),
            "ratio": spread["mean"] / b["mean"] if b["mean"] > 0 else None,
            **b,
        }
        for name, b in plan["baselines"].items()
    ]
    cumulative, total = [], 0.0
    for s in plan["seeds"][:SEEDS_SHOWN]:
        total += s["marginal_gain"]
        cumulative.append(total)
    context = {
        "signed_in": signed_in,
        "plan": plan,
        "spread": spread,
        "baselines": baselines,
        "seeds": list(zip(plan["seeds"][:SEEDS_SHOWN], cumulative, strict=True)),
        "more_seeds": max(0, len(plan["seeds"]) - SEEDS_SHOWN),
        "best": max([spread["mean"], *(b["mean"] for b in baselines)]),
    }
    return render_page(request, "campaign.html", context)


def _moment(form: dict[str, str], name: str) -> datetime | None:
    """A ``datetime-local`` field (no zone: UTC) or an ISO 8601 time; blank is None."""
    text = form.get(name, "")
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ParameterError(
            f"The '{name}' field must be a date and time such as 2026-03-01T09:00. "
            f"Got {text!r} instead.",
            parameter=name,
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@router.post("/campaigns/{plan_id}/review", response_class=HTMLResponse)
async def review_form(
    request: Request,
    store: StoreDep,
    writable: WritableDep,
    plan_id: Annotated[str, Path(pattern=ID_PATTERN)],
) -> Response:
    """Review the plan (an ``admin`` key): realised spread and GMV since ``start``."""
    form = await read_form(request)
    await page_scope_key(request, store, "admin", form)
    start, end = _moment(form, "start"), _moment(form, "end")
    review = await run_in_threadpool(lambda: review_plan(store, plan_id, start=start, end=end))
    return RedirectResponse(f"/campaigns/{review['plan_id']}#reviews", status_code=303)
