#!/usr/bin/env bash
# Fresh machine -> demo data -> ingest -> rank -> leaderboard and reports, on the embedded store.
# Outputs: demo/ (generated data), data/demo.duckdb (store), reports/ (leaderboard and reports).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/koc --db data/demo.duckdb demo --users "${KOC_DEMO_USERS:-20000}" --out demo --reports reports "$@"
