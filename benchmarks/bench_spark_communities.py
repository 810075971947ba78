"""Spark label propagation against the single-node communities, on one store's graph.

Run by hand (not part of the test suite)::

    .venv/bin/python benchmarks/bench_spark_communities.py --db D.duckdb [--truth DIR]

Both partitions are computed from the same snapshot (default score config, open
window): the single-node one as ``koc rank`` does (the configured method,
:func:`api.services.ranking._communities`: PLM + refinement or Leiden on the
strongest-ties backbone), and the Spark engine's weighted label propagation
(:func:`influence.spark.label_propagation`, Raghavan, Albert, Kumara 2007) on the
snapshot's summed influence pairs in ``local[N]``, and the Spark engine's default:
the strongest-ties backbone selected on Spark and clustered in the driver
(:func:`api.services.spark_components._backbone_communities`). Reported for each: communities,
singletons, the largest community's share, the whole-graph modularity (Newman-Girvan,
igraph ``Graph.modularity`` on the undirected tie weights, as in
``bench_communities.py``), wall time; between the two, normalised mutual information
and adjusted Rand index (scikit-learn); with ``--truth`` (a ``koc synth`` output
folder), NMI / ARI of each against the planted communities. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.services.ranking import _communities, ranking_snapshot  # noqa: E402
from graph.duckdb_store import DuckDBStore  # noqa: E402
from influence.communities import strongest_ties, ties_communities, undirected_ties  # noqa: E402
from influence.config import default_score_config  # noqa: E402


def _describe(labels: np.ndarray, graph: Any, weights: list[float]) -> dict[str, Any]:
    sizes = np.bincount(labels)
    return {
        "communities": int((sizes > 0).sum()),
        "singletons": int((sizes == 1).sum()),
        "largest_share": round(float(sizes.max() / labels.size), 4),
        "modularity": round(float(graph.modularity(labels.tolist(), weights)), 4),
    }


def _agreement(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    return {
        "nmi": round(float(normalized_mutual_info_score(a, b)), 4),
        "ari": round(float(adjusted_rand_score(a, b)), 4),
    }


def _spark_labels(snapshot: Any, master: str) -> dict[str, tuple[np.ndarray, float]]:
    import pyarrow as pa

    from api.services.spark_components import _backbone_communities, spark_session
    from influence.spark import label_propagation

    coo = snapshot.influence_csr.tocoo()
    keep = coo.row != coo.col
    pairs_table = pa.table(
        {
            "src": pa.array(coo.row[keep], pa.int32()),
            "dst": pa.array(coo.col[keep], pa.int32()),
            "w": pa.array(coo.data[keep], pa.float64()),
        }
    )
    spark = spark_session(master, app_name="koc-bench-communities")
    found = {}
    try:
        pairs = spark.createDataFrame(pairs_table.to_pandas()).localCheckpoint()
        t0 = time.perf_counter()
        backbone = _backbone_communities(pairs, snapshot.n_nodes, default_score_config())
        found["spark_backbone"] = (backbone.astype(np.int64), time.perf_counter() - t0)
        t0 = time.perf_counter()
        nodes = spark.range(snapshot.n_nodes).withColumnRenamed("id", "idx")
        out = label_propagation(pairs, nodes).toPandas()
        seconds = time.perf_counter() - t0
    finally:
        spark.stop()
    labels = np.full(snapshot.n_nodes, -1, dtype=np.int64)
    labels[out["idx"].to_numpy()] = out["community"].to_numpy()
    if (labels < 0).any():
        raise SystemExit("label propagation left nodes without a label")
    found["spark_label_propagation"] = (labels, seconds)
    return found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path, required=True, help="embedded store (read-only)")
    ap.add_argument("--truth", type=Path, help="koc synth output folder (planted communities)")
    ap.add_argument("--master", default="local[2]", help="Spark master (default local[2])")
    args = ap.parse_args()

    import igraph as ig

    cfg = default_score_config()
    with DuckDBStore(args.db, read_only=True) as store:
        snapshot = ranking_snapshot(store, cfg)
    ties = undirected_ties(snapshot).tocoo()
    graph = ig.Graph(n=snapshot.n_nodes, edges=np.column_stack([ties.row, ties.col]).tolist())
    tie_weights = ties.data.tolist()

    t0 = time.perf_counter()
    single = _communities(snapshot, cfg)
    single_s = time.perf_counter() - t0
    assert single is not None, "communities are disabled in the default config"
    found = _spark_labels(snapshot, args.master)
    t0 = time.perf_counter()
    sec = cfg.communities
    kept = strongest_ties(undirected_ties(snapshot), sec.backbone_ties, seed=sec.seed)
    single_backbone = ties_communities(
        kept, method=sec.method, resolution=sec.resolution, seed=sec.seed
    )
    found["single_node_backbone"] = (single_backbone.astype(np.int64), time.perf_counter() - t0)

    report: dict[str, Any] = {
        "users": snapshot.n_nodes,
        "ties": int(ties.nnz),
        "single_node": {
            "method": cfg.communities.method,
            **_describe(single, graph, tie_weights),
            "seconds": round(single_s, 2),
        },
    }
    for name, (labels, seconds) in found.items():
        report[name] = {**_describe(labels, graph, tie_weights), "seconds": round(seconds, 2)}
        report[f"single_vs_{name}"] = _agreement(single, labels)
    if args.truth is not None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        from graph.arrays import node_index

        truth = pq.read_table(
            args.truth / "ground_truth_users.parquet", columns=["user_id", "community"]
        )
        rows = node_index(pa.array(snapshot.node_ids, pa.string()), truth.column("user_id"))
        ok = rows >= 0
        planted = truth.column("community").to_numpy()[ok]
        report["planted_users"] = int(ok.sum())
        report["single_vs_planted"] = _agreement(single[rows[ok]], planted)
        for name, (labels, _) in found.items():
            report[f"{name}_vs_planted"] = _agreement(labels[rows[ok]], planted)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
