"""Workflows end to end: upload real graph shapes over the real HTTP API, read the derived inputs, run them against
the ComfyUI imitation (over HTTP on 127.0.0.1, with ``/object_info``) and check the graph the server received."""

from __future__ import annotations

import base64
import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.harness import local_args, running_app
from tests.support.workflow_graphs import IMG2IMG, LORA, SD15, SD15_UI, SDXL, SVD, node
from tests.vendors.comfyui_object_info import LORAS, SAMPLERS
from tests.vendors.common import FAKE_MP4, tiny_png
from tests.vendors.harness import COMFYUI, Live, app_config
from tests.vendors.live import assert_assets_are_ours

PNG = "data:image/png;base64," + base64.b64encode(tiny_png()).decode()


@pytest.fixture(scope="module")
def live_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    with COMFYUI.serve() as (state, url):
        providers = {"comfyui": app_config(COMFYUI, url)}
        args = local_args(tmp_path_factory.mktemp("wf"), providers=providers, workflows={"object_info_ttl_s": 0})
        with running_app(args) as app, httpx.Client(base_url=app.url, timeout=30) as client:
            yield Live(state, client, app, COMFYUI)


@pytest.fixture
def live(live_app: Live) -> Live:
    live_app.state.reset()
    return live_app


def upload(live: Live, name: str, workflow: dict[str, Any], status: int = 201, **body: Any) -> dict[str, Any]:
    r = live.client.post("/v1/workflows", json={"name": name, "workflow": workflow, **body})
    assert r.status_code == status, r.text
    return r.json()


def run(live: Live, name: str, inputs: dict[str, Any], **body: Any) -> dict[str, Any]:
    r = live.client.post(f"/v1/workflows/{name}/runs", json={"inputs": inputs, **body})
    assert r.status_code == 202, r.text
    task = r.json()
    assert task["provider"] == "comfyui" and task["task_type"] == "workflow"
    for _ in range(12):
        task = live.client.get(f"/v1/tasks/{task['id']}", params={"wait": 5}).json()
        if task["status"] in ("succeeded", "failed", "canceled"):
            return task
    raise AssertionError(f"task {task['id']} did not finish")


def received(live: Live) -> dict[str, Any]:
    """The graph the ComfyUI server was last sent."""
    return live.state.requests[-1]["prompt"]


def refused(live: Live, path: str, body: dict[str, Any], status: int = 422) -> dict[str, Any]:
    r = live.client.post(path, json=body)
    assert r.status_code == status, r.text
    return r.json()["error"]


def test_sd15_default_graph_is_typed_from_object_info_and_runs_with_new_values(live: Live) -> None:
    wf = upload(live, "sd15", SD15, description="ComfyUI's default graph")
    assert wf["version"] == 1 and wf["analyzed_with"] == "object_info" and wf["source"] == "api"
    props = wf["inputs"]["properties"]
    assert list(props)[:2] == ["prompt", "negative_prompt"]
    assert props["prompt"]["default"].startswith("beautiful scenery") and props["prompt"]["x-multiline"]
    assert props["negative_prompt"]["default"] == "text, watermark"
    assert props["steps"]["description"] == "KSampler (node 3): steps. The number of denoising steps."
    assert props["sampler"]["enum"] == SAMPLERS and props["checkpoint"]["enum"][0].endswith(".safetensors")
    assert props["width"] == {"type": "integer", "minimum": 16, "maximum": 16384, "title": "Width",
                              "description": "Empty Latent Image (node 5): width", "default": 512}  # fmt: skip
    assert props["seed"]["anyOf"][0]["maximum"] == 2**64 - 1  # exact, as the server says
    seed = props["seed"]
    assert seed["default"] == 156680208700286 and {"const": "random"} in seed["anyOf"]
    assert wf["outputs"] == [{"node": "9", "class_type": "SaveImage", "kind": "image", "title": "Save Image"}]

    task = run(live, "sd15", {"prompt": "a red fox", "negative_prompt": "blurry", "seed": 42, "steps": 4,
                              "width": 256, "sampler": "dpmpp_2m"})  # fmt: skip
    assert_assets_are_ours(live.client, task, live.state.base_url, "image/png")
    graph = received(live)
    assert graph["6"]["inputs"]["text"] == "a red fox" and graph["7"]["inputs"]["text"] == "blurry"
    assert graph["3"]["inputs"] | {"seed": 42, "steps": 4, "sampler_name": "dpmpp_2m"} == graph["3"]["inputs"]
    assert graph["5"]["inputs"]["width"] == 256 and graph["5"]["inputs"]["height"] == 512  # defaults stay
    assert task["params"]["workflow_name"] == "sd15" and task["params"]["workflow_version"] == 1
    assert task["params"]["values"]["seed"] == 42


def test_sdxl_base_and_refiner_share_prompt_seed_and_steps(live: Live) -> None:
    props = upload(live, "sdxl", SDXL)["inputs"]["properties"]
    assert {"prompt", "negative_prompt", "seed", "steps", "checkpoint_load_checkpoint_base",
            "checkpoint_load_checkpoint_refiner"} <= set(props)  # fmt: skip
    assert "start_at_step" not in props and "add_noise" not in props
    task = run(live, "sdxl", {"prompt": "a lighthouse", "seed": 7, "steps": 30}, priority="high", metadata={"k": 1})
    assert task["priority"] == "high" and task["metadata"] == {"k": 1}
    assert task["status"] == "succeeded", task
    graph = received(live)
    assert graph["6"]["inputs"]["text"] == graph["15"]["inputs"]["text"] == "a lighthouse"
    assert graph["10"]["inputs"]["noise_seed"] == graph["11"]["inputs"]["noise_seed"] == 7
    assert graph["10"]["inputs"]["steps"] == graph["11"]["inputs"]["steps"] == 30
    assert graph["10"]["inputs"]["end_at_step"] == 20 and graph["11"]["inputs"]["start_at_step"] == 20


def test_img2img_uploads_the_image_and_sets_denoise(live: Live) -> None:
    wf = upload(live, "img2img", IMG2IMG)
    assert wf["inputs"]["required"] == ["image"]
    image = wf["inputs"]["properties"]["image"]
    assert image["format"] == "genpulse-image" and "default" not in image
    missing = refused(live, "/v1/workflows/img2img/runs", {"inputs": {}})
    assert missing["details"] == [{"field": "inputs.image", "message": "inputs.image: required"}]
    bad = refused(live, "/v1/workflows/img2img/runs", {"inputs": {"image": PNG, "denoise": 1.5}})
    assert bad["details"][0]["field"] == "inputs.denoise" and "above the maximum 1" in bad["message"]
    task = run(live, "img2img", {"image": PNG, "denoise": 0.5})
    assert task["status"] == "succeeded", task
    graph = received(live)
    uploaded = graph["10"]["inputs"]["image"]
    assert uploaded.startswith("genpulse-") and live.state.files[("input", "", uploaded)] == tiny_png()
    assert graph["3"]["inputs"]["denoise"] == 0.5 and "image" not in task["params"]["values"]
    files = {"file": ("in.png", tiny_png(), "image/png")}
    asset = live.client.post("/v1/assets", files=files).json()["id"]
    assert run(live, "img2img", {"image": asset})["status"] == "succeeded"  # an asset id: sent as its bytes
    assert live.state.files[("input", "", received(live)["10"]["inputs"]["image"])] == tiny_png()
    unknown = refused(live, "/v1/workflows/img2img/runs", {"inputs": {"image": "ast_" + "0" * 24}})
    assert "unknown asset" in unknown["message"]


def test_lora_graph_takes_lora_names_from_the_server(live: Live) -> None:
    props = upload(live, "lora", LORA)["inputs"]["properties"]
    assert props["lora"]["enum"] == LORAS and props["lora_strength"]["minimum"] == -100
    task = run(live, "lora", {"lora": "pixel-art.safetensors", "lora_strength": 0.5, "lora_clip_strength": 0.25})
    assert task["status"] == "succeeded", task
    lora = received(live)["10"]["inputs"]
    assert (lora["lora_name"], lora["strength_model"], lora["strength_clip"]) == ("pixel-art.safetensors", 0.5, 0.25)
    error = refused(live, "/v1/workflows/lora/runs", {"inputs": {"lora": "nope.safetensors"}})
    assert error["details"][0]["field"] == "inputs.lora" and "is not one of" in error["message"]


def test_video_graph_sets_frames_and_rate_and_returns_the_video(live: Live) -> None:
    wf = upload(live, "svd", SVD)
    props = wf["inputs"]["properties"]
    assert (
        props["frames"]["default"] == 25 and props["fps"]["default"] == 8 and props["conditioning_fps"]["default"] == 6
    )
    assert wf["outputs"] == [
        {"node": "26", "class_type": "VHS_VideoCombine", "kind": "video", "title": "Video Combine"}
    ]
    task = run(live, "svd", {"image": PNG, "frames": 14, "fps": 12, "motion_bucket_id": 40})
    assert_assets_are_ours(live.client, task, live.state.base_url, "video/mp4")
    assert live.client.get(task["result"]["assets"][0]["url"]).content == FAKE_MP4
    graph = received(live)
    assert graph["12"]["inputs"]["video_frames"] == 14 and graph["12"]["inputs"]["motion_bucket_id"] == 40
    assert graph["26"]["inputs"]["frame_rate"] == 12


def test_versions_idempotent_reupload_retire_and_listing(live: Live) -> None:
    first = upload(live, "versions", SD15)
    assert upload(live, "versions", SD15, status=200)["version"] == first["version"] == 1  # same content hash
    changed = copy.deepcopy(SD15)
    changed["5"]["inputs"]["width"] = 768
    second = upload(live, "versions", changed)
    assert second["version"] == 2 and second["hash"] != first["hash"]
    latest = live.client.get("/v1/workflows/versions").json()
    assert latest["version"] == 2 and [v["version"] for v in latest["versions"]] == [1, 2]
    one = live.client.get("/v1/workflows/versions/versions/1").json()
    assert one["inputs"]["properties"]["width"]["default"] == 512 and one["workflow"]["5"]["inputs"]["width"] == 512
    names = [w["name"] for w in live.client.get("/v1/workflows").json()["data"]]
    assert "versions" in names and names == sorted(names)
    schemas = live.client.get("/meta/schemas").json()
    assert "comfyui" in schemas["providers"] and schemas["workflows"]["versions"]["version"] == 2

    retired = live.client.delete("/v1/workflows/versions/versions/2")
    assert retired.status_code == 200 and retired.json()["retired_at"]
    assert live.client.get("/v1/workflows/versions").json()["version"] == 1
    error = refused(live, "/v1/workflows/versions/runs", {"inputs": {}, "version": 2}, status=409)
    assert "retired" in error["message"]
    assert live.client.get("/v1/workflows/versions/versions/2").json()["retired_at"]  # still readable
    assert upload(live, "versions", changed)["version"] == 3  # a retired version is not reused
    assert live.client.get("/v1/workflows/nope").status_code == 404
    assert live.client.delete("/v1/workflows/versions/versions/9").status_code == 404


def test_random_seed_is_drawn_recorded_and_stable_under_an_idempotency_key(live: Live) -> None:
    upload(live, "seeded", SD15)
    task = run(live, "seeded", {"seed": "random", "steps": 1})
    seed = task["params"]["values"]["seed"]
    assert isinstance(seed, int) and received(live)["3"]["inputs"]["seed"] == seed
    body = {"inputs": {"steps": 1}, "random_seed": True}
    first = live.client.post("/v1/workflows/seeded/runs", json=body, headers={"Idempotency-Key": "k1"})
    again = live.client.post("/v1/workflows/seeded/runs", json=body, headers={"Idempotency-Key": "k1"})
    assert first.status_code == 202 and again.status_code in (200, 202), again.text
    assert again.json()["id"] == first.json()["id"] and again.headers["idempotent-replayed"] == "true"


@pytest.mark.parametrize(
    ("inputs", "field", "words"),
    [
        ({"sampler": "nope"}, "inputs.sampler", "is not one of"),
        ({"steps": "many"}, "inputs.steps", "must be an integer"),
        ({"steps": 0}, "inputs.steps", "below the minimum 1"),
        ({"cfg": True}, "inputs.cfg", "must be a number"),
        ({"colour": "red"}, "inputs.colour", "unknown input"),
        ({"prompt": 5}, "inputs.prompt", "must be a string"),
    ],
)
def test_bad_run_inputs_are_422s_naming_the_input(live: Live, inputs: dict[str, Any], field: str, words: str) -> None:
    assert live.client.post("/v1/workflows", json={"name": "strict", "workflow": SD15}).status_code in (200, 201)
    error = refused(live, "/v1/workflows/strict/runs", {"inputs": inputs})
    assert error["type"] == "invalid_request" and error["details"][0]["field"] == field and words in error["message"]


@pytest.mark.parametrize(
    ("workflow", "words"),
    [
        ({"1": {"class_type": "NoSuchNode", "inputs": {}}, **SD15}, "does not know: NoSuchNode"),
        ({"1": {"class_type": "KSampler", "inputs": {}}}, "no output node"),
        ({"9": {"class_type": "SaveImage", "inputs": {"images": ["42", 0]}}}, "links to node '42'"),
        ({"9": {"inputs": {}}}, "has no class_type"),
        ({}, "no nodes"),
        ({**SD15, "5": node("EmptyLatentImage", "Latent", width=8, height=512, batch_size=1)}, "own value"),
    ],
)
def test_bad_graphs_are_422s(live: Live, workflow: dict[str, Any], words: str) -> None:
    error = refused(live, "/v1/workflows", {"name": "bad", "workflow": workflow})
    assert words in error["message"] and error["details"]["field"].startswith("workflow"), error


def test_bad_uploads_are_422s_naming_the_field(live: Live) -> None:
    assert refused(live, "/v1/workflows", {"name": "Bad Name", "workflow": SD15})["details"][0]["field"] == "name"
    error = refused(live, "/v1/workflows", {"name": "o", "workflow": SD15, "inputs": {"ghost": {"hidden": True}}})
    assert error["details"]["field"] == "inputs.ghost" and "node" in error["message"]
    error = refused(
        live, "/v1/workflows", {"name": "o", "workflow": SD15, "inputs": {"steps": {"minimum": 9, "maximum": 2}}}
    )
    assert error["details"]["field"] == "inputs.steps"
    error = refused(live, "/v1/workflows", {"name": "o", "workflow": SD15, "inputs": {"prompt": {"minimum": 1}}})
    assert "apply to numbers" in error["message"]


def test_overrides_and_title_annotations(live: Live) -> None:
    graph = copy.deepcopy(SD15)
    graph["7"]["_meta"]["title"] = "input:avoid"
    overrides = {
        "prompt": {"name": "text", "description": "What to draw"},
        "seed": {"hidden": True},
        "steps": {"maximum": 30},
        "prefix": {"node": "Save Image", "input": "filename_prefix"},
    }
    props = upload(live, "annotated", graph, inputs=overrides)["inputs"]["properties"]
    assert "prompt" not in props and props["text"]["description"] == "What to draw"
    assert "seed" not in props and "negative_prompt" not in props and props["avoid"]["default"] == "text, watermark"
    assert props["steps"]["maximum"] == 30 and props["prefix"]["default"] == "ComfyUI"
    assert (
        refused(live, "/v1/workflows/annotated/runs", {"inputs": {"steps": 31}})["details"][0]["field"]
        == "inputs.steps"
    )
    task = run(live, "annotated", {"text": "a kite", "avoid": "rain", "prefix": "kites"})
    assert task["status"] == "succeeded", task
    sent = received(live)
    assert sent["6"]["inputs"]["text"] == "a kite" and sent["7"]["inputs"]["text"] == "rain"
    assert sent["9"]["inputs"]["filename_prefix"] == "kites" and sent["3"]["inputs"]["seed"] == 156680208700286


def test_without_object_info_the_builtin_table_types_the_graph(live: Live) -> None:
    live.state.object_info_enabled = False
    custom = {**SD15, "20": {"class_type": "MyCustomNode", "inputs": {"images": ["8", 0]}}}
    wf = upload(live, "offline", custom)
    assert wf["analyzed_with"] == "builtin"
    props = wf["inputs"]["properties"]
    assert props["steps"]["minimum"] == 1 and "euler" in props["sampler"]["enum"]
    assert "enum" not in props["checkpoint"]  # the server's files are unknown here


def test_a_ui_format_upload_is_converted_and_runs(live: Live) -> None:
    wf = upload(live, "from-ui", SD15_UI)
    assert wf["source"] == "ui" and wf["inputs"]["properties"]["steps"]["default"] == 12  # the primitive's value
    assert wf["inputs"]["properties"]["prompt"]["description"] == "Positive (node 6): text"
    task = run(live, "from-ui", {"prompt": "a harbour at dawn", "steps": 3})
    assert task["status"] == "succeeded", task
    graph = received(live)
    assert graph["6"]["inputs"]["text"] == "a harbour at dawn" and graph["3"]["inputs"]["steps"] == 3
    assert graph["8"]["inputs"]["vae"] == ["4", 2]  # through the reroute
    live.state.object_info_enabled = False
    unknown = copy.deepcopy(SD15_UI)
    unknown["nodes"].append({"id": 50, "type": "MysteryNode", "mode": 0, "inputs": [], "widgets_values": [1]})
    error = refused(live, "/v1/workflows", {"name": "mystery", "workflow": unknown})
    assert "MysteryNode" in error["message"] and "Save (API)" in error["message"]


ADMIN = "admin-key-0123456789abcdef"


def test_tenants_see_only_their_workflows_and_uploads_can_be_admin_only(tmp_path: Path) -> None:
    with COMFYUI.serve() as (_, url):
        providers = {"comfyui": app_config(COMFYUI, url)}
        auth = {"mode": "keys", "admin_key": ADMIN}
        args = local_args(tmp_path, providers=providers, auth=auth, workflows={"admin_only_upload": True})
        with running_app(args) as app, httpx.Client(base_url=app.url, timeout=30) as admin:
            admin.headers["Authorization"] = f"Bearer {ADMIN}"
            keys = []
            for name in ("alice", "bob"):
                tenant = admin.post("/v1/admin/tenants", json={"name": name}).json()
                key = admin.post(f"/v1/admin/tenants/{tenant['id']}/keys", json={}).json()["key"]
                keys.append((tenant["id"], {"Authorization": f"Bearer {key}"}))
            (alice_id, alice), (_, bob) = keys
            body = {"name": "sd15", "workflow": SD15}
            denied = admin.post("/v1/workflows", json=body, headers=alice)
            assert denied.status_code == 403, denied.text
            assert admin.post("/v1/workflows", json=body, params={"tenant": alice_id}).status_code == 201
            assert admin.post("/v1/workflows", json=body, params={"tenant": "ten_nobody"}).status_code == 404
            assert [w["name"] for w in admin.get("/v1/workflows", headers=alice).json()["data"]] == ["sd15"]
            assert admin.get("/v1/workflows", headers=bob).json()["data"] == []
            assert admin.get("/v1/workflows/sd15", headers=bob).status_code == 404
            assert list(admin.get("/meta/schemas", headers=alice).json()["workflows"]) == ["sd15"]
            assert admin.get("/meta/schemas").json()["workflows"] == {}  # the admin key: no tenant
            assert admin.post("/v1/workflows/sd15/runs", json={}, headers=bob).status_code == 404
            ran = admin.post("/v1/workflows/sd15/runs", json={"inputs": {"steps": 1}}, headers=alice)
            assert ran.status_code == 202 and ran.json()["tenant_id"] == alice_id


async def test_the_python_clients_upload_and_run_workflows(live: Live) -> None:
    from genpulse.client import AsyncGenPulse, GenPulse

    with GenPulse(live.app.url) as client:
        made = client.upload_workflow("sdk", SD15, description="via the SDK", inputs={"seed": {"hidden": True}})
        assert made.version == 1 and "seed" not in made.inputs["properties"]
        task = client.wait(client.run_workflow("sdk", {"prompt": "a heron"}).id, timeout=30)
        assert task.status == "succeeded" and received(live)["6"]["inputs"]["text"] == "a heron"
    async with AsyncGenPulse(live.app.url) as aclient:
        assert (await aclient.workflow("sdk", 1)).workflow["9"]["class_type"] == "SaveImage"
        run_task = await aclient.run_workflow("sdk", {"steps": 2}, version=1, idempotency_key="sdk-1")
        assert (await aclient.run_workflow("sdk", {"steps": 2}, version=1, idempotency_key="sdk-1")).id == run_task.id
        assert (await aclient.wait(run_task.id, timeout=30)).status == "succeeded"
