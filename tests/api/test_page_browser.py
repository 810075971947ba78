"""The web app rendered by headless Chromium (Debian's ``chromium`` package).

Installed by ``scripts/test-setup.d/chromium.sh``; the tests are skipped with a
reason when the browser is absent. The browser gets no network but the loopback
server, so ``/docs`` rendering proves the Swagger UI assets are bundled. Each test
writes screenshots for review to ``$KOC_SCREENSHOT_DIR`` (default: a temporary
folder, printed); ``docs/screenshots/`` holds a few of them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        (shutil.which("chromium") or shutil.which("chromium-browser")) is None,
        reason="chromium is not installed (scripts/test-setup.d/chromium.sh)",
    ),
]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or "chromium"


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = Path(os.environ.get("KOC_SCREENSHOT_DIR") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"screenshots in {folder}")
    return folder


def _chromium(profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            # no network but the loopback server: a CDN asset could not load
            "--proxy-server=http://127.0.0.1:9",
            "--proxy-bypass-list=127.0.0.1",
            f"--user-data-dir={profile}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return out


def _dom(tmp_path: Path, url: str, wait_ms: int = 0) -> str:
    extra = [f"--virtual-time-budget={wait_ms}"] if wait_ms else []
    return _chromium(tmp_path / "profile", *extra, "--dump-dom", url).stdout


def _shot(tmp_path: Path, folder: Path, name: str, url: str, size: str = "1400,1100") -> Path:
    path = folder / f"{name}.png"
    _chromium(
        tmp_path / f"profile-{name}",
        f"--window-size={size}",
        "--virtual-time-budget=3000",
        f"--screenshot={path}",
        url,
    )
    assert path.stat().st_size > 5_000, f"{path} looks empty"
    return path


def test_leaderboard_page_rows_legend_and_links_in_chromium(
    tmp_path: Path, live_server: tuple[str, dict[str, str]], shots: Path
) -> None:
    base, _ = live_server
    dom = _dom(tmp_path, f"{base}/?limit=5")
    assert "KOC leaderboard" in dom
    assert re.findall(r'<tr data-user="([^"]+)">', dom) == ["u02", "u03", "u06", "u07", "u10"]
    assert 'id="legend"' in dom and "GMV driven" in dom
    assert 'href="/users/u02"' in dom and 'href="/docs"' in dom
    assert 'rel="next"' in dom and "Export CSV" in dom
    _shot(tmp_path, shots, "leaderboard", f"{base}/?limit=20")
    _shot(tmp_path, shots, "leaderboard-phone", f"{base}/?limit=10", size="390,1200")


def test_user_page_facts_breakdown_chart_and_network_in_chromium(
    tmp_path: Path, live_server: tuple[str, dict[str, str]], shots: Path
) -> None:
    base, _ = live_server
    _dom(tmp_path, f"{base}/users/u01", wait_ms=3000)  # warms the network snapshot
    dom = _dom(tmp_path, f"{base}/users/u01")
    assert 'id="facts"' in dom and 'id="breakdown"' in dom
    assert "distinct buyers driven" in dom and "Rank in recent runs" in dom
    assert '<svg class="chart"' in dom
    assert '<svg class="ego"' in dom or "being prepared" in dom
    _shot(tmp_path, shots, "user", f"{base}/users/u01", size="1400,1400")


def test_role_community_run_and_error_pages_in_chromium(
    tmp_path: Path, live_server: tuple[str, dict[str, str]], shots: Path
) -> None:
    base, _ = live_server
    assert "Roles: employees" in _dom(tmp_path, f"{base}/roles/employee")
    assert 'id="communities"' in _dom(tmp_path, f"{base}/communities")
    assert 'id="runs"' in _dom(tmp_path, f"{base}/runs")
    error = _dom(tmp_path, f"{base}/?limit=100000")
    assert 'id="error"' in error and "query.limit" in error and '"code"' not in error
    _shot(tmp_path, shots, "roles-kol", f"{base}/roles/kol", size="1400,900")
    _shot(tmp_path, shots, "communities", f"{base}/communities", size="1400,900")
    _shot(tmp_path, shots, "error", f"{base}/?limit=100000", size="1000,500")


def test_docs_render_offline_from_bundled_assets_in_chromium(
    tmp_path: Path, live_server: tuple[str, dict[str, str]], shots: Path
) -> None:
    base, _ = live_server
    swagger = _dom(tmp_path, f"{base}/docs", wait_ms=8000)
    assert "opblock" in swagger and "/v1/leaderboard" in swagger  # rendered by the bundle
    redoc = _dom(tmp_path, f"{base}/redoc", wait_ms=8000)
    assert "/v1/leaderboard" in redoc
    _shot(tmp_path, shots, "docs", f"{base}/docs", size="1200,900")
