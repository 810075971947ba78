"""Campaign planning: choose K seed customers, record the plan, review it afterwards.

The algorithms are pure (:mod:`influence.campaign`); this package reads the store
and records plans in its tables. The CLI (``koc campaign ...``) and the HTTP API
(``POST /v1/campaigns/plan``, a background job polled at
``GET /v1/campaigns/jobs/{id}``) call these functions and only format results.

Private modules, one concept each: :mod:`~api.services.campaigns._inputs` (what a
plan reads from the store), :mod:`~api.services.campaigns._tables` (stored plans,
seeds and reviews), :mod:`~api.services.campaigns._plan` (planning),
:mod:`~api.services.campaigns._review` (realised spread and GMV),
:mod:`~api.services.campaigns._jobs` (plans running in a background thread).
"""

from api.services.campaigns._jobs import CampaignJobs
from api.services.campaigns._plan import PlanRequest, plan_campaign
from api.services.campaigns._review import review_plan
from api.services.campaigns._tables import list_plans, load_plan

__all__ = ["CampaignJobs", "PlanRequest", "plan_campaign", "review_plan", "list_plans", "load_plan"]
