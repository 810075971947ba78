"""``POST /v1/campaigns/plan`` (a background job), ``GET /v1/campaigns/jobs/{id}``,
``GET /v1/campaigns`` and ``GET /v1/campaigns/{plan_id}``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, status

from api.http.deps import StoreDep, WritableDep
from api.http.errors import ERROR_RESPONSES, ApiError, error_responses
from api.http.schemas.campaigns import PlanCreate, PlanJobPublic, PlanPublic
from api.http.security import AdminKey, ReadKey
from api.services.campaigns import CampaignJobs, PlanRequest, list_plans, load_plan

__all__ = ["router"]

router = APIRouter(prefix="/campaigns", tags=["campaigns"])

_ID = r"^[0-9a-f]{4,32}$"


def _jobs(request: Request) -> CampaignJobs:
    jobs: CampaignJobs = request.app.state.campaign_jobs
    return jobs


@router.post(
    "/plan",
    response_model=PlanJobPublic,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Plan a campaign in the background",
    responses={**ERROR_RESPONSES, **error_responses(400, 409, 503)},
)
def post_plan(
    request: Request, body: PlanCreate, store: StoreDep, key: AdminKey, writable: WritableDep
) -> dict[str, Any]:
    """Chooses the seeds (IMM or CELF), simulates them and the baselines and records
    the plan. Returns 202 with the `running` job; poll `GET /v1/campaigns/jobs/{id}`.
    One plan at a time per server: 409 `conflict` while one is computed."""
    fields = body.model_dump()
    fields["exclude"] = tuple(fields["exclude"])
    return _jobs(request).start(store, PlanRequest(**fields))


@router.get(
    "/jobs/{job_id}",
    response_model=PlanJobPublic,
    summary="A planning job: running, succeeded (with the plan) or failed",
    responses={**ERROR_RESPONSES, **error_responses(404)},
)
def get_job(
    request: Request, job_id: Annotated[str, Path(pattern=_ID)], key: ReadKey
) -> dict[str, Any]:
    """404 `not_found` for a job this server did not start (plans are at `/v1/campaigns/{id}`)."""
    job = _jobs(request).get(job_id)
    if job is None:
        raise ApiError(404, "not_found", f"No planning job {job_id!r} on this server.")
    return job


@router.get("", summary="Recorded plans, newest first", responses=ERROR_RESPONSES)
def get_plans(
    store: StoreDep, key: ReadKey, limit: Annotated[int, Query(ge=1, le=100)] = 20
) -> dict[str, Any]:
    plans = list_plans(store, limit)
    return {"data": plans, "count": len(plans)}


@router.get(
    "/{plan_id}",
    response_model=PlanPublic,
    summary="One recorded plan with its seeds and baselines",
    responses={**ERROR_RESPONSES, **error_responses(404)},
)
def get_plan(
    plan_id: Annotated[str, Path(pattern=_ID)], store: StoreDep, key: ReadKey
) -> dict[str, Any]:
    return load_plan(store, plan_id)
