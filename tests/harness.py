"""The real HTTP API over real HTTP on 127.0.0.1, with the whole service in-process (no Ray).

    with running_app(args) as app:
        httpx.post(f"{app.url}/v1/tasks", json=...)

Vendor e2e tests point ``args.providers.<name>.base_url`` at their imitation server.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genpulse.api.app import create_api
from genpulse.core.config import AppArgs
from genpulse.jobs.runners import Generate
from genpulse.tasks import TaskStore
from genpulse.wiring.in_process import LocalRuntime, build_local
from tests.vendors.server import serve_asgi


@dataclass
class RunningApp:
    url: str
    runtime: LocalRuntime


def local_args(tmp_path: Path, tiny_cache: Path | None = None, **overrides: Any) -> AppArgs:
    """AppArgs for tests: data under ``tmp_path``, the tiny model cache shared by the session."""
    base: dict[str, Any] = {
        "storage": {"path": str(tmp_path / "data")},
        "diffusion": {"cache_dir": str(tiny_cache or tmp_path / "models")},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    return AppArgs.load(base)


@contextlib.contextmanager
def running_app(
    args: AppArgs,
    *,
    store: TaskStore | None = None,
    generate: Generate | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[RunningApp]:
    """``clock``: the rate limiters' (a test moves it on to end a cooldown)."""
    runtime = build_local(args, store=store, generate=generate, clock=clock)
    app = create_api(args.server.max_body_bytes, args.server.max_long_lived)
    app.state.service = runtime.service
    with serve_asgi(app) as url:
        yield RunningApp(url, runtime)
