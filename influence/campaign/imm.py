"""IMM: influence maximization with a ``(1 - 1/e - epsilon)`` guarantee (Tang, Shi, Xiao 2015).

With ``n`` users, ``k`` seeds, ``epsilon`` and ``ell`` (failure probability
``n ** -ell``; ``ell`` is first raised to ``ell * (1 + log 2 / log n)`` so the two
phases together keep it), IMM runs in two phases on reverse-reachable sets
(:mod:`influence.campaign.rr_sets`):

1. **Sampling** (Algorithm 2): with ``eps' = sqrt(2) * epsilon`` and
   ``lambda' = (2 + 2 eps' / 3) (log C(n, k) + ell log n + log log2 n) n / eps'^2``,
   for ``i = 1 .. log2(n) - 1`` take ``x = n / 2^i`` and ``theta_i = lambda' / x``
   sets; select ``k`` seeds greedily; once ``n F(S_i) >= (1 + eps') x`` the lower bound
   of the optimum is ``LB = n F(S_i) / (1 + eps')`` (``LB = 1`` when no ``i`` passes).
2. **Node selection** (Algorithm 1): ``theta = lambda* / LB`` sets with
   ``lambda* = 2 n ((1 - 1/e) alpha + beta)^2 / epsilon^2``,
   ``alpha = sqrt(ell log n + log 2)``,
   ``beta = sqrt((1 - 1/e) (log C(n, k) + ell log n + log 2))``; greedy max coverage of
   those sets gives the seeds, ``(1 - 1/e - epsilon)``-optimal with probability at
   least ``1 - n ** -ell``.

The final selection runs on ``theta`` *fresh* sets, independent of the sampling
phase's: Chen (2018) showed that reusing them breaks the martingale argument of the
proof; fresh sets restore it at the price of sampling again.

Candidates (a segment, users left out) restrict who may be a seed; every user can
still be influenced, so ``n`` stays the number of users. With costs and a budget,
``k`` in the formulas is the most seeds the budget affords and the selection is the
CEF rule of :mod:`influence.campaign.selection`, guaranteeing ``(1 - 1/e) / 2`` of the
best coverage on the sets rather than ``1 - 1/e - epsilon`` of the optimum spread.

References
----------
Tang, Y., Shi, Y., Xiao, X. (2015). Influence maximization in near-linear time: a
martingale approach. SIGMOD, 1539-1554.
Chen, W. (2018). An issue in the martingale analysis of the influence maximization
algorithm IMM. CSoNet, 286-297.
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np

from graph.params import Interval, Options, validate_params
from influence.campaign.plan import SeedPlan, candidate_mask, seed_costs
from influence.campaign.probabilities import EdgeProbabilities
from influence.campaign.rr_sets import MODELS, RRSets
from influence.campaign.selection import select_seeds

__all__ = ["imm", "imm_theta"]


def _log_comb(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def imm_theta(n: int, k: int, epsilon: float, ell: float, lower_bound: float) -> int:
    """``theta = lambda* / LB``: RR sets of IMM's node selection (module docstring)."""
    e1 = 1.0 - 1.0 / math.e
    log_c = _log_comb(n, k)
    alpha = math.sqrt(ell * math.log(n) + math.log(2))
    beta = math.sqrt(e1 * (log_c + ell * math.log(n) + math.log(2)))
    lam_star = 2.0 * n * (e1 * alpha + beta) ** 2 / epsilon**2
    return int(math.ceil(lam_star / lower_bound))


@validate_params(
    {
        "k": [Interval(Integral, 1, None)],
        "epsilon": [Interval(Real, 0, 1, closed="neither")],
        "ell": [Interval(Real, 0, None, closed="neither")],
        "model": [Options(MODELS)],
        "seed": [Interval(Integral, 0, None)],
        "threads": [Interval(Integral, 1, 2)],
    }
)
def imm(
    probs: EdgeProbabilities,
    k: int,
    *,
    epsilon: float = 0.2,
    ell: float = 1.0,
    model: str = "ic",
    candidates: np.ndarray | None = None,
    exclude: np.ndarray | None = None,
    costs: np.ndarray | None = None,
    budget: float | None = None,
    seed: int = 0,
    threads: int = 2,
) -> SeedPlan:
    """Choose up to ``k`` seeds maximising expected spread with IMM (module docstring).

    Parameters
    ----------
    probs : EdgeProbabilities
        IC probabilities; for ``model="lt"`` the LT weights
        (:meth:`EdgeProbabilities.lt_weights`).
    k : int
        Seeds to choose (with a budget: the most seeds).
    epsilon : float
        Approximation slack in (0, 1): the seeds are ``(1 - 1/e - epsilon)``-optimal.
    ell : float
        The guarantee holds with probability at least ``1 - n ** -ell``.
    model : {"ic", "lt"}
        The diffusion model.
    candidates : numpy.ndarray of bool or int, optional
        Who may be a seed (mask or node indices); everyone when None.
    exclude : numpy.ndarray of bool or int, optional
        Who must never be a seed.
    costs : numpy.ndarray of float, optional
        Cost of each node as a seed (NaN: unknown, never chosen); with ``budget``.
    budget : float, optional
        Largest total cost of the seeds.
    seed : int
        Random seed; the same seed gives the same plan.
    threads : int
        Threads sampling RR sets (1 or 2).

    Returns
    -------
    SeedPlan
        ``details`` holds ``epsilon``, ``ell``, ``theta``, ``lower_bound``,
        ``sampled`` (RR sets drawn in both phases) and ``guarantee``.

    Raises
    ------
    ParameterError
        For a bad parameter, candidate mask or cost.
    """
    n = probs.n_nodes
    allowed = candidate_mask(n, candidates, exclude)
    c = seed_costs(n, allowed, costs, budget)
    n_allowed = int(allowed.sum())
    k_eff = min(int(k), n_allowed)
    if c is not None:
        finite = c[allowed]
        k_eff = min(k_eff, int(budget // finite.min()) if finite.size else 0)  # type: ignore[operator]
    if n < 2 or k_eff == 0:
        return SeedPlan(
            np.zeros(0, dtype=np.int64),
            np.zeros(0),
            0.0,
            "imm",
            model,
            0.0,
            {"epsilon": epsilon, "theta": 0, "lower_bound": 0.0, "sampled": 0},
        )
    ell = ell * (1.0 + math.log(2) / math.log(n))
    eps1 = math.sqrt(2.0) * epsilon
    log_c = _log_comb(n, k_eff)
    lam1 = (2 + 2 * eps1 / 3) * (log_c + ell * math.log(n) + math.log(math.log2(n))) * n / eps1**2
    seq = np.random.SeedSequence(seed)
    phase1, phase2 = (int(s.generate_state(1)[0]) for s in seq.spawn(2))
    sets = RRSets(probs, model=model, seed=phase1, threads=threads)
    lower = 1.0
    for i in range(1, max(2, int(math.log2(n)))):
        x = n / 2.0**i
        sets.extend_to(int(math.ceil(lam1 / x)))
        indptr, nodes = sets.arrays()
        sel = select_seeds(indptr, nodes, n, k_eff, allowed=allowed, costs=c, budget=budget)
        est = n * sel.total_covered / len(sets)
        if est >= (1 + eps1) * x:
            lower = est / (1 + eps1)
            break
    theta = imm_theta(n, k_eff, epsilon, ell, lower)
    sampled = len(sets)
    del sets, indptr, nodes
    final = RRSets(probs, model=model, seed=phase2, threads=threads)
    final.extend_to(theta)
    indptr, nodes = final.arrays()
    sel = select_seeds(indptr, nodes, n, int(k), allowed=allowed, costs=c, budget=budget)
    gains = sel.covered.astype(np.float64) * n / theta
    cost = float(c[sel.seeds].sum()) if c is not None else float(sel.seeds.size)
    details: dict[str, object] = {
        "epsilon": float(epsilon),
        "ell": float(ell),
        "theta": int(theta),
        "lower_bound": float(lower),
        "sampled": int(sampled + theta),
        "guarantee": (0.5 * (1 - 1 / math.e)) if c is not None else (1 - 1 / math.e - epsilon),
    }
    if c is not None:
        details["rule"] = sel.rule
    return SeedPlan(
        sel.seeds.astype(np.int64), gains, float(gains.sum()), "imm", model, cost, details
    )
