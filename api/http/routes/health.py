"""``GET /healthz`` (process up) and ``GET /readyz`` (store reachable, schema current)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from fastapi import APIRouter, Request

from api.http.deps import ProviderDep, StoreDep
from api.http.errors import ApiError, error_responses
from api.http.schemas.health import Health, ProfileIndex, Readiness
from api.http.schemas.health import Warmup as WarmupPublic
from api.services.keys import schema_current
from graph.errors import KocError

__all__ = ["router", "package_version"]

router = APIRouter(tags=["health"])


def package_version() -> str:
    """The installed ``koc-graph`` version (``0.0.0`` in a source checkout without install)."""
    try:
        return version("koc-graph")
    except PackageNotFoundError:  # pragma: no cover - source checkout without install
        return "0.0.0"


@router.get("/healthz", response_model=Health, summary="The process is up")
async def healthz() -> Health:
    """Answers as long as the process runs; does not touch the store."""
    return Health(status="ok", version=package_version())


@router.get(
    "/readyz",
    response_model=Readiness,
    summary="The store is reachable and its schema current",
    responses=error_responses(503),
)
def readyz(request: Request, provider: ProviderDep, store: StoreDep) -> Readiness:
    """503 while the store cannot be opened or its schema is behind. `status` is
    `warming` while `koc serve` loads the latest run and the profile index at start-up
    (requests are answered meanwhile, from the store), then `ready`. Also reports the
    profile index, and starts building it when it is missing or behind."""
    try:
        graph_schema = store.schema_version()
        graph_ok = store.schema_current()
        api_ok = schema_current(store)
    except KocError as exc:
        raise ApiError(
            503, "not_ready", "The store is not reachable.", headers={"Retry-After": "5"}
        ) from exc
    if not graph_ok or not api_ok:
        raise ApiError(
            503,
            "not_ready",
            "The store's schema is not current; run `koc serve` once without workers "
            "(or any writing koc command) to migrate it.",
            headers={"Retry-After": "30"},
        )
    warmup = request.app.state.warmup
    cache = request.app.state.facts
    if warmup is None or warmup.done:  # the warm-up builds the index itself
        cache.get(store)
    facts = cache.latest
    index = ProfileIndex(
        current=cache.is_current,
        users=None if facts is None else int(facts.ids.shape[0]),
        built_at=None if facts is None else facts.built_at,
        build_seconds=None if facts is None else facts.build_seconds,
        last_error=cache.last_error,
    )
    return Readiness(
        status="warming" if warmup is not None and not warmup.done else "ready",
        warmup=None if warmup is None else WarmupPublic(**warmup.state.__dict__),
        graph_schema=graph_schema,
        api_schema_current=api_ok,
        read_only=provider.read_only,
        profile_index=index,
    )
