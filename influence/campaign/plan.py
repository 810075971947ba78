"""What a seed-selection algorithm returns, and the candidate and cost checks they share."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from graph.errors import ParameterError

__all__ = ["SeedPlan", "candidate_mask", "seed_costs"]


@dataclass(frozen=True, eq=False)
class SeedPlan:
    """Seeds in the order chosen, with each one's estimated marginal gain.

    Attributes
    ----------
    seeds : numpy.ndarray of int64
        Node indices, in selection order.
    gains : numpy.ndarray of float64
        Estimated marginal spread of each seed given the ones before it; they sum
        to :attr:`spread`.
    spread : float
        The algorithm's own estimate of the seeds' expected spread (seeds included).
    algorithm : str
        ``"imm"`` or ``"celf"``.
    model : str
        ``"ic"`` or ``"lt"``.
    cost : float
        Total cost of the seeds (their number without costs).
    details : dict
        Algorithm facts: for IMM ``epsilon``, ``ell``, ``theta`` (RR sets used),
        ``lower_bound``, ``guarantee``; for CELF ``worlds``, ``evaluations``;
        ``rule`` for budgeted selections.
    """

    seeds: np.ndarray
    gains: np.ndarray
    spread: float
    algorithm: str
    model: str
    cost: float
    details: dict[str, object] = field(default_factory=dict)


def candidate_mask(
    n_nodes: int, candidates: np.ndarray | None, exclude: np.ndarray | None
) -> np.ndarray:
    """Boolean mask of the nodes that may be seeds.

    Parameters
    ----------
    n_nodes : int
        Number of nodes.
    candidates : numpy.ndarray of bool or int, optional
        A mask of length ``n_nodes`` or node indices; every node when None.
    exclude : numpy.ndarray of int or bool, optional
        Nodes that must never be seeds (indices or mask).
    """

    def as_mask(value: np.ndarray, name: str) -> np.ndarray:
        arr = np.asarray(value)
        if arr.dtype == bool:
            if arr.shape != (n_nodes,):
                raise ParameterError(
                    f"The {name!r} mask must have one entry per node ({n_nodes}). "
                    f"Got shape {arr.shape} instead.",
                    parameter=name,
                )
            return arr.copy()
        idx = arr.astype(np.int64).ravel()
        if idx.size and (idx.min() < 0 or idx.max() >= n_nodes):
            raise ParameterError(
                f"The {name!r} node indices must lie in [0, {n_nodes}).", parameter=name
            )
        mask = np.zeros(n_nodes, dtype=bool)
        mask[idx] = True
        return mask

    ok = np.ones(n_nodes, dtype=bool) if candidates is None else as_mask(candidates, "candidates")
    if exclude is not None:
        ok &= ~as_mask(exclude, "exclude")
    return ok


def seed_costs(
    n_nodes: int, allowed: np.ndarray, costs: np.ndarray | None, budget: float | None
) -> np.ndarray | None:
    """Check costs and budget; return float costs (None for the unit-cost problem).

    Candidates need a finite cost > 0; a candidate with a NaN cost (unknown) is
    left out by clearing it in ``allowed``.
    """
    if budget is None:
        if costs is not None:
            raise ParameterError(
                "Seed costs need a budget: pass 'budget' with 'costs'.", parameter="budget"
            )
        return None
    if costs is None:
        raise ParameterError("A budget needs one cost per node: pass 'costs'.", parameter="costs")
    c = np.asarray(costs, dtype=np.float64)
    if c.shape != (n_nodes,):
        raise ParameterError(
            f"'costs' must hold one cost per node ({n_nodes}). Got shape {c.shape}.",
            parameter="costs",
        )
    if not np.isfinite(budget) or budget <= 0:
        raise ParameterError(
            f"The 'budget' must be a finite number > 0. Got {budget!r} instead.",
            parameter="budget",
        )
    allowed &= ~np.isnan(c)
    bad = allowed & ~(np.isfinite(c) & (c > 0))
    if bad.any():
        raise ParameterError(
            f"Seed costs must be finite and > 0; {int(bad.sum())} candidates are not "
            f"(first node {int(np.flatnonzero(bad)[0])}).",
            parameter="costs",
        )
    return np.where(allowed, c, np.inf)
