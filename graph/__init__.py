"""The ground floor: events, stores, ingestion and snapshots; every other package builds on it.

``graph`` imports no other KOC Graph package. What it holds:

* the event model (:mod:`graph.events`: record types, fields, the direction of
  influence every metric relies on) and the one exception hierarchy
  (:mod:`graph.errors`);
* shared conventions, each defined once: money (:mod:`graph.money`), time units and
  id -> node index lookups (:mod:`graph.arrays`), "the first referral binds the
  referee" (:mod:`graph.referrals`), TOML-over-defaults loading
  (:mod:`graph.tomlconfig`), parameter checks (:mod:`graph.params`), transactions
  (:mod:`graph.transaction`) and settings (:mod:`graph.settings`, read only at the
  edges);
* the store contract (:mod:`graph.store`) and its two implementations, the embedded
  DuckDB file (:mod:`graph.duckdb_store`) and Neo4j (:mod:`graph.neo4j_store`, its
  Cypher in :mod:`graph.cypher`), opened by :func:`graph.factory.open_store`, with
  schema migrations (:mod:`graph.migrations`), sync and bulk export;
* ingestion (:mod:`graph.ingest`: read, validate, quarantine, load idempotently),
  role history (:mod:`graph.roles`) and the demo-data generator (:mod:`graph.synth`);
* snapshots (:mod:`graph.snapshot`): the array (CSR) form of the influence graph that
  the metrics in :mod:`influence` run on.
"""
