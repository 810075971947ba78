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

__all__ = ["router", "ID_PATTERN", "plan_request"]

router = APIRouter(prefix="/campaigns", tags=["campaigns"])

#: plan and job ids (hex; a plan id may be shortened to a unique prefix)
ID_PATTERN = r"^[0-9a-f]{4,32}$"


def plan_request(body: PlanCreate) -> PlanRequest:
    """The service's request from the API's (or the page form's) model."""
    fields = body.model_dump()
    fields["exclude"] = tuple(fields["exclude"])
    return PlanRequest(**fields)


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
    """Chooses the seeds (IMM or CELF), simulates them and the baselines (top K by KOC
    score, top K by degree, random K) and records the plan. Scope `admin`.

    Answers 202 with the `running` job at once; poll `GET /v1/campaigns/jobs/{job_id}`
    until `status` is `succeeded` (with the plan, also at `GET /v1/campaigns/{plan_id}`,
    same id) or `failed` (with `error.code` and `error.message`: an unknown segment,
    users without the cost field...). Errors before the job starts: 422 for a field
    out of range, 400 `invalid_parameter` for a budget without a cost field (or the
    reverse), 409 `conflict` while another plan is computed (one at a time per server),
    503 `read_only` on a multi-worker server.
    """
    return _jobs(request).start(store, plan_request(body))


@router.get(
    "/jobs/{job_id}",
    response_model=PlanJobPublic,
    summary="A planning job: running, succeeded (with the plan) or failed",
    responses={**ERROR_RESPONSES, **error_responses(404)},
)
def get_job(
    request: Request, job_id: Annotated[str, Path(pattern=ID_PATTERN)], key: ReadKey
) -> dict[str, Any]:
    """The job started by `POST /v1/campaigns/plan`: `running` (with `step`),
    `succeeded` (with `plan`) or `failed` (with `error`). Jobs live in the server's
    memory: 404 `not_found` for a job this server did not start (or started before a
    restart); the plans themselves are stored, at `GET /v1/campaigns/{plan_id}`."""
    job = _jobs(request).get(job_id)
    if job is None:
        raise ApiError(404, "not_found", f"No planning job {job_id!r} on this server.")
    return job


@router.get("", summary="Recorded plans, newest first", responses=ERROR_RESPONSES)
def get_plans(
    store: StoreDep, key: ReadKey, limit: Annotated[int, Query(ge=1, le=100)] = 20
) -> dict[str, Any]:
    """`{data: [{plan_id, created_at, algorithm, model, expected_spread, seeds}], count}`,
    newest first (`seeds` is the number of seeds)."""
    plans = list_plans(store, limit)
    return {"data": plans, "count": len(plans)}


@router.get(
    "/{plan_id}",
    response_model=PlanPublic,
    summary="One recorded plan with its seeds and baselines",
    responses={**ERROR_RESPONSES, **error_responses(404)},
)
def get_plan(
    plan_id: Annotated[str, Path(pattern=ID_PATTERN)], store: StoreDep, key: ReadKey
) -> dict[str, Any]:
    """The plan recorded by `POST /v1/campaigns/plan` or `koc campaign plan`, with its
    reviews. `plan_id` may be shortened to a unique prefix (at least 4 characters);
    404 `not_found` for no match or several."""
    return load_plan(store, plan_id)
