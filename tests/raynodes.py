"""Real Ray nodes as separate processes for the multi-node tests: ``ray start`` with private ports and temp dirs.

Each node is started by ``ray start`` in a session of its own, and ``kill()`` SIGKILLs exactly its processes,
by PID, which is how a node dies for real (raylet, its workers and the actors on it). ``ray stop`` is never
used: it would kill every Ray process on the machine.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from deployments import http_front
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[1]


def ray_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_ADDRESS", "GENPULSE_"))}
    env.update(
        RAY_AUTH_MODE="disabled",
        RAY_USAGE_STATS_ENABLED="0",
        PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        # Notice a dead node within a few seconds instead of ~30 s (read by the GCS).
        RAY_health_check_initial_delay_ms="1000",
        RAY_health_check_period_ms="1000",
        RAY_health_check_timeout_ms="1000",
        RAY_health_check_failure_threshold="3",
        RAY_metrics_report_interval_ms="2000",  # custom metrics reach the node's exporter within seconds
    )
    env.update(extra)
    http_front.private_ports(env)  # a head with HAProxy (the shipped default) on node-wide ports of its own
    return env


class RayNode:
    """One node started by ``ray start`` (which exits once the node is up) in its own session.

    The node's processes keep that session's process group; ``kill()`` SIGKILLs them and their children (Ray
    workers run in sessions of their own) by PID, as a crash would. ``head_address=None`` starts a head.
    """

    def __init__(
        self,
        tmp: Path,
        *,
        head_address: str | None = None,
        num_cpus: float = 1,
        resources: dict[str, float] | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 150,
    ) -> None:
        self.tmp = tmp
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.is_head = head_address is None
        self.gcs_port = free_port()
        self.address = head_address or f"127.0.0.1:{self.gcs_port}"
        self.metrics_port = free_port()
        self.extra: list[psutil.Process] = []
        ports = [free_port() for _ in range(6)]
        taken = {self.gcs_port, self.metrics_port, *ports}
        lo = free_port()
        while any(lo <= p <= lo + 200 for p in taken):  # Ray refuses a worker range that holds another port
            lo = free_port()
        cmd = [
            sys.executable, "-m", "ray.scripts.scripts", "start",
            "--temp-dir", str(tmp), "--node-ip-address", "127.0.0.1",
            "--num-cpus", str(num_cpus), "--num-gpus", "0",
            "--resources", json.dumps(resources or {}),
            "--object-store-memory", str(80 * 1024 * 1024),
            "--node-manager-port", str(ports[0]), "--object-manager-port", str(ports[1]),
            "--metrics-export-port", str(self.metrics_port),
            "--dashboard-agent-listen-port", str(ports[2]), "--dashboard-agent-grpc-port", str(ports[3]),
            "--runtime-env-agent-port", str(ports[4]),
            "--min-worker-port", str(lo), "--max-worker-port", str(min(lo + 200, 65535)),
            "--disable-usage-stats",
        ]  # fmt: skip
        if self.is_head:
            cmd += ["--head", "--port", str(self.gcs_port), "--ray-client-server-port", str(ports[5])]
            cmd += ["--include-dashboard", "false"]
        else:
            cmd += ["--address", self.address]
        with (tmp / "ray-start.log").open("ab") as log:
            proc = subprocess.Popen(
                cmd, env=ray_env(**(env or {})), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.pgid = proc.pid
        try:
            code = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            code = None
        if code != 0:
            self.kill()
            raise RuntimeError(f"ray start failed ({code}):\n{self.tail()}")

    def processes(self) -> list[psutil.Process]:
        """The node's processes: its process group and every descendant (Ray workers setsid)."""
        found: dict[int, psutil.Process] = {}
        for proc in psutil.process_iter():
            with contextlib.suppress(psutil.Error, ProcessLookupError):
                if os.getpgid(proc.pid) == self.pgid:
                    found[proc.pid] = proc
                    for child in proc.children(recursive=True):
                        found[child.pid] = child
        for proc in self.extra:
            if proc.is_running():
                found[proc.pid] = proc
        return list(found.values())

    def find(self, name: str) -> psutil.Process:
        (proc,) = [p for p in self.processes() if p.name() == name]
        return proc

    def kill(self) -> None:
        """SIGKILL every process of the node, as a crash would."""
        procs = self.processes()
        for proc in procs:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        psutil.wait_procs(procs, timeout=10)

    def restart_gcs(self, during: Callable[[], Any] = lambda: None, downtime: float = 0.0) -> float:
        """SIGKILL the head's gcs_server, run ``during`` (and wait ``downtime`` s), then start it again with the
        same command line and environment. Returns the seconds it was down. The raylets keep running and
        reconnect; with GCS fault tolerance (``RAY_REDIS_ADDRESS``) the new GCS reloads the tables from Redis.
        """
        gcs = self.find("gcs_server")
        cmdline, environ, cwd = gcs.cmdline(), gcs.environ(), gcs.cwd()
        gcs.kill()
        gcs.wait(10)
        started = time.monotonic()
        during()
        time.sleep(max(0.0, downtime - (time.monotonic() - started)))
        with (self.tmp / "gcs-restart.log").open("ab") as log:
            new = subprocess.Popen(cmdline, env=environ, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
        self.extra.append(psutil.Process(new.pid))
        return time.monotonic() - started

    def tail(self, n: int = 3000) -> str:
        path = self.tmp / "ray-start.log"
        return path.read_text(errors="replace")[-n:] if path.exists() else ""


def driver(address: str, code: str, timeout: float = 120, env: dict[str, str] | None = None) -> Any:
    """Run ``code`` in a fresh Python process connected to ``address``; it prints one JSON line, returned."""
    prelude = f"import json, ray\nray.init(address={address!r}, namespace='genpulse-mn', log_to_driver=False)\n"
    out = subprocess.run(
        [sys.executable, "-c", prelude + code],
        env=ray_env(**(env or {})),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if out.returncode != 0:
        raise AssertionError(f"driver failed ({out.returncode}):\n{out.stdout[-3000:]}\n{out.stderr[-5000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def wait_until(predicate, timeout: float, what: str, interval: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
        except Exception as exc:  # not up yet
            last = exc
        else:
            if last:
                return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")
