#!/usr/bin/env bash
# Headless Chromium for the API's browser test (tests/api/test_page_browser.py, marked `browser`).
# Installs Debian's `chromium` package when missing; without root it explains and skips.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  echo "chromium present: $(command -v chromium)"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "chromium is missing and this is not root: skipping its install;" \
       "the browser test will be skipped (install Debian's 'chromium' package to run it)."
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "chromium is missing and apt-get is not available: skipping; the browser test will be skipped."
  exit 0
fi
echo "installing Debian's chromium package for the browser test"
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -q && apt-get install -y -q --no-install-recommends chromium; }; then
  echo "could not install chromium (no package mirror?): the browser test will be skipped."
fi
