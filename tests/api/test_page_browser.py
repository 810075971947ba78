"""The leaderboard page rendered by headless Chromium (Debian's ``chromium`` package).

Installed by ``scripts/test-setup.d/chromium.sh``; the test is skipped with a
reason when the browser is absent.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (scripts/test-setup.d/chromium.sh)"
)
def test_page_renders_top_rows_in_chromium(
    tmp_path: Path, live_server: tuple[str, dict[str, str]]
) -> None:
    base, _ = live_server
    profile = tmp_path / "chromium-profile"
    out = subprocess.run(
        [
            CHROMIUM,  # type: ignore[list-item]
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--dump-dom",
            f"{base}/?limit=5",
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    dom = out.stdout
    assert "KOC leaderboard" in dom
    rows = re.findall(r'<tr data-user="([^"]+)">', dom)
    assert rows == ["u02", "u03", "u06", "u07", "u10"]
    assert 'href="/docs"' in dom
