"""The web console in a real browser (Debian's chromium driven by Playwright; no browser is downloaded) against
the real HTTP API in-process (no Ray) with a fast fake ``generate``: the queue goes live, the task page shows the
image, the gallery has it, the submit form makes a task and shows a 422 next to its field, the admin pages create
a tenant and a key; no JavaScript errors and no request to any host but the app's.

``CONSOLE_SCREENSHOTS=1`` writes the screenshots of docs/console.md into docs/img/console/.
"""

from __future__ import annotations

import asyncio
import io
import os
import threading
import tomllib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from genpulse.core.errors import UnsupportedMediaType
from genpulse.media.thumbnail import thumbnail
from tests.harness import RunningApp, local_args, running_app
from tests.test_tenants_api import ADMIN, Api, body, fake_generate, tenant

CHROMIUM = Path("/usr/bin/chromium")
STATIC = Path(__file__).resolve().parent.parent / "genpulse" / "console" / "static"
SHOTS = Path(__file__).resolve().parent.parent / "docs" / "img" / "console"

gate = threading.Event()


async def gated_generate(params: dict[str, Any]) -> dict[str, Any]:
    """``fake_generate``, but the prompt ``gated`` waits for the test to open ``gate``."""
    if params["prompt"] == "gated":
        await asyncio.to_thread(gate.wait, 30)
    return await fake_generate(params)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    args = local_args(tmp_path_factory.mktemp("console"), auth={"mode": "keys", "admin_key": ADMIN})
    with running_app(args, generate=gated_generate) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
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


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    return SHOTS if os.environ.get("CONSOLE_SCREENSHOTS") == "1" else tmp_path


def test_the_console_is_served_from_the_package(app: RunningApp) -> None:
    r = httpx.get(f"{app.url}/console", follow_redirects=True)
    assert r.status_code == 200 and 'type="module"' in r.text and str(r.url).endswith("/console/")
    script = httpx.get(f"{app.url}/console/js/app.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert "/console" not in httpx.get(f"{app.url}/openapi.json").json()["paths"]


def test_package_data_ships_every_console_file() -> None:
    config = tomllib.loads((STATIC.parent.parent.parent / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["genpulse.console"]
    shipped = {p for pattern in patterns for p in STATIC.parent.glob(pattern)}
    assert {p for p in STATIC.rglob("*") if p.is_file()} == shipped


def test_thumbnails_are_small_jpegs(app: RunningApp) -> None:
    _, api = tenant(Api(app.url, ADMIN), app.url, 0)
    params = {"prompt": "big", "width": 512, "height": 256, "num_images": 1}
    task = api.ok("POST", "/v1/tasks", 202, json={**body(), "params": params})
    asset = api.finished(task["id"])["result"]["assets"][0]
    r = api.http.get(f"/v1/assets/{asset['id']}/thumbnail", params={"size": 64})
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    with Image.open(io.BytesIO(r.content)) as small:
        assert (small.format, small.size) == ("JPEG", (64, 32))
    assert api.http.get(f"/v1/assets/{asset['id']}/thumbnail", params={"size": 5000}).status_code == 422
    assert httpx.get(f"{app.url}/v1/assets/{asset['id']}/thumbnail").status_code == 401
    with pytest.raises(UnsupportedMediaType):
        thumbnail(b"\x00" * 16, "video/mp4", 64)


def test_queue_task_gallery_and_submit(app: RunningApp, browser: Any, shots: Path) -> None:
    admin = Api(app.url, ADMIN)
    _, api = tenant(admin, app.url, 0)
    key = str(api.http.headers["Authorization"]).removeprefix("Bearer ")
    tab = Page(browser, app, shots)
    page = tab.page
    tab.sign_in(key)
    page.wait_for_selector("#queue")
    gate.clear()
    task = api.ok("POST", "/v1/tasks", 202, json=body("gated"))
    row = f"#queue tr[data-id='{task['id']}']"
    page.wait_for_selector(f"{row}[data-status=running]")  # appeared live, without a reload
    gate.set()
    page.wait_for_selector(f"{row}[data-status=succeeded]")
    api.finished(task["id"])
    tab.shot("queue")

    page.click(row)
    page.wait_for_selector("#outputs img[src^='blob:']")
    page.wait_for_function("document.querySelector('#outputs img').naturalWidth === 64")
    assert "succeeded" in page.inner_text("#timeline")
    tab.shot("task")

    page.goto(f"{app.url}/console/#/gallery")
    page.wait_for_selector(f"#gallery a[href='#/task/{task['id']}'] img[src^='blob:']")
    tab.shot("gallery")

    page.goto(f"{app.url}/console/#/submit")
    page.wait_for_selector("#f-prompt")
    page.fill("#f-prompt", "a typed prompt")
    page.fill("#f-width", "64")
    page.fill("#f-height", "64")
    page.fill("#f-num_images", "99")
    page.click("form.params button[type=submit]")
    page.wait_for_function("document.querySelector('#e-num_images').textContent.includes('less than or equal to 8')")
    tab.shot("submit")
    page.fill("#f-num_images", "1")
    page.click("form.params button[type=submit]")
    page.wait_for_url("**/#/task/tsk_*")
    made = page.url.rsplit("/", 1)[1]
    assert api.finished(made)["params"]["prompt"] == "a typed prompt"

    page.goto(f"{app.url}/console/#/system")
    page.wait_for_selector("#providers table")
    assert "store" in page.inner_text("#ready")
    page.wait_for_selector("#queue-depth dl")
    assert "Oldest queued" in page.inner_text("#queue-depth")
    page.wait_for_selector("#account table")
    assert "diffusers" in page.inner_text("#account")
    tab.shot("system")

    page.set_viewport_size({"width": 390, "height": 800})  # a phone: no sideways scrolling
    page.goto(f"{app.url}/console/#/queue")
    page.wait_for_selector(row)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    tab.check_clean()


def test_admin_creates_a_tenant_and_a_key(app: RunningApp, browser: Any, shots: Path) -> None:
    tab = Page(browser, app, shots)
    page = tab.page
    tab.sign_in(ADMIN)
    page.wait_for_selector("#tenants")
    page.fill("#tenant-name", "acme-console")
    page.fill("#tenant-credits", "25")
    page.click("text=Create tenant")
    page.wait_for_selector("#balance")
    assert page.inner_text("#balance") == "25"
    page.fill("#key-name", "ci")
    page.click("text=Create key")
    page.wait_for_selector("#secret")
    secret = page.inner_text("#secret")
    assert secret.startswith("gp_")
    assert Api(app.url, secret).ok("GET", "/v1/me")["name"] == "acme-console"
    assert "No usage yet." in page.inner_text("#usage")
    tab.shot("admin")

    page.goto(f"{app.url}/console/#/system")  # the admin key also reads /metrics: queue depth per provider
    page.wait_for_selector("#metrics table")
    assert "store_tasks status=queued" in page.inner_text("#metrics")
    tab.check_clean()


def test_a_refused_key_asks_again(app: RunningApp, browser: Any, shots: Path) -> None:
    tab = Page(browser, app, shots)
    tab.sign_in("gp_not_a_key")
    tab.page.wait_for_selector("text=That key was refused.")
    tab.check_clean()


def test_a_thousand_row_queue_stays_live(app: RunningApp, browser: Any, shots: Path) -> None:
    admin = Api(app.url, ADMIN)
    _, api = tenant(admin, app.url, 0)
    with ThreadPoolExecutor(8) as pool:
        made = list(pool.map(lambda i: api.ok("POST", "/v1/tasks", 202, json=body(f"fox {i}"))["id"], range(1000)))
    api.finished(made[-1])
    tab = Page(browser, app, shots)
    page = tab.page
    tab.sign_in(str(api.http.headers["Authorization"]).removeprefix("Bearer "))
    page.wait_for_selector("#queue tbody tr")
    while (shown := page.locator("#queue tbody tr").count()) < 1000:
        page.click("text=Load more")
        page.wait_for_function(f"document.querySelectorAll('#queue tbody tr').length > {shown}")
    assert page.locator("#queue tbody tr").count() == 1000
    gate.clear()
    task = api.ok("POST", "/v1/tasks", 202, json=body("gated"))
    row = f"#queue tr[data-id='{task['id']}']"
    page.wait_for_selector(f"{row}[data-status=running]")
    gate.set()
    page.wait_for_selector(f"{row}[data-status=succeeded]")
    assert page.locator("#queue tbody tr").first.get_attribute("data-id") == task["id"]
    page.fill("input[type=search]", "fox 999")
    assert page.locator("#queue tbody tr:not([hidden])").count() == 1
    tab.check_clean()


def test_without_auth_it_opens_without_a_key(tmp_path: Path, browser: Any) -> None:
    with running_app(local_args(tmp_path), generate=gated_generate) as open_app:
        task = httpx.post(f"{open_app.url}/v1/tasks", json=body(), timeout=30).json()
        tab = Page(browser, open_app, tmp_path)
        tab.page.goto(f"{open_app.url}/console")
        tab.page.wait_for_selector(f"#queue tr[data-id='{task['id']}']")
        assert tab.page.locator("#key").count() == 0 and tab.page.locator("text=Sign out").count() == 0
        tab.check_clean()
