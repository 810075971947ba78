#!/usr/bin/env bash
# Install the pinned Cypher linter (tools/cypher-lint, @neo4j-cypher/language-support)
# into tools/cypher-lint/node_modules for tests/graph/test_cypher_lint.py.
# Needs Node 20+ with npm; without node the lint test skips and says why.
set -euo pipefail
cd "$(dirname "$0")/../../tools/cypher-lint"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "node/npm not found: skipping the Cypher linter install (tests/graph/test_cypher_lint.py will skip)"
  exit 0
fi
if [ -f node_modules/.package-lock.json ] && cmp -s package-lock.json node_modules/.koc-lock 2>/dev/null; then
  echo "cypher linter already installed"
  exit 0
fi
npm ci --no-audit --no-fund --loglevel=error
cp package-lock.json node_modules/.koc-lock
