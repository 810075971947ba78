"""Campaign plans computed in a background thread, polled by id (the HTTP API's jobs)."""

from __future__ import annotations

import logging
import threading
import uuid
from typing import Any

from api.services.campaigns._plan import PlanRequest, plan_campaign
from graph.errors import ConflictError, KocError
from graph.store import GraphStore

__all__ = ["CampaignJobs"]

log = logging.getLogger("koc.api")


class CampaignJobs:
    """Plans being computed by this process: one at a time, results kept in memory by id.

    A job is ``running`` (with its current step), ``succeeded`` (with the plan, also
    stored in the campaign tables) or ``failed`` (with the error's code and message).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[str, dict[str, Any]] = {}
        self._busy = False

    def start(self, store: GraphStore, request: PlanRequest) -> dict[str, Any]:
        """Check the request, start planning in a thread and return the ``running`` job.

        Raises
        ------
        ParameterError
            For a bad request (before anything starts).
        ConflictError
            A plan is already being computed.
        """
        request.check()
        with self._lock:
            if self._busy:
                raise ConflictError(
                    "A campaign plan is already being computed; poll its job and try again "
                    "when it has finished."
                )
            self._busy = True
            job_id = uuid.uuid4().hex[:12]
            job: dict[str, Any] = {
                "job_id": job_id,
                "status": "running",
                "step": "starting",
                "plan": None,
                "error": None,
            }
            self._jobs[job_id] = job

        def step(name: str) -> None:
            job["step"] = name

        def work() -> None:
            try:
                job["plan"] = plan_campaign(store, request, progress=step, plan_id=job_id)
                job["status"] = "succeeded"
            except KocError as exc:
                job["error"] = {"code": exc.code, "message": exc.message}
                job["status"] = "failed"
            except Exception as exc:  # logged server-side; the job reports it
                log.exception("campaign plan failed")
                job["error"] = {"code": "internal", "message": str(exc)}
                job["status"] = "failed"
            finally:
                job["step"] = None
                with self._lock:
                    self._busy = False

        threading.Thread(target=work, name="koc-campaign-plan", daemon=True).start()
        return dict(job)

    def get(self, job_id: str) -> dict[str, Any] | None:
        """The job (a copy), or None for an id this process does not know."""
        job = self._jobs.get(job_id)
        return None if job is None else dict(job)
