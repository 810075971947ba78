"""Application services: the operations the CLI and the HTTP API share.

Both interfaces (:mod:`api.cli`, :mod:`api.http`) call these and only format their
results; nothing here imports either interface. Services read and write the store
and call the pure functions of :mod:`influence` and :mod:`referral`.

Ranking: :mod:`~api.services.ranking` (``run_ranking``, ``compute_ranking``),
:mod:`~api.services.signals` (the window's conversion signals),
:mod:`~api.services.leaderboard` (``leaderboard``, ``user_profile``, ``rank_changes``),
:mod:`~api.services.runs` (background runs, one at a time),
:mod:`~api.services.evaluation` (``evaluate``, ``calibrate``).
Users: :mod:`~api.services.profiles` (profiles and referral trees),
:mod:`~api.services.facts` (the in-memory profile index),
:mod:`~api.services.reach` (exact reach with a time budget), :mod:`~api.services.roles`.
Commissions: :mod:`~api.services.ledger_views` (ledger pages and statements).
Keys: :mod:`~api.services.keys` (API keys, stored hashed).
Plumbing: :mod:`~api.services.cache` (finished runs in memory, leaderboard pages),
:mod:`~api.services.pagination` (opaque keyset cursors),
:mod:`~api.services.store_view` (a private DuckDB cursor per request).
Notebooks: :mod:`~api.services.notebook`.
"""
