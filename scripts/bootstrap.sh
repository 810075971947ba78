#!/usr/bin/env bash
# Install KOC Graph and its locked dependencies into ./.venv (idempotent).
# Used by scripts/demo.sh and scripts/test.sh; needs only python3 (>= 3.11) with pip.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v uv >/dev/null 2>&1; then
  echo "==> installing uv (the locked installer) with pip"
  python3 -m pip install --quiet --disable-pip-version-check "uv==0.13.9"
fi
UV="$(command -v uv || echo "$(python3 -m site --user-base)/bin/uv")"
echo "==> installing locked dependencies into .venv"
"$UV" sync --locked --quiet "$@"
