"""The Campaigns pages driven by headless Chromium over a real ``koc serve``.

Unlike the other page tests (``--dump-dom`` of a URL, see
``tests/api/test_page_browser.py``), these fill in and submit forms, so they talk to
the browser over the DevTools protocol on a pipe (``--remote-debugging-pipe``:
JSON messages ending in a NUL byte, commands on fd 3, answers on fd 4): sign in with
an admin key, plan a campaign from the form, follow the job page's refreshes to the
plan, review it, and submit a bad form. Expected values are the API fixture's
(tests/api/test_campaigns.py): u00 reaches u01..u09 with probability 1, every other
user only themselves; orders of reached users u01, u02, u04 are 170.00 gross.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.conftest import T0, auth, uid
from tests.api.test_page_browser import CHROMIUM, _dom, _shot, pytestmark, shots  # noqa: F401

__all__: list[str] = []

#: the first plan of a server compiles the numba kernels; CI machines may be busy
PLAN_TIMEOUT_S = 240


class Browser:
    """One headless Chromium page driven over ``--remote-debugging-pipe``."""

    def __init__(self, profile: Path) -> None:
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        args = [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--proxy-server=http://127.0.0.1:9",
            "--proxy-bypass-list=127.0.0.1",
            f"--user-data-dir={profile}",
            "--remote-debugging-pipe",
            "about:blank",
        ]
        # the browser reads commands on fd 3 and writes answers on fd 4
        self._proc = subprocess.Popen(
            ["bash", "-c", f'exec "$@" 3<&{to_browser_r} 4>&{from_browser_w}', "chromium", *args],
            pass_fds=(to_browser_r, from_browser_w),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        target = self._call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self._session = self._call("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        self.call("Emulation.setDeviceMetricsOverride", width=1400, height=1300,
                  deviceScaleFactor=1, mobile=False)  # fmt: skip

    def _call(self, method: str, params: dict[str, Any], session: str | None = None) -> Any:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        while True:
            while b"\0" not in self._buffer:
                chunk = os.read(self._from_browser, 1 << 16)
                if not chunk:
                    raise RuntimeError("chromium closed the DevTools pipe")
                self._buffer += chunk
            raw, self._buffer = self._buffer.split(b"\0", 1)
            answer = json.loads(raw)
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer.get("result", {})

    def call(self, method: str, **params: Any) -> Any:
        return self._call(method, params, self._session)

    def js(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 60) -> Any:
        """Poll ``expression`` (once the document is loaded) until it is truthy."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.js(f"document.readyState === 'complete' && ({expression})")
            if value:
                return value
            time.sleep(0.25)
        raise AssertionError(
            f"{expression!r} not true after {timeout} s at {self.js('location.href')}"
        )

    def open(self, url: str) -> None:
        self.call("Page.navigate", url=url)
        self.wait_for(f"location.href === {json.dumps(url)}")

    def submit(self, form: str, **fields: str) -> None:
        """Fill ``fields`` of the form ``form`` (a CSS selector) and submit it (no HTML
        validation, as a script could)."""
        self.js(
            f"(() => {{ const f = document.querySelector({json.dumps(form)});"
            f" for (const [k, v] of Object.entries({json.dumps(fields)})) f.elements[k].value = v;"
            " f.submit(); })()"
        )

    def html(self) -> str:
        return str(self.js("document.documentElement.outerHTML"))

    def screenshot(self, path: Path) -> Path:
        data = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        path.write_bytes(base64.b64decode(data["data"]))
        assert path.stat().st_size > 5_000, f"{path} looks empty"
        return path

    def close(self) -> None:
        os.close(self._to_browser)
        try:
            self._proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        os.close(self._from_browser)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    b = Browser(tmp_path / "profile")
    yield b
    b.close()


def test_campaign_pages_plan_poll_review_in_chromium(
    browser: Browser,
    live_server: tuple[str, dict[str, str]],
    shots: Path,  # noqa: F811 - the imported fixture
) -> None:
    base, tokens = live_server
    browser.open(f"{base}/login")
    browser.submit("form[action='/login']", key=tokens["admin"])
    browser.wait_for("location.pathname === '/'")
    browser.open(f"{base}/campaigns")
    assert 'id="plan-form"' in browser.html()
    browser.screenshot(shots / "campaigns-form.png")
    browser.submit("#plan-form", k="3", runs="200", seed="5")
    # the job page refreshes itself until the plan is ready, then redirects to it
    browser.wait_for("location.pathname.startsWith('/campaigns/jobs/')", timeout=30)
    plan_id = browser.wait_for(
        "document.getElementById('seeds') && location.pathname.split('/')[2]",
        timeout=PLAN_TIMEOUT_S,
    )
    page = browser.html()
    seeds = re.findall(r'<tr data-seed="([^"]+)">', page)
    assert len(seeds) == 3 and seeds[0] == uid(0)
    # u00's spread is exactly 10, each further seed adds itself: 12 in every simulation
    spread = re.search(r'id="spread".*?<div class="v">([\d.]+)</div>', page, re.S)
    assert spread is not None and float(spread.group(1)) == pytest.approx(12.0)
    assert "12.0–12.0" in page  # the 95% interval of 200 identical simulations
    assert re.findall(r'<tr data-baseline="([^"]+)">', page) == [
        "plan",
        "top_koc_score",
        "top_degree",
        "random",
    ]
    # the same plan through the API
    stored = httpx.get(
        f"{base}/v1/campaigns/{plan_id}", headers=auth(tokens["read"]), timeout=30
    ).json()
    assert [s["user_id"] for s in stored["seeds"]] == seeds
    browser.screenshot(shots / "campaign-plan.png")

    browser.submit("#review-form", start=T0.strftime("%Y-%m-%dT%H:%M"))
    browser.wait_for("!!document.querySelector('tr[data-review]')", timeout=120)
    review = browser.html()
    row = re.search(r'<tr data-review="[^"]+">(.*?)</tr>', review, re.S)
    assert row is not None
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(1))
    # realised: u00..u09 plus the two seeds outside u00's reach; GMV of u01, u02, u04
    assert cells[3] == "12" and cells[4] == "3" and cells[5] == "170.00"

    browser.open(f"{base}/campaigns")
    assert f'<tr data-plan="{plan_id}">' in browser.html()
    browser.submit("#plan-form", k="2", epsilon="3")
    browser.wait_for("!!document.getElementById('error')")
    error = browser.html()
    assert "form.epsilon" in error and '"code"' not in error


def test_campaign_pages_errors_are_pages_in_chromium(
    tmp_path: Path,
    live_server: tuple[str, dict[str, str]],
    shots: Path,  # noqa: F811
) -> None:
    base, _ = live_server
    missing = _dom(tmp_path, f"{base}/campaigns/abcdef12")
    assert 'id="error"' in missing and "No campaign plan" in missing and '"code"' not in missing
    no_job = _dom(tmp_path, f"{base}/campaigns/jobs/abcdef12")
    assert 'id="error"' in no_job and "No planning job" in no_job
    # planning needs an admin key even on a public server
    anonymous = httpx.post(
        f"{base}/campaigns/plan",
        content="k=1",
        headers={"content-type": "application/x-www-form-urlencoded"},
        timeout=30,
    )
    assert anonymous.status_code == 401 and 'id="error"' in anonymous.text
    cross_site = httpx.post(
        f"{base}/campaigns/plan",
        content="k=1",
        headers={"content-type": "application/x-www-form-urlencoded", "origin": "http://evil.test"},
        timeout=30,
    )
    assert cross_site.status_code == 403
    _shot(tmp_path, shots, "campaign-error", f"{base}/campaigns/abcdef12", size="1000,500")
