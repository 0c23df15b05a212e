"""`genpulse serve` / `submit` / `status` as a user runs them: a real process tree, shut down by a signal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from deployments import http_front
from tests.conftest import free_port, wait_for

pytestmark = pytest.mark.ray


def test_serve_submit_status_and_clean_shutdown(tmp_path: Path, tiny_cache: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "GENPULSE_STORAGE__PATH": str(tmp_path / "data"),
        "GENPULSE_DIFFUSION__CACHE_DIR": str(tiny_cache),
        "GENPULSE_DIFFUSION__DEFAULT_STEPS": "4",
        "GENPULSE_NAMESPACE": "cli-test",
        "RAY_AUTH_MODE": "disabled",
        **http_front.private_ports({}),  # HAProxy's node-wide ports: not the session Ray's
    }
    cmd = [sys.executable, "-m", "genpulse.cli", "serve", "--port", str(port), "--ray-address", "local"]
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    tree: list[psutil.Process] = []
    try:
        url = f"http://127.0.0.1:{port}"

        def up() -> bool:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
            try:
                return httpx.get(f"{url}/health/ready", timeout=5).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(up, 180, 0.5, "genpulse serve to be ready")

        def banner_printed() -> str:
            text = (tmp_path / "serve.log").read_text()
            return text if "Press Ctrl-C" in text else ""

        banner = wait_for(banner_printed, 30, 0.2, "the banner")
        assert f"API:        {url}" in banner and "/docs" in banner and "Dashboard:" in banner
        assert f"Console:    {url}/console" in banner
        tree = psutil.Process(proc.pid).children(recursive=True)
        assert "haproxy" in {p.name() for p in tree}  # the shipped HTTP front (deployments/http_front.py)

        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "genpulse.cli",
                "submit",
                "--url",
                url,
                "-p",
                "prompt=a red fox",
                "-p",
                "width=64",
                "-p",
                "height=64",
                "-o",
                str(tmp_path / "out"),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        ).stdout
        assert "succeeded" in out and "saved to" in out, out
        task_id = out.split()[0]
        (saved,) = (tmp_path / "out").glob("*.png")
        assert saved.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        status = subprocess.run(
            [sys.executable, "-m", "genpulse.cli", "status", task_id, "--url", url],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        assert f"{task_id}  succeeded" in status

        proc.send_signal(signal.SIGINT)
        assert proc.wait(120) == 0
        time.sleep(2)
        left = [p for p in tree if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        assert not left, [(p.pid, p.name()) for p in left]
    finally:
        if proc.poll() is None:
            proc.kill()
        for p in tree:
            if p.is_running():
                p.kill()
        log.close()
