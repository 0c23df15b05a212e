"""Provider ``comfyui``: self-hosted ComfyUI servers running a workflow given in the task's params.

Servers come only from config (``servers``, or ``base_url`` for one), never from a request; a job goes to the
least busy reachable one (``GET /queue``). Submit: upload input images (``POST /upload/image``) and set them and
the other ``inputs`` into the workflow (nodes by id or ``_meta.title``), then ``POST /prompt`` with our own
``client_id`` (and ``prompt_id`` for servers that accept it). The job id is ``<server key>:<prompt id>:<client
id>`` (the key is a hash of the server URL, so no address is stored in a task). Poll: ``/history/{id}`` is the
truth; while it is empty, ``/ws?clientId=`` is watched for a bounded window for progress and the end, and
``/queue`` says queued or running; a prompt in neither is lost (server restarted): a failed, retryable job.
``execution_error`` fails the job, ``execution_interrupted`` cancels it, fully cached runs succeed with their
outputs. Outputs are ``/view`` URLs (images and videos). Cancel: ``POST /queue {"delete"}`` while pending,
``POST /interrupt`` while running. Every call has a timeout (``timeout_s``; the websocket window ``ws_window_s``).
"""

from __future__ import annotations

import asyncio
import base64
import copy
import hashlib
import mimetypes
import uuid
from typing import Any, cast
from urllib.parse import urlencode

import httpx
from pydantic import BaseModel

from genpulse.core.config import AppArgs
from genpulse.core.errors import (
    ContentModerated,
    ExecutionError,
    GenPulseError,
    MalformedReply,
    ProviderAuthError,
    ProviderError,
    ProviderInvalidInput,
    ProviderServerError,
)
from genpulse.core.url_guard import UrlGuard
from genpulse.media.inputs import split_image
from genpulse.providers.cloud import CloudProvider, JobState, VendorJob, VendorOutput
from genpulse.providers.http import retry_after, send_json, status_error, transport_error
from genpulse.providers.vendors.comfyui_events import RunView, Watcher, from_history
from genpulse.providers.vendors.comfyui_params import (
    ComfyUIImageToVideo,
    ComfyUIWorkflow,
    ComfyUIWorkflowRun,
    resolve_node,
)

MAX_INPUT_IMAGE_BYTES = 20 << 20


_MODERATION_WORDS = ("nsfw", "content filter", "content policy", "safety check", "moderation", "unsafe content")


def _moderated(text: str) -> bool:
    lowered = text.lower()
    return any(word in lowered for word in _MODERATION_WORDS)


def classify_prompt(status: int, body: Any) -> GenPulseError | None:
    """``POST /prompt`` 400: ``{"error": {type, message, details}, "node_errors": {id: {errors, class_type}}}``."""
    if status != 400 or not isinstance(body, dict) or not isinstance(body.get("error"), dict):
        return None
    err, problems = body["error"], []
    for node_id, info in (body.get("node_errors") or {}).items():
        for e in (info or {}).get("errors") or []:
            problems.append(f"node {node_id} ({info.get('class_type')}): {e.get('message')}: {e.get('details')}")
    text = "; ".join(problems) or str(err.get("details") or "")
    message = f"comfyui: {err.get('message', 'invalid prompt')}: {text}"[:1000]
    cls = ContentModerated if _moderated(f"{err.get('message', '')} {text}") else ProviderInvalidInput
    return cls(message, provider_code=str(err.get("type")))


def _key(server: str) -> str:
    return hashlib.sha256(server.encode()).hexdigest()[:10]


class ComfyUIProvider(CloudProvider):
    name = "comfyui"
    description = "Self-hosted ComfyUI servers running your workflow (API format)."
    required_credentials = ()
    ws_window_s: float = 10.0

    def __init__(self, args: AppArgs) -> None:
        super().__init__(args)
        self._watchers: dict[str, Watcher] = {}  # client id -> the job's websocket

    def param_models(self) -> dict[str, type[BaseModel]]:
        return {
            "text-to-image": ComfyUIWorkflow,
            "text-to-video": ComfyUIWorkflow,
            "image-to-video": ComfyUIImageToVideo,
            "workflow": ComfyUIWorkflowRun,  # a stored workflow's run (genpulse.workflows)
        }

    def servers(self) -> list[str]:
        urls = self.config.servers or ([self.config.base_url] if self.config.base_url else [])
        return [u.rstrip("/") for u in urls]

    def is_configured(self) -> bool:
        return bool(self.servers())

    def limits(self) -> dict[str, Any]:
        return {**super().limits(), "servers": len(self.servers())}

    async def _send(self, client: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> Any:
        return await send_json(client, self.name, method, url, timeout=self.config.timeout_s, **kwargs)

    async def submit(self, client: httpx.AsyncClient, task_type: str, params: BaseModel) -> VendorJob:
        params = cast(ComfyUIWorkflow, params)
        try:  # nothing is queued before /prompt: failures up to here may be retried freely
            server = await self._pick_server(client)
            workflow = copy.deepcopy(params.workflow)
            for image in params.images:
                node = workflow[resolve_node(workflow, image.node)]
                node.setdefault("inputs", {})[image.input] = await self._upload(client, server, image.image)
        except GenPulseError as exc:  # nothing is queued yet: the vendor surely has no job
            exc.details = {**(exc.details if isinstance(exc.details, dict) else {}), "request_sent": False}
            exc.details["refused"] = True
            raise
        for item in params.inputs:
            workflow[resolve_node(workflow, item.node)].setdefault("inputs", {})[item.input] = item.value
        client_id, prompt_id = str(uuid.uuid4()), str(uuid.uuid4())
        watcher = self._watch(server, client_id, None)
        await watcher.opened(min(2.0, self.config.timeout_s))  # listen before queueing: no message is missed
        body = {"prompt": workflow, "client_id": client_id, "prompt_id": prompt_id}
        try:
            reply = await self._send(client, "POST", f"{server}/prompt", json=body, classify=classify_prompt)
            prompt_id = reply.get("prompt_id") if isinstance(reply, dict) else None
            if not isinstance(prompt_id, str) or not prompt_id:
                raise MalformedReply(f"comfyui: /prompt reply has no prompt_id: {reply!r:.200}")
        except BaseException:
            self._unwatch(client_id)
            raise
        watcher.prompt_id = prompt_id
        return VendorJob(f"{_key(server)}:{prompt_id}:{client_id}", JobState.queued, raw_status="queued")

    def _watch(self, server: str, client_id: str, prompt_id: str | None) -> Watcher:
        watcher = self._watchers.get(client_id)
        if watcher is None or (not watcher.alive and watcher.view.finished is None):
            ws_url = "ws" + server[4:] + "/ws?" + urlencode({"clientId": client_id})
            watcher = self._watchers[client_id] = Watcher(ws_url, prompt_id, self.config.timeout_s)
            if len(self._watchers) > 10_000:  # jobs nobody polls any more
                for key in [k for k, w in self._watchers.items() if not w.alive]:
                    del self._watchers[key]
        return watcher

    def _unwatch(self, client_id: str) -> RunView | None:
        watcher = self._watchers.pop(client_id, None)
        if watcher is None:
            return None
        watcher.close()
        return watcher.view

    async def _pick_server(self, client: httpx.AsyncClient) -> str:
        refusals: list[ProviderAuthError] = []

        async def load(server: str) -> tuple[int, str] | None:
            try:
                queue = await self._send(client, "GET", f"{server}/queue")
                return len(queue.get("queue_running") or []) + len(queue.get("queue_pending") or []), server
            except ProviderAuthError as exc:  # a reverse proxy refused our credentials: no retry will help
                refusals.append(exc)
                return None
            except (GenPulseError, AttributeError):
                return None

        loads = [x for x in await asyncio.gather(*(load(s) for s in self.servers())) if x is not None]
        if not loads and refusals:
            raise refusals[0]
        if not loads:
            raise ProviderServerError(f"comfyui: none of the {len(self.servers())} configured servers answers")
        return min(loads)[1]

    async def _upload(self, client: httpx.AsyncClient, server: str, ref: str) -> str:
        value = split_image(ref)
        if value.url:
            data, mime = await self._fetch(client, value.url)
        else:
            data, mime = base64.b64decode(value.b64 or ""), value.mime
        name = f"genpulse-{uuid.uuid4().hex}{mimetypes.guess_extension(mime) or '.png'}"
        reply = await self._send(
            client,
            "POST",
            f"{server}/upload/image",
            files={"image": (name, data, mime)},
            data={"type": "input", "overwrite": "true"},
        )
        if not isinstance(reply, dict) or not isinstance(reply.get("name"), str):
            raise MalformedReply(f"comfyui: /upload/image reply has no name: {reply!r:.200}")
        return f"{reply['subfolder']}/{reply['name']}" if reply.get("subfolder") else reply["name"]

    async def _fetch(self, client: httpx.AsyncClient, url: str) -> tuple[bytes, str]:
        """A user's image URL, fetched through the SSRF guard (``genpulse.core.url_guard``), not the vendor client."""
        guarded = UrlGuard(self.args.security).client(timeout=self.config.timeout_s, follow_redirects=True)
        try:
            async with guarded, guarded.stream("GET", url) as response:
                if response.status_code >= 400:
                    raise ProviderInvalidInput(f"comfyui: input image {url} answered HTTP {response.status_code}")
                chunks, size = [], 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > MAX_INPUT_IMAGE_BYTES:
                        raise ProviderInvalidInput(f"comfyui: input image larger than {MAX_INPUT_IMAGE_BYTES} bytes")
                    chunks.append(chunk)
                return b"".join(chunks), response.headers.get("content-type", "image/png").split(";")[0]
        except httpx.HTTPError as exc:
            raise ProviderServerError(f"comfyui: input image download failed: {type(exc).__name__}") from None

    def _parse(self, job_id: str) -> tuple[str | None, str, str]:
        key, prompt_id, client_id = [*job_id.split(":"), "", ""][:3]
        return next((s for s in self.servers() if _key(s) == key), None), prompt_id, client_id

    async def _history(self, client: httpx.AsyncClient, server: str, prompt_id: str) -> RunView | None:
        reply = await self._send(client, "GET", f"{server}/history/{prompt_id}")
        if not isinstance(reply, dict):
            raise MalformedReply(f"comfyui: /history reply is not an object: {reply!r:.200}")
        return from_history(prompt_id, reply[prompt_id]) if prompt_id in reply else None

    async def poll(self, client: httpx.AsyncClient, task_type: str, job_id: str) -> VendorJob:
        server, prompt_id, client_id = self._parse(job_id)
        if server is None:
            return _lost(job_id, "its server is no longer configured")
        done = await self._history(client, server, prompt_id)
        if done is None:
            watcher = self._watch(server, client_id, prompt_id)
            await watcher.wait(min(self.ws_window_s, self.config.timeout_s))
            done = await self._history(client, server, prompt_id)
        if done is not None:
            seen = self._unwatch(client_id)
            if not done.files and seen is not None:
                done.files = seen.files  # some versions keep a cached run's outputs only in `executed` messages
            return _finished(job_id, server, done)
        view = watcher.view
        if view.finished:  # the socket saw the end before /history was written: look again soon
            return VendorJob(job_id, JobState.running, progress=99.0, raw_status="finishing")
        where = await self._where(client, server, prompt_id)
        if where is None:  # it may have ended between the two reads
            done = await self._history(client, server, prompt_id)
            self._unwatch(client_id)
            if done is not None:
                return _finished(job_id, server, done)
            return _lost(job_id, "the server no longer knows the prompt (restarted?)")
        state = JobState.running if where == "running" or view.started else JobState.queued
        return VendorJob(job_id, state, progress=view.progress, raw_status=where)

    async def _where(self, client: httpx.AsyncClient, server: str, prompt_id: str) -> str | None:
        queue = await self._send(client, "GET", f"{server}/queue")
        if not isinstance(queue, dict):
            raise MalformedReply(f"comfyui: /queue reply is not an object: {queue!r:.200}")
        for where in ("running", "pending"):
            items = queue.get(f"queue_{where}") or []
            if any(isinstance(i, list) and len(i) > 1 and i[1] == prompt_id for i in items):
                return where
        return None

    async def cancel(self, client: httpx.AsyncClient, task_type: str, job_id: str) -> bool:
        server, prompt_id, client_id = self._parse(job_id)
        if server is None:
            return False
        where = await self._where(client, server, prompt_id)
        self._unwatch(client_id)
        if where == "pending":
            await self._post_empty(client, f"{server}/queue", {"delete": [prompt_id]})
        elif where == "running":
            await self._post_empty(client, f"{server}/interrupt", {"prompt_id": prompt_id})
        return where is not None

    async def _post_empty(self, client: httpx.AsyncClient, url: str, body: dict[str, Any]) -> None:
        """``/queue`` and ``/interrupt`` answer 200 with an empty body."""
        try:
            response = await client.post(url, json=body, timeout=self.config.timeout_s)
        except httpx.HTTPError as exc:
            raise transport_error(self.name, "POST", url, exc) from None
        if not response.is_success:
            raise status_error(self.name, response.status_code, response.text, retry_after(response))

    def poll_delay(self, task_type: str, elapsed_s: float, polls: int) -> float:
        if self.config.poll_interval_s is not None:
            return self.config.poll_interval_s
        return 0.5 if elapsed_s < 30 else 2.0  # each poll already waits on the websocket


def _lost(job_id: str, why: str) -> VendorJob:
    prompt_id = job_id.split(":")[1] if ":" in job_id else job_id
    error = ProviderServerError(f"comfyui: prompt {prompt_id} is lost: {why}", provider_code="lost")
    return VendorJob(job_id, JobState.failed, error=error, raw_status="lost")


def _finished(job_id: str, server: str, view: RunView) -> VendorJob:
    if view.finished == "success":
        outputs = []
        for f in [f for f in view.files if f.type != "temp"] or view.files:  # previews only when nothing was saved
            mime = mimetypes.guess_type(f.filename)[0] or "application/octet-stream"
            kind = mime.split("/")[0] if mime.split("/")[0] in ("image", "video", "audio") else "file"
            url = f"{server}/view?" + urlencode({"filename": f.filename, "subfolder": f.subfolder, "type": f.type})
            outputs.append(VendorOutput(kind, url=url, content_type=mime, extra={"filename": f.filename}))
        return VendorJob(job_id, JobState.succeeded, 100.0, outputs, raw_status="success")
    err = view.error
    where = f"node {err.get('node_id')} ({err.get('node_type')})" if err else "an unrecorded node"
    if view.finished == "interrupted":
        interrupted = ProviderError(f"comfyui: interrupted at {where}", provider_code="execution_interrupted")
        return VendorJob(job_id, JobState.canceled, error=interrupted, raw_status="interrupted")
    kind = str(err.get("exception_type") or "execution_error")
    message = f"comfyui: {where} failed: {kind}: {err.get('exception_message', '')}".strip()[:1000]
    cls: type[GenPulseError] = ContentModerated if _moderated(f"{kind} {message}") else ExecutionError
    if "OutOfMemory" in kind:
        cls = ProviderServerError  # the run ended either way: the runner makes a job-level failure final
    return VendorJob(job_id, JobState.failed, error=cls(message, provider_code=kind), raw_status="error")
