"""The web console in a real browser (Debian's chromium driven by Playwright; no browser is downloaded) against
the real HTTP API in-process (no Ray) with a fast fake ``generate``: the queue goes live, the task page shows the
image, the gallery has it (and videos as their poster frame), the submit form makes a task and shows a 422 next to
its field, the admin pages create a tenant and a key, the admin's queue shows every tenant's tasks live and its
System page the limiters and worker pools as they change; no JavaScript errors and no request to any host but the
app's.

``CONSOLE_SCREENSHOTS=1`` writes the screenshots of docs/console.md into docs/img/console/.
"""

from __future__ import annotations

import asyncio
import io
import os
import threading
import time
import tomllib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from genpulse.core.errors import UnsupportedMediaType
from genpulse.diffusion.mp4 import encode_mp4, poster_png
from genpulse.media.thumbnail import thumbnail
from tests.harness import RunningApp, local_args, running_app
from tests.support.console_browser import Page, launch_chromium
from tests.support.tenant_api import ADMIN, Api, body, fake_generate, tenant

STATIC = Path(__file__).resolve().parent.parent / "genpulse" / "console" / "static"
SHOTS = Path(__file__).resolve().parent.parent / "docs" / "img" / "console"

gate = threading.Event()


def red_frames(width: int = 64, height: int = 48) -> Any:
    """Three frames: a red one, then black ones (a poster or first frame is red)."""
    frames = np.zeros((3, height, width, 3), dtype=np.uint8)
    frames[0, :, :, 0] = 255
    return frames


async def gated_generate(params: dict[str, Any]) -> dict[str, Any]:
    """``fake_generate``, but the prompt ``gated`` waits for the test to open ``gate``; ``a video`` makes an MP4
    and its poster (as the diffusion replica does for video models), ``a bare video`` an MP4 alone."""
    if params["prompt"] == "gated":
        await asyncio.to_thread(gate.wait, 30)
    if params["prompt"] in ("a video", "a bare video"):
        frames = red_frames()
        out: dict[str, Any] = {"videos": [encode_mp4(frames, 8)], "seed": 1}
        if params["prompt"] == "a video":
            out["posters"] = [poster_png(frames)]
        return out
    return await fake_generate(params)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    # kling has credentials, so it has a rate limiter (nothing here calls it)
    kling = {"kling": {"access_key": "ak-console", "secret_key": "sk-console", "base_url": "http://127.0.0.1:9"}}
    args = local_args(tmp_path_factory.mktemp("console"), auth={"mode": "keys", "admin_key": ADMIN}, providers=kling)
    with running_app(args, generate=gated_generate) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from launch_chromium()


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
        thumbnail(b"\x00" * 16, "video/mp4", 64)  # no decodable video
    with pytest.raises(UnsupportedMediaType):
        thumbnail(b"%PDF-1.4", "application/pdf", 64)


def test_a_video_thumbnail_is_its_first_frame(app: RunningApp) -> None:
    _, api = tenant(Api(app.url, ADMIN), app.url, 0)
    bare = api.finished(api.ok("POST", "/v1/tasks", 202, json=body("a bare video"))["id"])
    (video,) = bare["result"]["assets"]
    assert video["content_type"] == "video/mp4" and "poster" not in bare["result"]
    r = api.http.get(f"/v1/assets/{video['id']}/thumbnail", params={"size": 32})
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    with Image.open(io.BytesIO(r.content)) as small:
        red, green, blue = small.convert("RGB").getpixel((16, 10))
        assert (small.format, small.size) == ("JPEG", (32, 24)) and red > 200 and green < 60 and blue < 60
    made = api.finished(api.ok("POST", "/v1/tasks", 202, json=body("a video"))["id"])["result"]
    assert [a["content_type"] for a in made["assets"]] == ["video/mp4", "image/png"]
    assert made["poster"]["id"] == made["assets"][1]["id"]  # the gallery shows it on the video's tile


def test_the_admin_lists_every_tenants_tasks(app: RunningApp) -> None:
    admin = Api(app.url, ADMIN)
    (alice_id, alice), (bob_id, bob) = tenant(admin, app.url, 0), tenant(admin, app.url, 0)
    mine = {alice.ok("POST", "/v1/tasks", 202, json=body())["id"]: alice_id}
    mine[bob.ok("POST", "/v1/tasks", 202, json=body())["id"]] = bob_id
    listed = {t["id"]: t["tenant_id"] for t in admin.ok("GET", "/v1/admin/tasks", params={"limit": 200})["data"]}
    assert mine.items() <= listed.items()
    only_bob = admin.ok("GET", "/v1/admin/tasks", params={"tenant": bob_id, "provider": "diffusers"})["data"]
    assert {t["tenant_id"] for t in only_bob} == {bob_id} and set(mine) & {t["id"] for t in only_bob}
    page = admin.ok("GET", "/v1/admin/tasks", params={"tenant": bob_id, "limit": 1})
    assert len(page["data"]) == 1 and page["next_cursor"] is None
    task_id = next(iter(mine))
    assert admin.ok("GET", f"/v1/admin/tasks/{task_id}")["tenant_id"] == alice_id
    assert alice.http.get("/v1/admin/tasks").status_code == 403
    assert alice.http.get(f"/v1/admin/tasks/{task_id}").status_code == 403
    assert httpx.get(f"{app.url}/v1/admin/tasks").status_code == 401
    assert admin.http.get("/v1/admin/tasks/tsk_nope").status_code == 404


def wait_until(check: Any, what: str, timeout: float = 15) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, what
        time.sleep(0.05)
    return value


def test_the_system_report_gathers_limiters_pools_and_storage(app: RunningApp) -> None:
    admin = Api(app.url, ADMIN)
    _, api = tenant(admin, app.url, 0)
    report = admin.ok("GET", "/v1/admin/system")
    rows = {p["provider"]: p for p in report["providers"]}
    assert set(rows) == set(app.runtime.workers)
    kling = rows["kling"]["limiter"]
    assert kling["max_concurrent_jobs"] == 10 and kling["jobs_held"] == 0 and kling["waiting_requests"] == 0
    assert rows["diffusers"]["limiter"] is None and rows["diffusers"]["limiter_error"] is None  # not rate limited
    assert rows["openai"]["limiter"] is None  # no credentials: no vendor calls, no limiter
    assert [w["name"] for w in rows["diffusers"]["workers"]] == ["local-diffusers-0"]
    assert report["storage"]["type"] == "local" and report["storage"]["location"].endswith("data")
    assert report["store"] == "MemoryTaskStore" and report["store_up"] is True
    # the limiter's own counters: a vendor 429 (no call waits, so no timer needs the app's loop)
    before = kling["throttled_429"]
    asyncio.run(app.runtime.limiters["kling"].report_429(0.01))
    kling = admin.ok("GET", "/v1/admin/system")["providers"]
    assert next(p for p in kling if p["provider"] == "kling")["limiter"]["throttled_429"] == before + 1

    def diffusers() -> dict[str, Any]:
        return next(p for p in admin.ok("GET", "/v1/admin/system")["providers"] if p["provider"] == "diffusers")

    gate.clear()
    task = api.ok("POST", "/v1/tasks", 202, json=body("gated"))
    busy = wait_until(lambda: (d := diffusers())["in_flight"] == 1 and d, "the gated task never showed in flight")
    assert busy["running"] >= 1 and busy["workers"][0]["in_flight"] == 1
    gate.set()
    api.finished(task["id"])
    wait_until(lambda: diffusers()["in_flight"] == 0, "the worker still drives the task")
    assert api.http.get("/v1/admin/system").status_code == 403
    assert httpx.get(f"{app.url}/v1/admin/system").status_code == 401


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


def test_the_gallery_shows_videos_by_their_poster_frame(app: RunningApp, browser: Any, shots: Path) -> None:
    _, api = tenant(Api(app.url, ADMIN), app.url, 0)
    posted = api.finished(api.ok("POST", "/v1/tasks", 202, json=body("a video"))["id"])["result"]
    bare = api.finished(api.ok("POST", "/v1/tasks", 202, json=body("a bare video"))["id"])["result"]
    tab = Page(browser, app, shots)
    page = tab.page
    tab.sign_in(str(api.http.headers["Authorization"]).removeprefix("Bearer "))
    page.wait_for_selector("#queue")
    page.goto(f"{app.url}/console/#/gallery")
    for result in (posted, bare):  # the task's poster, or the server's first frame of the video
        tile = f"#gallery a[data-asset='{result['assets'][0]['id']}'] .video-thumb img[src^='blob:']"
        page.wait_for_selector(tile)
        page.wait_for_function(f'document.querySelector("{tile}").naturalWidth > 0')
    assert page.locator(f"#gallery a[data-asset='{posted['poster']['id']}']").count() == 0  # not a tile of its own
    assert page.locator("#gallery video").count() == 0
    tab.check_clean()


def test_the_admin_sees_every_tenants_queue_and_the_system_live(app: RunningApp, browser: Any, shots: Path) -> None:
    tenant_id, api = tenant(Api(app.url, ADMIN), app.url, 0)
    tab = Page(browser, app, shots)
    page = tab.page
    tab.sign_in(ADMIN)
    page.wait_for_selector("#tenants")
    page.goto(f"{app.url}/console/#/queue")
    page.wait_for_selector("#queue thead")
    assert page.inner_text("#queue thead").split()[:2] == ["Task", "Tenant"]
    gate.clear()
    task = api.ok("POST", "/v1/tasks", 202, json=body("gated"))
    row = f"#queue tr[data-id='{task['id']}']"
    page.wait_for_selector(f"{row}[data-status=running]")  # polled in, without a reload
    assert page.inner_text(f"{row} td.tenant") == tenant_id
    gate.set()
    page.wait_for_selector(f"{row}[data-status=succeeded]")
    tab.shot("queue-admin")

    page.goto(f"{app.url}/console/#/system")
    page.wait_for_selector("#limiter-stats tr:has(td:text-is('kling'))")
    assert "0 / 10" in page.inner_text("#limiter-stats tr:has(td:text-is('kling'))")
    assert "local" in page.inner_text("#storage") and "MemoryTaskStore" in page.inner_text("#storage")
    in_flight = "#pool-stats tr:has(td:text-is('diffusers')) td:nth-child(3)"
    page.wait_for_selector(f"{in_flight}:text-is('0')")
    gate.clear()
    task = api.ok("POST", "/v1/tasks", 202, json=body("gated"))
    page.wait_for_selector(f"{in_flight}:text-is('1')")  # refreshed in place
    page.evaluate("document.getElementById('limiters').previousElementSibling.scrollIntoView()")
    tab.shot("system-admin")
    gate.set()
    api.finished(task["id"])
    page.wait_for_selector(f"{in_flight}:text-is('0')")
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
