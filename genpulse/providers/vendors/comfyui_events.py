"""Reading a ComfyUI prompt's fate: websocket events and ``/history`` entries, folded into one ``RunView``.

A ``Watcher`` keeps a job's ``/ws?clientId=`` socket open and folds the prompt's messages (``execution_start``,
``execution_cached``, ``executing``, ``progress``, ``executed``, ``execution_success``, ``execution_error``,
``execution_interrupted``) into a ``RunView``; it never raises for a socket problem (the caller falls back to
``/history`` and ``/queue``). ``from_history`` reads a finished ``/history/{id}`` entry; its outputs are every
``{filename, subfolder, type}`` found under any list-valued key of any node (``images``, ``gifs``, ``videos``, ...).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from genpulse.core.errors import MalformedReply

log = logging.getLogger("genpulse.comfyui")


@dataclass
class FileRef:
    filename: str
    subfolder: str
    type: str


@dataclass
class RunView:
    started: bool = False
    progress: float | None = None
    finished: str | None = None  # "success" | "error" | "interrupted"
    error: dict[str, Any] = field(default_factory=dict)
    files: list[FileRef] = field(default_factory=list)


def collect_files(outputs: Any) -> list[FileRef]:
    """Every file the node outputs list, once each."""
    found: dict[tuple[str, str, str], FileRef] = {}
    for node_out in (outputs or {}).values() if isinstance(outputs, dict) else []:
        if not isinstance(node_out, dict):
            continue
        for items in node_out.values():
            for item in items if isinstance(items, list) else []:
                if isinstance(item, dict) and isinstance(item.get("filename"), str) and item["filename"]:
                    ref = FileRef(item["filename"], str(item.get("subfolder") or ""), str(item.get("type") or "output"))
                    found.setdefault((ref.filename, ref.subfolder, ref.type), ref)
    return list(found.values())


def apply_message(view: RunView, prompt_id: str, message: dict[str, Any]) -> None:
    kind, data = message.get("type"), message.get("data")
    if not isinstance(data, dict) or data.get("prompt_id") != prompt_id:
        return
    if kind in ("execution_start", "execution_cached"):
        view.started = True
    elif kind == "executing":
        view.started = True
        if data.get("node") is None:  # the legacy completion signal
            view.finished = view.finished or "success"
    elif kind == "progress" and isinstance(data.get("value"), int | float) and data.get("max"):
        view.started = True
        # per node; kept monotonic so a second sampler (refiner, upscaler) does not move the task backwards
        view.progress = max(view.progress or 0.0, min(100.0, 100.0 * data["value"] / data["max"]))
    elif kind == "executed":
        view.files.extend(collect_files({"n": data.get("output")}))
    elif kind == "execution_success":
        view.finished = "success"
    elif kind == "execution_error":
        view.finished, view.error = "error", data
    elif kind == "execution_interrupted":
        view.finished, view.error = "interrupted", data


def from_history(prompt_id: str, entry: Any) -> RunView:
    """A finished ``/history`` entry. Older servers have no ``status``: outputs alone mean success."""
    if not isinstance(entry, dict) or not isinstance(entry.get("outputs", {}), dict):
        raise MalformedReply(f"comfyui: history of {prompt_id} is not an object with `outputs`")
    view = RunView(started=True, files=collect_files(entry.get("outputs")))
    status = entry.get("status")
    if status is None:
        if "outputs" not in entry:
            raise MalformedReply(f"comfyui: history of {prompt_id} has neither status nor outputs")
        view.finished = "success"
        return view
    if not isinstance(status, dict):
        raise MalformedReply(f"comfyui: history of {prompt_id} has a malformed status")
    for item in status.get("messages") or []:
        if isinstance(item, list | tuple) and len(item) == 2 and isinstance(item[1], dict):
            apply_message(view, prompt_id, {"type": item[0], "data": {"prompt_id": prompt_id, **item[1]}})
    state = status.get("status_str")
    if state == "success":
        view.finished = "success"
    elif state == "error":
        view.finished = "interrupted" if view.finished == "interrupted" else "error"
    else:
        raise MalformedReply(f"comfyui: unknown status_str {state!r} for prompt {prompt_id}", provider_code=str(state))
    return view


class Watcher:
    """Holds one job's websocket (``/ws?clientId=``, unique per job) open and folds its messages into ``view``.

    Opened before ``POST /prompt`` so no message is missed; it ends when the prompt ends, when the socket fails,
    or after ``idle_s`` without a ``wait`` (a job nobody polls any more). A socket failure is only logged: the
    caller reads ``/history`` and ``/queue`` instead.
    """

    def __init__(self, ws_url: str, prompt_id: str | None, open_timeout_s: float, idle_s: float = 120.0) -> None:
        self.ws_url, self.prompt_id, self.view = ws_url, prompt_id, RunView()
        self._open_timeout_s, self._idle_s = open_timeout_s, idle_s
        self._last_used = time.monotonic()
        self._opened, self._ended = asyncio.Event(), asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run())

    @property
    def alive(self) -> bool:
        return not self._task.done()

    async def opened(self, timeout_s: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._opened.wait(), timeout_s)

    async def wait(self, window_s: float) -> None:
        """Until the prompt ends or the socket closes, at most ``window_s``."""
        self._last_used = time.monotonic()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ended.wait(), window_s)

    def close(self) -> None:
        self._task.cancel()

    async def _run(self) -> None:
        from websockets.asyncio.client import connect
        from websockets.exceptions import WebSocketException

        try:
            async with connect(self.ws_url, open_timeout=self._open_timeout_s, close_timeout=1, max_size=8 << 20) as ws:
                self._opened.set()
                while self.view.finished is None and time.monotonic() - self._last_used < self._idle_s:
                    try:
                        frame = await asyncio.wait_for(ws.recv(), timeout=1.0)
                    except TimeoutError:
                        continue
                    if not isinstance(frame, bytes):  # binary frames are preview images
                        self._fold(frame)
        except (OSError, TimeoutError, WebSocketException) as exc:
            log.info("comfyui: websocket %s unavailable (%s); reading /history instead", self.ws_url, type(exc))
        finally:
            self._opened.set()
            self._ended.set()

    def _fold(self, frame: str) -> None:
        with contextlib.suppress(ValueError):
            message = json.loads(frame)
            data = message.get("data") if isinstance(message, dict) else None
            if isinstance(data, dict) and isinstance(data.get("prompt_id"), str):
                apply_message(self.view, self.prompt_id or data["prompt_id"], message)
