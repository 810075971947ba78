"""The ranking's metrics as Apache Spark DataFrame transformations, for graphs past one machine.

Every function here takes DataFrames and returns DataFrames (no reading or writing of
files, no settings); iterative ones (PageRank, HyperANF, label propagation) run one
small Spark job per iteration to test convergence or cut the lineage. They compute
the same values as the single-node functions of :mod:`influence` on the same data
(PageRank within 1e-9 in L1, every other component exactly), which
``tests/api/test_spark_ranking.py`` checks on ``local[2]``.

Column conventions (all ids are node indices, ``int64``; times are UTC epoch
microseconds, ``int64``; money is exact ``int64`` units of ``10**-4``):

``nodes``      ``idx``
``edges``      ``seq, event_id, src, dst, etype, ts`` (``src`` influences ``dst``;
               ``seq`` is the store's read order, the tie-break of equal times;
               ``event_id`` breaks ties between referrals)
``shares``     ``seq, src, content_id, ts``
``orders``     ``seq, order_id, buyer, units, ts, attribution_token, store_id``
``refunds``    ``order_id, units``

Needs the ``spark`` extra (``pyspark``); importing this package without it raises
:class:`ImportError`.
"""

from __future__ import annotations

from influence.spark.communities import label_propagation, strongest_ties_backbone
from influence.spark.engagement import (
    attribute_orders,
    conversion_totals,
    engagement_signals,
    first_referrals,
    net_order_units,
)
from influence.spark.evidence import EVIDENCE_SUMS, evidence_sums
from influence.spark.graph import influence_pairs, weighted_edges
from influence.spark.pagerank import SparkPageRank, pagerank
from influence.spark.reach import reach_hyperanf
from influence.spark.spend import rfm_inputs

__all__ = [
    "weighted_edges",
    "influence_pairs",
    "pagerank",
    "SparkPageRank",
    "reach_hyperanf",
    "engagement_signals",
    "attribute_orders",
    "conversion_totals",
    "evidence_sums",
    "EVIDENCE_SUMS",
    "first_referrals",
    "net_order_units",
    "rfm_inputs",
    "label_propagation",
    "strongest_ties_backbone",
]
