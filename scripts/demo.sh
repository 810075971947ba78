#!/usr/bin/env bash
# Fresh machine -> demo data -> ingest -> rank -> leaderboard and reports, on the embedded store.
# Outputs: demo/ (generated data), data/koc.duckdb (the default store every koc command reads;
# KOC_DB_PATH or --db for another), reports/ (leaderboard and reports).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/koc demo --users "${KOC_DEMO_USERS:-20000}" --out demo --reports reports "$@"
