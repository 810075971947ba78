"""CELF: lazy greedy seed selection on Monte-Carlo spread, the reference on small graphs.

The greedy algorithm of Kempe, Kleinberg, Tardos (2003) adds, ``k`` times, the user
with the largest marginal spread; with an exact spread function it is
``(1 - 1/e)``-optimal. CELF (Leskovec et al. 2007) evaluates lazily: marginal gains
only shrink (submodularity), so a candidate whose gain was computed in the current
round and still tops the queue is the maximum, and most candidates are never
re-evaluated. Here the spread is measured on ``worlds`` live-edge graphs sampled once
(:class:`influence.campaign.simulate.LiveEdgeWorlds`): that estimate is itself
monotone and submodular, so the lazy evaluation is exact for it. Each evaluation
costs ``worlds`` graph searches, so CELF suits graphs of up to a few thousand
users; :func:`influence.campaign.imm.imm` scales.

With costs and a budget, CELF's cost-effective rule: run the unit-gain greedy and
the gain-per-cost greedy under the budget and keep the better spread.

References
----------
Kempe, D., Kleinberg, J., Tardos, E. (2003). Maximizing the spread of influence
through a social network. KDD, 137-146.
Leskovec, J., Krause, A., Guestrin, C., Faloutsos, C., VanBriesen, J., Glance, N.
(2007). Cost-effective outbreak detection in networks. KDD, 420-429.
"""

from __future__ import annotations

import heapq
from numbers import Integral

import numpy as np

from graph.params import Interval, Options, validate_params
from influence.campaign.plan import SeedPlan, candidate_mask, seed_costs
from influence.campaign.probabilities import EdgeProbabilities
from influence.campaign.rr_sets import MODELS
from influence.campaign.simulate import LiveEdgeWorlds

__all__ = ["celf"]


def _lazy_greedy(
    worlds: LiveEdgeWorlds,
    allowed: np.ndarray,
    costs: np.ndarray,
    budget: float,
    k: int,
    per_cost: bool,
) -> tuple[list[int], list[float], int]:
    """Lazy greedy on the worlds' spread; returns seeds, gains and evaluations made."""
    chosen: list[int] = []
    gains: list[float] = []
    current = 0.0
    evaluations = 0
    heap: list[tuple[float, int, int, float]] = []
    for cand in np.flatnonzero(allowed & (costs <= budget)):
        g = worlds.spread(np.array([cand]))
        evaluations += 1
        heap.append((-(g / costs[cand] if per_cost else g), int(cand), 0, g))
    heapq.heapify(heap)
    spent = 0.0
    while heap and len(chosen) < k:
        _, v, round_, gain = heapq.heappop(heap)
        if costs[v] > budget - spent + 1e-12:
            continue  # never affordable again: the remaining budget only shrinks
        if round_ == len(chosen):
            # computed this round and still on top: the true maximum
            chosen.append(v)
            gains.append(gain)
            current += gain
            spent += costs[v]
            continue
        gain = worlds.spread(np.array([*chosen, v])) - current
        evaluations += 1
        heapq.heappush(heap, (-(gain / costs[v] if per_cost else gain), v, len(chosen), gain))
    return chosen, gains, evaluations


@validate_params(
    {
        "k": [Interval(Integral, 1, None)],
        "model": [Options(MODELS)],
        "worlds": [Interval(Integral, 1, None)],
        "seed": [Interval(Integral, 0, None)],
    }
)
def celf(
    probs: EdgeProbabilities,
    k: int,
    *,
    model: str = "ic",
    worlds: int = 1000,
    candidates: np.ndarray | None = None,
    exclude: np.ndarray | None = None,
    costs: np.ndarray | None = None,
    budget: float | None = None,
    seed: int = 0,
) -> SeedPlan:
    """Choose up to ``k`` seeds with CELF on Monte-Carlo spread (module docstring).

    Parameters
    ----------
    probs : EdgeProbabilities
        IC probabilities, or LT weights for ``model="lt"``.
    k : int
        Seeds to choose (with a budget: the most seeds).
    model : {"ic", "lt"}
        The diffusion model.
    worlds : int
        Live-edge graphs the spread is averaged over.
    candidates, exclude, costs, budget
        As for :func:`influence.campaign.imm.imm`.
    seed : int
        Random seed of the worlds.

    Returns
    -------
    SeedPlan
        ``details`` holds ``worlds`` and ``evaluations`` (spread computations).
    """
    n = probs.n_nodes
    allowed = candidate_mask(n, candidates, exclude)
    c = seed_costs(n, allowed, costs, budget)
    live = LiveEdgeWorlds(probs, model=model, worlds=int(worlds), seed=int(seed))
    if c is None:
        seeds, gains, evals = _lazy_greedy(live, allowed, np.ones(n), np.inf, int(k), False)
        rule = None
    else:
        b = float(budget)  # type: ignore[arg-type]
        runs = {
            name: _lazy_greedy(live, allowed, c, b, int(k), per_cost)
            for name, per_cost in (("unit-gain", False), ("cost-effective", True))
        }
        rule = max(runs, key=lambda r: (sum(runs[r][1]), r == "cost-effective"))
        seeds, gains, _ = runs[rule]
        evals = sum(r[2] for r in runs.values())
    arr = np.asarray(seeds, dtype=np.int64)
    g = np.asarray(gains, dtype=np.float64)
    details: dict[str, object] = {"worlds": int(worlds), "evaluations": int(evals)}
    if rule is not None:
        details["rule"] = rule
    cost = float(c[arr].sum()) if c is not None else float(arr.size)
    return SeedPlan(arr, g, float(g.sum()), "celf", model, cost, details)
