#!/usr/bin/env bash
# Fresh machine -> every dependency installed -> the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh --group dev --extra spark
for setup in scripts/test-setup.d/*.sh; do
  [ -e "$setup" ] || continue
  echo "==> $setup"
  bash "$setup"
done
echo "==> ruff (lint) and mypy (types)"
.venv/bin/ruff check graph influence referral api tests benchmarks
.venv/bin/mypy
echo "==> Neo4j server for the live tests"
# shellcheck source=scripts/neo4j-test-server.sh
source scripts/neo4j-test-server.sh
koc_test_neo4j_start
echo "==> pytest"
export KOC_REQUIRE_SPARK=1   # the Spark tests fail, not skip, without pyspark or Java
.venv/bin/python -m pytest "$@"   # not exec: the EXIT trap stops the test server
