"""The three things a scenario starts, each a context manager that stops exactly what it started.

- ``fake_vendor``: ``BENCH_DIR/fakevendor.py`` on a free port (Kling-shaped, ``/__stats``).
- ``celery_ref``: the baseline, through its own ``run.sh start|stop`` with private ports and run dir.
- ``genpulse``: ``benchmarks.host`` (private Ray + Serve running ``build_app(args)``) on a free port.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.env import BENCH_DIR, REPO, baseline_python, free_port, stop_group, wait_http
from deployments import http_front


@dataclass
class Service:
    url: str
    pids: dict[str, int] = field(default_factory=dict)  # name -> root pid of a process tree to account
    pids_file: str | None = None  # run.sh's "name pid pattern" lines
    workdir: str | None = None  # GenPulse host: its spec, ready files, log


@contextmanager
def fake_vendor(**flags: Any) -> Iterator[Service]:
    """flags: fakevendor.py options without dashes (duration="1", qps=20, max_concurrent=10, ...)."""
    port = free_port()
    cmd = [sys.executable, str(BENCH_DIR / "fakevendor.py"), "--port", str(port)]
    for key, value in flags.items():
        cmd += [f"--{key.replace('_', '-')}", str(value)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("FV_")}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_http(url + "/__stats", 30, proc)
        yield Service(url, {"vendor": proc.pid})
    finally:
        stop_group(proc, 5)


@contextmanager
def celery_ref(vendor_url: str, **cr_env: Any) -> Iterator[Service]:
    """cr_env: CR_* settings without the prefix, lower case (rate_limit_qps=20, workers=2, ...)."""
    run_dir = tempfile.mkdtemp(prefix="gpb-celery-")
    api_port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CR_", "FV_"))}
    env.update({f"CR_{k.upper()}": str(v) for k, v in cr_env.items()})
    env.update(
        PY=str(baseline_python()),
        CR_RUN_DIR=run_dir,
        CR_API_PORT=str(api_port),
        CR_REDIS_PORT=str(free_port()),
        CR_VENDOR_URL=vendor_url,
    )
    env.setdefault("CR_WORKERS", "2")  # as in run_scenario.sh: two gevent workers x 500, one per core
    run_sh = str(BENCH_DIR / "celery_ref" / "run.sh")
    try:
        subprocess.run([run_sh, "start"], env=env, check=True, stdout=subprocess.DEVNULL, timeout=120)
        url = f"http://127.0.0.1:{api_port}"
        wait_http(url + "/healthz", 30)
        yield Service(url, pids_file=str(Path(run_dir) / "pids"))
    finally:
        subprocess.run([run_sh, "stop"], env=env, stdout=subprocess.DEVNULL, timeout=60)


def genpulse_args(vendor_url: str | None, data_dir: str, **kling: Any) -> dict[str, Any]:
    """build_app args for a Kling-only gateway pointed at the fake vendor (diffusion off)."""
    from benchmarks.env import VENDOR_AK, VENDOR_SK

    providers: dict[str, Any] = {"diffusers": {"enabled": False}}
    if vendor_url:
        providers["kling"] = {"base_url": vendor_url, "access_key": VENDOR_AK, "secret_key": VENDOR_SK, **kling}
    return {"namespace": "genpulse-bench", "storage": {"path": data_dir}, "providers": providers}


@contextmanager
def redis_server() -> Iterator[Service]:
    """A private redis-server (no persistence) for GenPulse's Redis task store."""
    port = free_port()
    cmd = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    proc = subprocess.Popen(
        cmd, cwd=tempfile.mkdtemp(prefix="gpb-redis-"), stdout=subprocess.DEVNULL, start_new_session=True
    )
    try:
        import redis

        client = redis.Redis(port=port)
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.1)
        yield Service(f"redis://127.0.0.1:{port}/0", {"redis": proc.pid})
    finally:
        stop_group(proc, 5)


_SHARED: dict[str, Any] = {}  # the host of ``shared_genpulse`` while it runs


@contextmanager
def shared_genpulse(startup_timeout: float = 240) -> Iterator[None]:
    """Start one GenPulse host; ``genpulse()`` calls inside redeploy on it (new namespace each) instead of
    starting Ray again. For smoke tests: the process accounting then includes earlier deployments' actors."""
    first = genpulse_args(None, tempfile.mkdtemp(prefix="gpb-data-"))
    with genpulse(first, startup_timeout=startup_timeout) as svc:
        _SHARED.update(svc=svc, gen=0)
        try:
            yield
        finally:
            _SHARED.clear()


def _redeploy(args: dict[str, Any], timeout: float) -> Service:
    svc: Service = _SHARED["svc"]
    work = Path(svc.workdir or "")
    _SHARED["gen"] += 1
    gen = _SHARED["gen"]
    args = {**args, "namespace": f"genpulse-bench-{gen}"}
    tmp = work / f".request-{gen}.json"
    tmp.write_text(json.dumps(args))
    tmp.rename(work / f"request-{gen:04d}.json")
    deadline = time.monotonic() + timeout
    while not (work / f"ready-{gen:04d}.json").exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"redeploy {gen} did not finish in {timeout}s; see {work / 'host.log'}")
        time.sleep(0.1)
    return svc


@contextmanager
def genpulse(
    args: dict[str, Any],
    *,
    num_cpus: int = 2,
    env_extra: dict[str, str] | None = None,
    startup_timeout: float = 240,
    callbacks: bool = False,
    repo: Path = REPO,
) -> Iterator[Service]:
    """GenPulse on a private Ray; ``env_extra`` reaches the Ray processes (e.g. ``RAY_SERVE_*`` switches);
    ``callbacks``: vendor callbacks on (``server.public_url`` = the host's own Serve address on 127.0.0.1);
    ``repo``: the checkout whose code runs (e.g. a worktree of an earlier commit, for before/after figures)."""
    if _SHARED and not env_extra:
        if callbacks:  # the shared host's own address
            server = {
                **args.get("server", {}),
                "public_url": _SHARED["svc"].url,
                "callback_secret": os.urandom(24).hex(),
            }
            args = {**args, "server": server}
        yield _redeploy(args, startup_timeout)
        return
    work = Path(tempfile.mkdtemp(prefix="gpb-genpulse-"))
    spec, ready = work / "spec.json", work / "ready.json"
    spec.write_text(json.dumps({"args": args, "num_cpus": num_cpus, "callbacks": callbacks}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("GENPULSE_")}
    env.update(env_extra or {})
    http_front.apply_defaults(env)  # what `genpulse serve` ships (HAProxy), unless --serve-env says otherwise
    http_front.private_ports(env)  # this box runs other Rays: HAProxy's node-wide ports must differ
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(repo), env.get("PYTHONPATH", "")) if p)
    log = open(work / "host.log", "wb")  # noqa: SIM115 - closed in finally
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.host", str(spec), str(ready)],
        cwd=repo,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + startup_timeout
        while not ready.exists():
            if proc.poll() is not None:
                raise RuntimeError(f"GenPulse host exited ({proc.returncode}); see {work / 'host.log'}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"GenPulse did not start in {startup_timeout}s; see {work / 'host.log'}")
            time.sleep(0.2)
        info = json.loads(ready.read_text())
        url = f"http://127.0.0.1:{info['port']}"
        wait_http(url + "/health", 60, proc)
        yield Service(url, {"genpulse": proc.pid}, workdir=str(work))
    finally:
        stop_group(proc, 30)
        log.close()
        if ready.exists():  # a Ray torn down abruptly leaves its HAProxy running (deployments/http_front.py)
            http_front.reap_haproxy(json.loads(ready.read_text()).get("node_id", "-"))
