"""Influence metrics and the KOC score: pure functions on a :class:`graph.snapshot.GraphSnapshot`.

No I/O happens here: callers build a snapshot (and read events) and pass arrays in;
every result is ordered like ``snapshot.node_ids``. Public names of every module are
re-exported here, so ``from influence import pagerank, reach_hyperanf`` works:

* graph metrics: :func:`pagerank` (Page et al. 1999), :func:`reach_exact` and
  :func:`reach_hyperanf` (HyperANF, Boldi, Rosa, Vigna 2011), :func:`cascade_stats`,
  :func:`plm_communities` (Staudt, Meyerhenke 2016), :func:`leiden_communities`
  (Traag et al. 2019), :func:`stable_labels` (ids across runs), :func:`ego_network`;
* conversion: :func:`attribute_orders` (share-to-buy and referral attribution),
  :func:`engagement_signals`, :func:`conversion_evidence`; spend: :func:`rfm_value`;
* the KOC score: its definition (:mod:`influence.koc_score`: which components, how
  metrics become them), percentile ranks and weights (:func:`koc_score`), the scoring
  configuration (:class:`ScoreConfig`), weight calibration (:class:`WeightCalibrator`)
  and evaluation against ground truth (:func:`evaluate_methods`);
* role classification and measures: the subpackage :mod:`influence.roles`;
* campaign planning (IMM, CELF, learned activation probabilities, cascade
  simulation): the subpackage :mod:`influence.campaign` (compiled with numba).

:func:`ego_network` (networkx), :class:`WeightCalibrator` (scikit-learn), the
communities (igraph) and the evaluation (scipy.stats) are imported on first use, so
importing this package stays light.
"""

from typing import Any

from influence.cascades import CascadeStats, cascade_stats
from influence.community_labels import stable_labels
from influence.config import (
    COMPONENTS,
    ENGAGEMENT_SIGNALS,
    ScoreConfig,
    as_score_config,
    config_to_toml,
    default_score_config,
    load_score_config,
)
from influence.engagement import (
    RULE_NONE,
    RULE_REFERRAL,
    RULE_TOKEN,
    RULE_VIEW,
    Attribution,
    attribute_orders,
    conversion_totals,
    engagement_signals,
    last_at_or_before,
    resolve_referral_codes,
    resolve_tokens,
)
from influence.evidence import (
    EVIDENCE_RULES,
    EvidenceSection,
    collusive_orders,
    conversion_evidence,
    finish_evidence,
    new_purchases,
    tied_orders,
)
from influence.koc_score import (
    active_components,
    component_details,
    component_values,
    engagement_value,
    score_components,
    staff_by_channel,
)
from influence.pagerank import PageRankResult, node_vector, pagerank
from influence.reach import REACH_TYPES, gather_rows, hll_estimate, reach_exact, reach_hyperanf
from influence.score import ScoreResult, koc_score, percentile_rank, rank_order, score_tables
from influence.spend import RFM, rfm_from_spend, rfm_value

__all__ = [
    # cascades, communities (lazy: igraph)
    "CascadeStats",
    "cascade_stats",
    "leiden_communities",
    "plm_communities",
    "split_disconnected",
    "stable_labels",
    "strongest_ties",
    "top_spreaders",
    "undirected_ties",
    # configuration
    "COMPONENTS",
    "ENGAGEMENT_SIGNALS",
    "ScoreConfig",
    "as_score_config",
    "config_to_toml",
    "default_score_config",
    "load_score_config",
    # ego networks (lazy: networkx)
    "ego_network",
    # attribution and engagement
    "RULE_NONE",
    "RULE_REFERRAL",
    "RULE_TOKEN",
    "RULE_VIEW",
    "Attribution",
    "attribute_orders",
    "conversion_totals",
    "engagement_signals",
    "last_at_or_before",
    "resolve_referral_codes",
    "resolve_tokens",
    # evaluation and calibration (lazy: scipy.stats, scikit-learn)
    "BASELINES",
    "MethodReport",
    "baseline_scores",
    "capture_at_k",
    "evaluate_methods",
    "flagged_at_k",
    "holdout_metrics",
    "later_buyers",
    "mean_and_sd",
    "ndcg_at_k",
    "precision_at_k",
    "ranking_order",
    "spearman",
    "WeightCalibrator",
    # conversion evidence
    "EVIDENCE_RULES",
    "EvidenceSection",
    "collusive_orders",
    "conversion_evidence",
    "finish_evidence",
    "new_purchases",
    "tied_orders",
    # the KOC score
    "active_components",
    "component_details",
    "component_values",
    "engagement_value",
    "score_components",
    "staff_by_channel",
    "ScoreResult",
    "koc_score",
    "percentile_rank",
    "rank_order",
    "score_tables",
    # pagerank, reach
    "PageRankResult",
    "node_vector",
    "pagerank",
    "REACH_TYPES",
    "gather_rows",
    "hll_estimate",
    "reach_exact",
    "reach_hyperanf",
    # spend
    "RFM",
    "rfm_from_spend",
    "rfm_value",
]

#: names whose modules load a heavy library, imported on first use (networkx,
#: scikit-learn, igraph, scipy.stats: seconds of start-up a server does not need)
_LAZY = {
    "ego_network": "influence.ego",
    "WeightCalibrator": "influence.calibration",
    **dict.fromkeys(
        (
            "leiden_communities",
            "plm_communities",
            "split_disconnected",
            "strongest_ties",
            "top_spreaders",
            "undirected_ties",
        ),
        "influence.communities",
    ),
    **dict.fromkeys(
        (
            "BASELINES",
            "MethodReport",
            "baseline_scores",
            "capture_at_k",
            "evaluate_methods",
            "flagged_at_k",
            "holdout_metrics",
            "later_buyers",
            "mean_and_sd",
            "ndcg_at_k",
            "precision_at_k",
            "ranking_order",
            "spearman",
        ),
        "influence.evaluation",
    ),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
