"""A real GenPulse for the Java and TypeScript SDK tests: in-process (no Ray), tiny model, a slow fake vendor.

``diffusers`` runs the tiny random-weight model; ``kling`` points at the shared Kling-shaped fake vendor
(``../shared/bench/fakevendor.py``) whose jobs take ``VENDOR_JOB_S`` seconds: the long job tests cancel.
The SDK test suites read ``GENPULSE_URL`` and ``GENPULSE_WEBHOOK_VECTOR`` from the environment.

    python -m tests.sdk_server          # serve until Ctrl-C, for running `mvn -o test` / `npm test` by hand
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from benchmarks.env import VENDOR_AK, VENDOR_SK
from benchmarks.services import fake_vendor
from tests.harness import local_args, running_app

ROOT = Path(__file__).resolve().parent.parent
VECTOR = ROOT / "tests" / "vectors" / "webhook.json"
VENDOR_JOB_S = 120


@dataclass
class SdkServer:
    url: str

    def env(self) -> dict[str, str]:
        """The environment a client test run gets: the server and the shared webhook vector."""
        return {**os.environ, "GENPULSE_URL": self.url, "GENPULSE_WEBHOOK_VECTOR": str(VECTOR)}


@contextlib.contextmanager
def sdk_server(data_dir: Path, tiny_cache: Path) -> Iterator[SdkServer]:
    with fake_vendor(duration=str(VENDOR_JOB_S)) as vendor:
        kling = {"base_url": vendor.url, "access_key": VENDOR_AK, "secret_key": VENDOR_SK, "poll_interval_s": 0.2}
        args = local_args(
            data_dir,
            tiny_cache,
            server={"max_wait_s": 60, "sse_heartbeat_s": 0.5},
            providers={"kling": kling},
        )
        with running_app(args) as app:
            yield SdkServer(app.url)


def run_logged(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float) -> tuple[float, str]:
    """Run ``cmd``; fail with its output's tail unless it exits 0. Returns (seconds, output)."""
    started = time.monotonic()
    try:
        done = subprocess.run(
            cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"{' '.join(cmd)} ran past {timeout}s:\n{str(exc.output)[-4000:]}") from None
    assert done.returncode == 0, f"{' '.join(cmd)} exited {done.returncode}:\n{done.stdout[-6000:]}"
    return time.monotonic() - started, done.stdout


def require(tool: str) -> str:
    """The tool's path; a failure (never a skip) when it is missing: scripts/install.sh installs it."""
    path = shutil.which(tool)
    assert path, f"{tool} is not installed: run bash scripts/install.sh (it apt-get installs maven, JDK, nodejs)"
    return path


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _interrupt)  # a plain kill also stops the fake vendor (its own session)
    with tempfile.TemporaryDirectory() as tmp, sdk_server(Path(tmp), Path(tmp) / "models") as server:
        print(f"export GENPULSE_URL={server.url} GENPULSE_WEBHOOK_VECTOR={VECTOR}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)
