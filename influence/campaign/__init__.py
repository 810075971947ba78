"""Campaign planning: which K customers to give samples so the most people are reached.

Pure functions on arrays of a snapshot (no I/O):

* :mod:`~influence.campaign.probabilities`: per-tie activation probabilities learned
  from history (Goyal, Bonchi, Lakshmanan 2010, smoothed toward a global prior), a
  single global probability (the Neo4j GDS mode), linear-threshold weights;
* :mod:`~influence.campaign.rr_sets`: reverse-reachable sets, compiled (numba);
* :mod:`~influence.campaign.selection`: greedy max coverage, lazy, with costs/budget;
* :mod:`~influence.campaign.imm`: IMM (Tang, Shi, Xiao 2015), ``1 - 1/e - epsilon``;
* :mod:`~influence.campaign.celf`: CELF (Leskovec et al. 2007) on Monte-Carlo spread;
* :mod:`~influence.campaign.simulate`: IC / LT cascades (Kempe, Kleinberg, Tardos
  2003) with confidence intervals, and fixed live-edge worlds;
* :mod:`~influence.campaign.baselines`: top K by a score or degree, random K;
* :mod:`~influence.campaign.review`: who a campaign's seeds actually reached.
"""

from influence.campaign.baselines import random_k, top_k_by
from influence.campaign.celf import celf
from influence.campaign.imm import imm, imm_theta
from influence.campaign.plan import SeedPlan, candidate_mask, seed_costs
from influence.campaign.probabilities import (
    EdgeProbabilities,
    global_probabilities,
    learn_probabilities,
)
from influence.campaign.review import NOT_REACHED, reach_times
from influence.campaign.rr_sets import MODELS, RRSets, coverage, sample_rr_sets
from influence.campaign.selection import Selection, select_seeds
from influence.campaign.simulate import LiveEdgeWorlds, SpreadEstimate, simulate_spread

__all__ = [
    "MODELS",
    "NOT_REACHED",
    "EdgeProbabilities",
    "LiveEdgeWorlds",
    "RRSets",
    "SeedPlan",
    "Selection",
    "SpreadEstimate",
    "candidate_mask",
    "celf",
    "coverage",
    "global_probabilities",
    "imm",
    "imm_theta",
    "learn_probabilities",
    "random_k",
    "reach_times",
    "sample_rr_sets",
    "seed_costs",
    "select_seeds",
    "simulate_spread",
    "top_k_by",
]
