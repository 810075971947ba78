"""Plan a campaign: store -> interactions -> probabilities -> seeds -> simulations -> saved plan."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np

from api.services.campaigns import _tables
from api.services.campaigns._inputs import koc_scores, read_interactions, seed_costs_units
from graph.errors import NotFoundError, ParameterError
from graph.money import AMOUNT_SCALE
from graph.params import Interval, Options, check_params
from graph.store import GraphStore
from influence.campaign import (
    MODELS,
    celf,
    global_probabilities,
    imm,
    learn_probabilities,
    random_k,
    simulate_spread,
    top_k_by,
)

__all__ = ["PlanRequest", "plan_campaign"]

Progress = Callable[[str], None]


@dataclass(frozen=True)
class PlanRequest:
    """What to plan (every field has the CLI's and the API's default).

    ``probability`` is ``"learned"`` (per tie, from history) or ``"global"`` (every
    tie ``global_p``, the Neo4j GDS mode). ``budget`` (a decimal amount) needs
    ``cost_field``, the user ``attrs`` key holding each user's seed cost.
    ``exclude_recent_seeds`` leaves out the seeds of plans made in the last so many
    days; ``exclude`` names users to leave out; ``candidates`` (user ids), when
    given, are the only possible seeds (a segment).
    """

    k: int = 50
    epsilon: float = 0.2
    model: str = "ic"
    algorithm: str = "imm"
    probability: str = "learned"
    global_p: float = 0.01
    prior_strength: float = 2.0
    budget: Decimal | None = None
    cost_field: str | None = None
    exclude_recent_seeds: float | None = None
    exclude: tuple[str, ...] = ()
    candidates: tuple[str, ...] | None = None
    segment: str | None = None
    runs: int = 1000
    seed: int = 0
    start: datetime | None = None
    end: datetime | None = None

    def check(self) -> None:
        """Raise :class:`ParameterError` for a bad field."""
        from numbers import Integral, Real

        check_params(
            "plan_campaign",
            {
                "k": [Interval(Integral, 1, 100_000)],
                "epsilon": [Interval(Real, 0, 1, closed="neither")],
                "model": [Options(MODELS)],
                "algorithm": [Options(("imm", "celf"))],
                "probability": [Options(("learned", "global"))],
                "global_p": [Interval(Real, 0, 1)],
                "prior_strength": [Interval(Real, 0, None, closed="neither")],
                "runs": [Interval(Integral, 2, 1_000_000)],
                "seed": [Interval(Integral, 0, None)],
                "exclude_recent_seeds": [Interval(Real, 0, None), None],
            },
            {
                k: getattr(self, k)
                for k in (
                    "k",
                    "epsilon",
                    "model",
                    "algorithm",
                    "probability",
                    "global_p",
                    "prior_strength",
                    "runs",
                    "seed",
                    "exclude_recent_seeds",
                )
            },
        )
        if (self.budget is None) != (self.cost_field is None):
            raise ParameterError(
                "A budget and a cost field go together: give both or neither.",
                parameter="budget",
            )
        if self.budget is not None and not (self.budget.is_finite() and self.budget > 0):
            raise ParameterError(
                f"The 'budget' must be an amount > 0. Got {self.budget} instead.",
                parameter="budget",
            )


def _ids_mask(
    node_ids: np.ndarray, wanted: tuple[str, ...] | list[str], index: dict[str, int]
) -> np.ndarray:
    mask = np.zeros(len(node_ids), dtype=bool)
    idx = [index[u] for u in wanted if u in index]
    mask[idx] = True
    return mask


def _segment_mask(
    store: GraphStore, name: str, node_ids: np.ndarray, index: dict[str, int]
) -> np.ndarray:
    """Members of the saved segment ``name`` in the latest ranking run (issue 18's service)."""
    from api.services.segments import segment_mask

    run = store.latest_run()
    if run is None:
        raise NotFoundError(
            f"The segment {name!r} is evaluated on a ranking run and there is none yet; "
            "rank first.",
            segment=name,
        )
    mask, user_ids = segment_mask(store, name, run)
    members = np.asarray(user_ids.to_numpy(zero_copy_only=False), dtype=object)[mask]
    return _ids_mask(node_ids, members.tolist(), index)


def _spread(est: Any) -> dict[str, float]:
    return {"mean": est.mean, "low": est.low, "high": est.high, "sd": est.sd, "runs": est.runs}


def plan_campaign(
    store: GraphStore,
    request: PlanRequest,
    *,
    progress: Progress | None = None,
    now: datetime | None = None,
    plan_id: str | None = None,
) -> dict[str, Any]:
    """Choose the seeds, simulate them and the baselines, save and return the plan.

    Returns
    -------
    dict
        ``plan_id``, ``created_at``, ``params``, ``algorithm``, ``model``, ``seeds``
        (ordered: ``user_id``, ``marginal_gain``, ``cost``), ``expected_spread``
        (mean, 95 % interval, sd, runs from independent simulations), ``baselines``
        (the same simulations for top K by KOC score, top K by degree, random K),
        ``details`` (algorithm facts, probability prior, candidates, counts).

    Raises
    ------
    ParameterError
        For a bad request.
    """
    request.check()
    say = progress or (lambda step: None)
    created = now or datetime.now(UTC)
    say("reading interactions")
    inter = read_interactions(store, request.start, request.end)
    n = len(inter.node_ids)
    index = {u: i for i, u in enumerate(inter.node_ids.tolist())}
    say("learning probabilities")
    if request.probability == "learned":
        probs = learn_probabilities(
            n,
            inter.src,
            inter.dst,
            content=inter.content,
            shares=inter.shares,
            prior_strength=request.prior_strength,
        )
    else:
        probs = global_probabilities(n, inter.src, inter.dst, p=request.global_p)
    model_probs = probs.lt_weights() if request.model == "lt" else probs
    allowed = np.ones(n, dtype=bool)
    if request.candidates is not None:
        allowed = _ids_mask(inter.node_ids, request.candidates, index)
    if request.segment is not None:
        allowed &= _segment_mask(store, request.segment, inter.node_ids, index)
    excluded = list(request.exclude)
    if request.exclude_recent_seeds is not None:
        since = created - timedelta(days=float(request.exclude_recent_seeds))
        excluded += _tables.recent_seeds(store, since)
    allowed &= ~_ids_mask(inter.node_ids, excluded, index)
    costs = budget = None
    if request.budget is not None:
        costs = seed_costs_units(store, inter.node_ids, str(request.cost_field))
        budget = float(int(request.budget * Decimal(10) ** AMOUNT_SCALE))
    say("choosing seeds")
    kwargs: dict[str, Any] = {
        "candidates": allowed,
        "costs": costs,
        "budget": budget,
        "model": request.model,
        "seed": request.seed,
    }
    if request.algorithm == "imm":
        plan = imm(model_probs, request.k, epsilon=request.epsilon, **kwargs)
    else:
        plan = celf(model_probs, request.k, worlds=request.runs, **kwargs)
    k = len(plan.seeds)
    say("simulating")

    def sim(seeds: np.ndarray) -> dict[str, float]:
        return _spread(
            simulate_spread(
                model_probs, seeds, model=request.model, runs=request.runs, seed=request.seed + 1
            )
        )

    baselines: dict[str, Any] = {}
    scored = koc_scores(store, inter.node_ids)
    if scored is not None:
        top = top_k_by(scored[0], k, allowed=allowed)
        baselines["top_koc_score"] = {
            "run_id": scored[1],
            **sim(top),
            "seeds": inter.node_ids[top].tolist(),
        }
    deg = top_k_by(probs.out_degree().astype(float), k, allowed=allowed)
    baselines["top_degree"] = {**sim(deg), "seeds": inter.node_ids[deg].tolist()}
    rnd = random_k(allowed, k, seed=request.seed)
    baselines["random"] = {**sim(rnd), "seeds": inter.node_ids[rnd].tolist()}
    scale = Decimal(10) ** -AMOUNT_SCALE
    seeds = [
        {
            "user_id": str(inter.node_ids[v]),
            "marginal_gain": float(g),
            "cost": None if costs is None else Decimal(int(costs[v])) * scale,
        }
        for v, g in zip(plan.seeds, plan.gains, strict=True)
    ]
    params = {
        k_: (str(v) if isinstance(v, Decimal | datetime) else v)
        for k_, v in asdict(request).items()
    }
    params["exclude"] = list(request.exclude)
    params["candidates"] = None if request.candidates is None else len(request.candidates)
    result = {
        "plan_id": plan_id or uuid.uuid4().hex[:12],
        "created_at": created,
        "params": params,
        "algorithm": plan.algorithm,
        "model": plan.model,
        "seeds": seeds,
        "expected_spread": sim(plan.seeds),
        "estimated_spread": plan.spread,
        "baselines": baselines,
        "details": {
            **{k_: v for k_, v in plan.details.items()},
            "probability_prior": probs.prior,
            "ties": probs.n_edges,
            "users": n,
            "candidates": int(allowed.sum()),
            "total_cost": None if costs is None else str(Decimal(int(plan.cost)) * scale),
            "counts": inter.counts,
        },
    }
    say("saving")
    _tables.ensure_schema(store)
    _tables.save_plan(store, result)
    return result
