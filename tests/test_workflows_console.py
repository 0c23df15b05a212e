"""The console's workflow form in a real browser (Debian's chromium driven by Playwright), against the real HTTP
API in-process and the ComfyUI imitation: the form is the workflow's inputs schema, a 422 shows next to the input
it names, a run opens on its task page and the server receives the typed values."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.harness import RunningApp, local_args, running_app
from tests.support.console_browser import Page, launch_chromium
from tests.support.tenant_api import ADMIN, Api, tenant
from tests.support.workflow_graphs import SD15
from tests.vendors.comfyui import ComfyState
from tests.vendors.harness import COMFYUI, app_config


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ComfyState, RunningApp]]:
    with COMFYUI.serve() as (state, url):
        auth = {"mode": "keys", "admin_key": ADMIN}
        args = local_args(
            tmp_path_factory.mktemp("wf-console"), auth=auth, providers={"comfyui": app_config(COMFYUI, url)}
        )
        with running_app(args) as app:
            yield state, app


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    yield from launch_chromium()


def test_the_workflow_form_runs_a_workflow(
    served: tuple[ComfyState, RunningApp], chromium: Any, tmp_path: Path
) -> None:
    state, app = served
    _, api = tenant(Api(app.url, ADMIN), app.url, 0)
    key = str(api.http.headers["Authorization"]).removeprefix("Bearer ")
    tab = Page(chromium, app, tmp_path)
    page = tab.page
    tab.sign_in(key)
    page.wait_for_selector("#queue")
    page.goto(f"{app.url}/console/#/workflows")
    page.wait_for_selector("#no-workflows")
    api.ok("POST", "/v1/workflows", 201, json={"name": "sd15", "workflow": SD15, "description": "The default graph"})

    page.reload()
    page.wait_for_selector("#f-prompt")
    assert "The default graph" in page.inner_text("#workflow-about")
    assert page.eval_on_selector("#f-sampler", "el => el.value") == "euler"
    page.fill("#f-prompt", "a fox typed in the console")
    page.fill("#f-steps", "0")
    page.click("form.params button[type=submit]")
    page.wait_for_function("document.querySelector('#e-steps').textContent.includes('below the minimum 1')")
    page.fill("#f-steps", "3")
    page.check("#random-seed")
    page.click("form.params button[type=submit]")
    page.wait_for_url("**/#/task/tsk_*")
    task = api.finished(page.url.rsplit("/", 1)[1])
    assert task["status"] == "succeeded", task
    sent = state.requests[-1]["prompt"]
    assert sent["6"]["inputs"]["text"] == "a fox typed in the console" and sent["3"]["inputs"]["steps"] == 3
    assert sent["3"]["inputs"]["seed"] == task["params"]["values"]["seed"] != 156680208700286  # drawn
    page.wait_for_selector("#outputs img[src^='blob:']")
    assert httpx.get(f"{app.url}/console/js/pages/workflows.js").status_code == 200
    tab.check_clean()
