"""Services: the operations the CLI and the HTTP API share (they only format results).

:mod:`api.services.ranking`
    ``run_ranking``, ``leaderboard``, ``user_profile``, ``rank_changes``.
:mod:`api.services.evaluation`
    ``evaluate`` (precision@k / NDCG@k / backtest against ground truth) and ``calibrate``.
"""
