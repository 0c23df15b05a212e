"""Imitation of a ComfyUI server: ``/prompt``, ``/queue``, ``/history``, ``/view``, ``/upload/image``, ``/interrupt``
and the ``/ws`` websocket, executing prompts one at a time (FIFO) like ComfyUI's prompt worker.

``POST /prompt`` validates as ComfyUI does (400 ``no_prompt``, ``invalid_prompt`` for an unknown class_type,
``prompt_no_outputs``, ``prompt_outputs_failed_validation`` with ``node_errors`` for an unknown checkpoint or a
LoadImage of a file never uploaded). Execution sends ``execution_start``, ``execution_cached``, ``executing``,
``progress``, ``executed``, ``execution_success`` (then writes ``/history`` and sends ``executing`` with
``node: null``), only to the socket of the prompt's ``client_id``. Outcomes (a ``[outcome:…]`` marker anywhere in
the prompt, else ``state.outcomes``): ``succeed``,
``error`` (``execution_error`` in KSampler), ``forever`` (runs until ``/interrupt``), ``cached`` (every node
cached), ``cached_empty`` (cached, outputs only in ``executed`` messages), ``legacy`` (history without
``status``), ``lost`` (vanishes, as on a restart), ``unknown`` (an undocumented ``status_str``), ``malformed``.
``state.held`` keeps prompts queued; ``state.ws_enabled = False`` refuses websockets; ``state.errors`` takes
``"http_500"`` or ``"slow"`` (answer after 2 s) for the next HTTP request. ``GET /object_info`` describes the
core nodes it knows (``comfyui_object_info``); ``state.object_info_enabled = False`` makes it a 404, as on a
server behind a proxy that only passes the prompt routes.
"""

from __future__ import annotations

import asyncio
import contextlib
import mimetypes
import time
import uuid
from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import default as email_policy
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from tests.vendors.comfyui_object_info import LORAS, object_info
from tests.vendors.common import FAKE_MP4, FaultInjector, Imitation

CKPTS = {"v1-5-pruned-emaonly.safetensors", "tiny.safetensors", "sd_xl_base_1.0.safetensors",
         "sd_xl_refiner_1.0.safetensors", "svd_xt.safetensors"}  # fmt: skip
CLASSES = set(object_info([], []))
OUTPUT_CLASSES = {"SaveImage", "PreviewImage", "SaveVideo", "VHS_VideoCombine"}


# API-format workflows the imitation runs: text-to-image (a saved image and a preview) and image-to-video
T2I_WORKFLOW = {
    "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "tiny.safetensors"}},
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a cat", "clip": ["4", 1]},
          "_meta": {"title": "Positive"}},
    "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
    "3": {"class_type": "KSampler", "inputs": {"seed": 5, "steps": 4, "model": ["4", 0], "positive": ["6", 0],
                                               "latent_image": ["5", 0]}},
    "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
    "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "ComfyUI", "images": ["8", 0]}},
    "10": {"class_type": "PreviewImage", "inputs": {"images": ["8", 0]}},
}  # fmt: skip
I2V_WORKFLOW = {
    "1": {"class_type": "LoadImage", "inputs": {"image": "placeholder.png"}, "_meta": {"title": "First frame"}},
    "3": {"class_type": "KSampler", "inputs": {"steps": 2, "latent_image": ["1", 0]}},
    "7": {"class_type": "VHS_VideoCombine", "inputs": {"images": ["3", 0], "frame_rate": 8}},
}


def ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Prompt:
    id: str
    number: int
    workflow: dict[str, Any]
    client_id: str
    outcome: str


class ComfyState(Imitation):
    """Prompts are executed in real time (``step_s`` per sampler step), not by the clock; every accepted prompt
    is also a ``Job`` in ``jobs`` (``canceled`` once deleted from the queue or interrupted)."""

    file_paths = ("/view",)

    def __init__(self, step_s: float = 0.03, honour_prompt_id: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.step_s, self.honour_prompt_id = step_s, honour_prompt_id
        self.pending: list[Prompt] = []
        self.running: Prompt | None = None
        self.history: dict[str, dict[str, Any]] = {}
        self.files: dict[tuple[str, str, str], bytes] = {}
        self.sockets: dict[str, WebSocket] = {}
        self.interrupts: list[Any] = []
        self.held = False
        self.ws_enabled = True
        self.object_info_enabled = True
        self._interrupt = False
        self._worker: asyncio.Task[None] | None = None

    def reset(self) -> None:
        super().reset()
        self.pending.clear()
        self.held, self.ws_enabled, self.object_info_enabled = False, True, True

    def queue_item(self, p: Prompt) -> list[Any]:
        return [p.number, p.id, p.workflow, {"client_id": p.client_id}, []]

    async def send(self, p: Prompt, kind: str, data: dict[str, Any]) -> None:
        ws = self.sockets.get(p.client_id)
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.send_json({"type": kind, "data": {**data, "prompt_id": p.id}})

    def save(self, p: Prompt, cls: str) -> dict[str, Any]:
        self._seq += 1
        if cls in ("SaveVideo", "VHS_VideoCombine"):
            name = f"ComfyUI_{self._seq:05d}_.mp4"
            self.files[("output", "video", name)] = FAKE_MP4
            ref = {"filename": name, "subfolder": "video", "type": "output"}
            return {"gifs": [{**ref, "format": "video/h264-mp4"}]} if cls == "VHS_VideoCombine" else {
                "images": [ref], "animated": [True]}  # fmt: skip
        kind = "temp" if cls == "PreviewImage" else "output"
        name = f"ComfyUI_{self._seq:05d}_.png"
        self.files[(kind, "", name)] = self.image_payload
        return {"images": [{"filename": name, "subfolder": "", "type": kind}]}

    async def work(self) -> None:
        while True:
            if self.held or not self.pending:
                await asyncio.sleep(0.01)
                continue
            self.running, self._interrupt = self.pending.pop(0), False
            try:
                await self.execute(self.running)
            finally:
                self.running = None

    async def execute(self, p: Prompt) -> None:
        messages: list[list[Any]] = []

        async def event(kind: str, data: dict[str, Any], record: bool = True) -> None:
            if record:
                messages.append([kind, {**data, "prompt_id": p.id, "timestamp": ms()}])
            await self.send(p, kind, data)

        await event("execution_start", {"timestamp": ms()})
        if p.outcome == "lost":
            return
        nodes = list(p.workflow)
        classes = {n: p.workflow[n]["class_type"] for n in nodes}
        loaders = [n for n in nodes if classes[n] == "CheckpointLoaderSimple"]
        cached = nodes if p.outcome.startswith("cached") else loaders
        await event("execution_cached", {"nodes": cached, "timestamp": ms()})
        outputs: dict[str, Any] = {}
        done: list[str] = []
        for node in nodes:
            if node not in cached:
                await self.send(p, "executing", {"node": node, "display_node": node})
            if node not in cached and classes[node] == "KSampler":
                steps, i = max(1, min(4, int(p.workflow[node]["inputs"].get("steps", 4)))), 0
                while i < steps or p.outcome == "forever":
                    if self._interrupt:
                        await event("execution_interrupted", {"node_id": node, "node_type": "KSampler",
                                                              "executed": done})  # fmt: skip
                        return self.finish(p, {}, messages, "error")
                    if p.outcome == "error":
                        await event("execution_error", {
                            "node_id": node, "node_type": "KSampler", "exception_type": "RuntimeError",
                            "exception_message": "mat1 and mat2 shapes cannot be multiplied", "traceback": ["..."],
                            "current_inputs": {}, "current_outputs": {}})  # fmt: skip
                        return self.finish(p, {}, messages, "error")
                    i += 1
                    await self.send(p, "progress", {"value": min(i, steps), "max": steps, "node": node})
                    await asyncio.sleep(self.step_s)
            if classes[node] in OUTPUT_CLASSES:
                outputs[node] = self.save(p, classes[node])
                await self.send(p, "executed", {"node": node, "display_node": node, "output": outputs[node]})
            done.append(node)
        await event("execution_success", {"timestamp": ms()})
        await asyncio.sleep(self.step_s)  # ComfyUI writes history after execution_success
        self.finish(p, {} if p.outcome == "cached_empty" else outputs, messages, "success")
        await self.send(p, "executing", {"node": None})

    def finish(self, p: Prompt, outputs: dict[str, Any], messages: list[list[Any]], status: str) -> None:
        entry: dict[str, Any] = {
            "prompt": [p.number, p.id, p.workflow, {"client_id": p.client_id, "create_time": ms()}, list(outputs)],
            "outputs": outputs,
            "status": {"status_str": status, "completed": status == "success", "messages": messages},
            "meta": {n: {"node_id": n, "display_node": n, "parent_node": None, "real_node_id": n} for n in outputs},
        }
        if p.outcome == "legacy":
            entry = {"prompt": entry["prompt"], "outputs": outputs}
        elif p.outcome == "unknown":
            entry["status"]["status_str"] = "paused"
        elif p.outcome == "malformed":
            entry["outputs"] = "none"
        self.history[p.id] = entry

    def validate(self, workflow: Any) -> tuple[dict[str, Any], dict[str, Any]] | None:
        if not isinstance(workflow, dict) or not workflow:
            return {"type": "no_prompt", "message": "No prompt provided", "details": "No prompt provided"}, {}
        for node_id, node in workflow.items():
            if not isinstance(node, dict) or node.get("class_type") not in CLASSES:
                msg = f"Cannot execute because node {node.get('class_type') if isinstance(node, dict) else None} " \
                      "does not exist."  # fmt: skip
                return {"type": "invalid_prompt", "message": msg, "details": f"Node ID '#{node_id}'"}, {}
        if not any(n["class_type"] in OUTPUT_CLASSES for n in workflow.values()):
            return {"type": "prompt_no_outputs", "message": "Prompt has no outputs", "details": ""}, {}
        node_errors = {}
        for node_id, node in workflow.items():
            inputs = node.get("inputs", {})
            bad = None
            if (
                node["class_type"] in ("CheckpointLoaderSimple", "ImageOnlyCheckpointLoader")
                and inputs.get("ckpt_name") not in CKPTS
            ):
                bad = ("ckpt_name", inputs.get("ckpt_name"))
            if node["class_type"] == "LoraLoader" and inputs.get("lora_name") not in LORAS:
                bad = ("lora_name", inputs.get("lora_name"))
            if node["class_type"] == "LoadImage":
                sub, _, name = str(inputs.get("image", "")).rpartition("/")
                if ("input", sub, name) not in self.files:
                    bad = ("image", inputs.get("image"))
            if bad:
                node_errors[node_id] = {"errors": [{"type": "value_not_in_list", "message": "Value not in list",
                                                    "details": f"{bad[0]}: '{bad[1]}' not in (list of length 2)",
                                                    "extra_info": {"input_name": bad[0], "received_value": bad[1]}}],
                                        "dependent_outputs": [], "class_type": node["class_type"]}  # fmt: skip
        if node_errors:
            return {"type": "prompt_outputs_failed_validation", "message": "Prompt outputs failed validation",
                    "details": "", "extra_info": {}}, node_errors  # fmt: skip
        return None


def _multipart(content_type: str, body: bytes) -> dict[str, tuple[str | None, bytes]]:
    raw = b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
    message = BytesParser(policy=email_policy).parsebytes(raw)
    fields = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        fields[str(name)] = (part.get_filename(), part.get_payload(decode=True) or b"")
    return fields


def build_app(state: ComfyState) -> Starlette:
    async def injected() -> Response | None:
        fault = state.errors.popleft() if state.errors else None
        if fault == "slow":
            await asyncio.sleep(2)
        if fault == "http_500":
            return PlainTextResponse("500: Internal Server Error", 500)
        return None

    async def prompt(request: Request) -> Response:
        if (fault := await injected()) is not None:
            return fault
        body = await request.json()
        state.requests.append(body)
        problem = state.validate(body.get("prompt"))
        if problem is not None:
            return JSONResponse({"error": {**problem[0], "extra_info": {}}, "node_errors": problem[1]}, 400)
        prompt_id = body.get("prompt_id") if state.honour_prompt_id and body.get("prompt_id") else str(uuid.uuid4())
        outcome = state.new_job(prompt_id, "image", body).outcome
        queued = Prompt(prompt_id, state.next_seq(), body["prompt"], str(body.get("client_id", "")), outcome)
        state.pending.append(queued)
        if state._worker is None or state._worker.done():
            state._worker = asyncio.get_running_loop().create_task(state.work())
        return JSONResponse({"prompt_id": prompt_id, "number": queued.number, "node_errors": {}})

    async def queue(request: Request) -> Response:
        if (fault := await injected()) is not None:
            return fault
        if request.method == "POST":
            body = await request.json()
            gone = [p for p in state.pending if body.get("clear") or p.id in set(body.get("delete", []))]
            for p in gone:
                state.jobs[p.id].canceled = True
            state.pending = [p for p in state.pending if p not in gone]
            return Response(status_code=200)
        running = [state.queue_item(state.running)] if state.running else []
        return JSONResponse({"queue_running": running, "queue_pending": [state.queue_item(p) for p in state.pending]})

    async def history(request: Request) -> Response:
        if (fault := await injected()) is not None:
            return fault
        prompt_id = request.path_params["prompt_id"]
        return JSONResponse({prompt_id: state.history[prompt_id]} if prompt_id in state.history else {})

    async def view(request: Request) -> Response:
        q = request.query_params
        name, sub, kind = q.get("filename", ""), q.get("subfolder", ""), q.get("type", "output")
        if not name or ".." in name or "/" in name or ".." in sub:
            return Response(status_code=400)
        data = state.files.get((kind, sub, name))
        if data is None:
            return Response(status_code=404)
        media_type = state.file_content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
        return Response(data, media_type=media_type)

    async def upload(request: Request) -> Response:
        fields = _multipart(request.headers.get("content-type", ""), await request.body())
        if "image" not in fields or not fields["image"][0]:
            return Response(status_code=400)
        filename, data = fields["image"]
        kind = fields.get("type", (None, b"input"))[1].decode() or "input"
        sub = fields.get("subfolder", (None, b""))[1].decode()
        name, n = str(filename), 0
        while (kind, sub, name) in state.files and fields.get("overwrite", (None, b""))[1] not in (b"true", b"1"):
            n += 1
            stem, dot, ext = str(filename).rpartition(".")
            name = f"{stem} ({n}).{ext}" if dot else f"{filename} ({n})"
        state.files[(kind, sub, name)] = data
        return JSONResponse({"name": name, "subfolder": sub, "type": kind})

    async def nodes(request: Request) -> Response:
        if not state.object_info_enabled:
            return Response(status_code=404)
        inputs = sorted({"example.png", *(name for kind, sub, name in state.files if kind == "input" and not sub)})
        return JSONResponse(object_info(sorted(CKPTS), inputs))

    async def interrupt(request: Request) -> Response:
        body = await request.json() if await request.body() else {}
        state.interrupts.append(body)
        if state.running and body.get("prompt_id") in (None, state.running.id):
            state._interrupt = True
            state.jobs[state.running.id].canceled = True
        return Response(status_code=200)

    async def ws(websocket: WebSocket) -> None:
        if not state.ws_enabled:
            await websocket.close(code=1008)
            return
        client_id = websocket.query_params.get("clientId") or uuid.uuid4().hex
        await websocket.accept()
        state.sockets[client_id] = websocket
        queue_remaining = len(state.pending) + (1 if state.running else 0)
        await websocket.send_json({"type": "status", "data": {"status": {"exec_info": {
            "queue_remaining": queue_remaining}}, "sid": client_id}})  # fmt: skip
        try:
            while True:
                await websocket.receive_text()
        except WebSocketDisconnect:
            pass
        finally:
            if state.sockets.get(client_id) is websocket:
                del state.sockets[client_id]

    return Starlette(
        middleware=[Middleware(FaultInjector, state=state)],
        routes=[
            Route("/prompt", prompt, methods=["POST"]),
            Route("/queue", queue, methods=["GET", "POST"]),
            Route("/history/{prompt_id}", history),
            Route("/view", view),
            Route("/upload/image", upload, methods=["POST"]),
            Route("/interrupt", interrupt, methods=["POST"]),
            Route("/object_info", nodes),
            WebSocketRoute("/ws", ws),
        ],
    )
