"""Influence metrics: pure functions on a :class:`graph.snapshot.GraphSnapshot`.

PageRank (Page et al. 1999), multi-hop reach (exact BFS and HyperANF, Boldi,
Rosa, Vigna 2011), forward cascades and Leiden communities (Traag et al. 2019).
No I/O happens here: callers build a snapshot and pass arrays in.
"""

from influence.cascades import CascadeStats, cascade_stats
from influence.communities import leiden_communities, top_spreaders, undirected_ties
from influence.pagerank import PageRankResult, node_vector, pagerank
from influence.reach import REACH_TYPES, reach_exact, reach_hyperanf

__all__ = [
    "CascadeStats",
    "cascade_stats",
    "leiden_communities",
    "top_spreaders",
    "undirected_ties",
    "PageRankResult",
    "node_vector",
    "pagerank",
    "REACH_TYPES",
    "reach_exact",
    "reach_hyperanf",
]
