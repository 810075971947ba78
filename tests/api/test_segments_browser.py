"""The leaderboard page's segment filter, rendered by headless Chromium (see
``tests/api/test_page_browser.py`` for the browser set-up)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from tests.api.conftest import auth
from tests.api.test_page_browser import _dom, _shot, pytestmark, shots  # noqa: F401 - marks, fixture

__all__: list[str] = []


def test_leaderboard_page_segment_filter_in_chromium(
    tmp_path: Path,
    live_server: tuple[str, dict[str, str]],
    shots: Path,  # noqa: F811 - the imported fixture
) -> None:
    base, tokens = live_server
    members = httpx.get(
        f"{base}/v1/segments/loyal_customers/members",
        params={"limit": 100},
        headers=auth(tokens["read"]),
        timeout=60,
    ).json()["data"]
    expected = [m["user_id"] for m in members if m["role"] not in ("employee", "kol")]
    assert expected, "the fixture's loyal customers are the test's subject"
    dom = _dom(tmp_path, f"{base}/?segment=loyal_customers&limit=50")
    assert re.findall(r'<tr data-user="([^"]+)">', dom) == expected
    assert '<option value="loyal_customers" selected' in dom
    assert "segment=loyal_customers" in dom  # the CSV export keeps the filter
    csv = httpx.get(f"{base}/leaderboard.csv", params={"segment": "loyal_customers"}, timeout=60)
    assert [line.split(",")[2] for line in csv.text.splitlines()[1:]] == expected
    unknown = _dom(tmp_path, f"{base}/?segment=nosuch&limit=5")
    assert re.search(r'<option value=""[^>]*selected[^>]*>everyone</option>', unknown)
    _shot(tmp_path, shots, "leaderboard-segment", f"{base}/?segment=loyal_customers&limit=20")
