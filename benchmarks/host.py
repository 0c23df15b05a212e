"""The GenPulse side of a benchmark: a private Ray instance plus Serve, running ``deployments.app:build_app``.

Run as its own process (``python -m benchmarks.host ARGS_JSON READY_FILE``) so the Ray processes form one tree
under it, which the load driver accounts for (CPU, PSS). It writes ``{"port", "pid"}`` to READY_FILE once the
app is RUNNING and shuts Serve and Ray down on SIGTERM. Meanwhile it redeploys on request (``redeploy_forever``),
which lets the smoke tests pay for one Ray start instead of one per scenario.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any


def main(args_file: str, ready_file: str) -> None:
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    spec: dict[str, Any] = json.loads(Path(args_file).read_text())
    import ray
    from ray import serve

    from benchmarks.env import free_port
    from deployments.app import build_app
    from genpulse.core.config import AppArgs

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    ray.init(
        address="local",
        num_cpus=spec.get("num_cpus", 2),
        include_dashboard=False,
        namespace="genpulse-bench",
        object_store_memory=200 * 1024 * 1024,
        log_to_driver=False,
        _temp_dir=tempfile.mkdtemp(prefix="gpb-ray-"),
    )
    try:
        port = free_port()
        http_options = {"host": "127.0.0.1", "port": port, **spec.get("http_options", {})}
        if spec.get("callbacks"):  # vendor callbacks to this host's Serve port (loopback), with a fresh secret
            server = spec["args"].setdefault("server", {})
            server.update(public_url=f"http://127.0.0.1:{port}", callback_secret=os.urandom(24).hex())
        config = AppArgs.load(spec["args"])  # GENPULSE_* in this process's environment apply here
        serve.start(http_options=http_options, logging_config={"enable_access_log": config.server.access_log})
        serve.run(build_app(config), name="genpulse", route_prefix="/")
        node_id = ray.get_runtime_context().get_node_id()
        Path(ready_file).write_text(json.dumps({"port": port, "pid": os.getpid(), "node_id": node_id}))
        redeploy_forever(Path(ready_file).parent, port, stop)
    finally:
        try:
            serve.shutdown()
        finally:
            ray.shutdown()


def redeploy_forever(work: Path, port: int, stop: threading.Event) -> None:
    """Shared-host mode (smoke tests): ``request-K.json`` (build_app args) → redeploy → ``ready-K.json``."""
    from ray import serve

    from deployments.app import build_app

    while not stop.wait(0.1):
        for request in sorted(work.glob("request-*.json")):
            gen = request.stem.removeprefix("request-")
            args = json.loads(request.read_text())
            request.unlink()
            serve.delete("genpulse")
            serve.run(build_app(args), name="genpulse", route_prefix="/")
            (work / f"ready-{gen}.json").write_text(json.dumps({"port": port, "pid": os.getpid()}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
