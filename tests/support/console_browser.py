"""Debian's chromium driven by Playwright for the console tests (never a downloaded browser), and a console tab
that records JavaScript errors and every request to a host other than the app's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.harness import RunningApp

CHROMIUM = Path("/usr/bin/chromium")


def launch_chromium() -> Iterator[Any]:
    """A module fixture's body: the browser, closed afterwards."""
    if not CHROMIUM.exists():
        pytest.fail("the console tests need Debian's chromium at /usr/bin/chromium: run scripts/install.sh")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield launched
        launched.close()


class Page:
    """A browser tab on the console that records JavaScript errors and every request's host."""

    def __init__(self, browser: Any, app: RunningApp, shots: Path) -> None:
        self.app, self.shots = app, shots
        self.page = browser.new_page(viewport={"width": 1000, "height": 640})
        self.errors: list[str] = []
        self.foreign: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("console", self._console)
        self.page.on("request", self._request)
        self.page.set_default_timeout(15_000)

    def _console(self, message: Any) -> None:
        if message.type == "error" and "Failed to load resource" not in message.text:  # 401/403/422 answers
            self.errors.append(message.text)

    def _request(self, request: Any) -> None:
        if not request.url.startswith((self.app.url + "/", "blob:", "data:")):
            self.foreign.append(request.url)

    def sign_in(self, key: str) -> None:
        self.page.goto(f"{self.app.url}/console")
        self.page.fill("#key", key)
        self.page.click("button[type=submit]")

    def shot(self, name: str) -> None:
        self.shots.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(self.shots / f"{name}.png"))

    def check_clean(self) -> None:
        assert self.errors == [] and self.foreign == []
        self.page.close()
