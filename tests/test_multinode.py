"""GenPulse on a real multi-node Ray cluster: ``ray start`` head and worker nodes as separate processes.

One cluster for the module: a head (``head_node`` resource) with GCS fault tolerance on a Redis that also holds
the TaskStore, and a worker node (``gpu_node``) where placement puts the DiffusionDeployment replica. The
tests show tasks served by work on both nodes, a worker node killed under load losing no task, and the GCS
killed and restarted under load losing no task.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from genpulse.providers.registry import ENTRIES
from tests.conftest import free_port, wait_for
from tests.raynodes import RayNode, driver, wait_until
from tests.vendors.kling import KlingState
from tests.vendors.kling import build_app as kling_app
from tests.vendors.server import serve_asgi

pytestmark = pytest.mark.multinode

FOX = {"provider": "diffusers", "task_type": "text-to-image", "params": {"prompt": "a fox", "width": 64, "height": 64}}
TERMINAL = {"succeeded", "failed", "canceled"}

DEPLOY = """
from ray import serve
from deployments.app import build_app
serve.start(http_options={{"host": "127.0.0.1", "port": {port}}}, proxy_location="HeadOnly")
serve.run(build_app({args!r}), name="genpulse", route_prefix="/")
print(json.dumps("ok"))
"""

PLACEMENT = """
from ray._private.state import actors
nodes = {n["NodeID"]: sorted(k for k in n["Resources"] if k.endswith("_node")) for n in ray.nodes() if n["Alive"]}
found = {}
for a in actors(actor_state_name="ALIVE").values():
    found.setdefault(a["ActorClassName"], []).extend(nodes.get(a["Address"]["NodeID"], ["?"]))
print(json.dumps(found))
"""


@dataclass
class Cluster:
    head: RayNode
    workers: list[RayNode]
    url: str
    tmp: Path
    kling: KlingState
    provider_nodes: list[RayNode] = field(default_factory=list)

    def placement(self) -> dict[str, list[str]]:
        """Actor class → the custom node resources of the nodes its live actors run on."""
        return driver(self.head.address, PLACEMENT, timeout=60)

    def add_gpu_node(self, name: str) -> RayNode:
        node = RayNode(self.tmp / name, head_address=self.head.address, num_cpus=1, resources={"gpu_node": 1})
        self.workers.append(node)
        return node

    def add_provider_node(self, name: str) -> RayNode:
        node = RayNode(self.tmp / name, head_address=self.head.address, num_cpus=0, resources={"provider_node": 1})
        self.provider_nodes.append(node)
        return node


@pytest.fixture(scope="module")
def redis_for_ray(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A private redis-server: GCS tables in db 0, GenPulse's TaskStore in db 1."""
    port = free_port()
    workdir = tmp_path_factory.mktemp("gcs-redis")
    cmd = [shutil.which("redis-server") or "redis-server", "--port", str(port), "--bind", "127.0.0.1"]
    proc = subprocess.Popen(
        [*cmd, "--save", "", "--appendonly", "no", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    import redis

    wait_for(lambda: _ping(redis.Redis(port=port)), 20, message="redis-server")
    try:
        yield port
    finally:
        proc.kill()
        proc.wait(10)


def _ping(client: Any) -> bool:
    try:
        return bool(client.ping())
    except Exception:
        return False


@pytest.fixture(scope="module")
def kling_vendor() -> Iterator[tuple[KlingState, str]]:
    state = KlingState({"ak-mn": "sk-mn"}, queue_s=0.5, run_s=6.0)
    with serve_asgi(kling_app(state)) as url:
        state.base_url = url
        yield state, url


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory,
    redis_for_ray: int,
    tiny_cache: Path,
    kling_vendor: tuple[KlingState, str],
) -> Iterator[Cluster]:
    tmp = Path(tmp_path_factory.mktemp("mn"))
    head = RayNode(
        tmp / "head",
        num_cpus=2,
        resources={"head_node": 1},
        env={"RAY_REDIS_ADDRESS": f"127.0.0.1:{redis_for_ray}", "RAY_gcs_rpc_server_reconnect_timeout_s": "60"},
    )
    c = Cluster(head, [], "", tmp, kling_vendor[0])
    try:
        c.add_gpu_node("gpu-1")
        c.add_provider_node("prov-1")
        http_port = free_port()
        args = {
            "namespace": "genpulse",
            "store": {"url": f"redis://127.0.0.1:{redis_for_ray}/1"},
            "storage": {"path": str(tmp / "data")},  # one machine: the nodes share this directory
            "diffusion": {"cache_dir": str(tiny_cache), "default_steps": 2, "num_cpus": 1},
            "workers": {"lease_ttl_s": 6, "reconcile_interval_s": 1, "queued_grace_s": 2, "backoff_base_s": 0.5},
            "providers": {  # fewer actors: diffusers, and kling against its imitation
                **{name: {"enabled": False} for name in ENTRIES if name not in ("diffusers", "kling")},
                "kling": {
                    "base_url": kling_vendor[1],
                    "access_key": "ak-mn",
                    "secret_key": "sk-mn",
                    "poll_interval_s": 0.5,
                },
            },
            "placement": {
                "ingress": {"resources": {"head_node": 0.01}},
                "diffusion": {"resources": {"gpu_node": 0.01}},
                "workers": {"resources": {"head_node": 0.01}},
                "provider_workers": {"kling": {"resources": {"provider_node": 0.01}}},
                "limiters": {"resources": {"head_node": 0.01}},
            },
        }
        driver(head.address, DEPLOY.format(port=http_port, args=args), timeout=240)
        c.url = f"http://127.0.0.1:{http_port}"
        yield c
    finally:
        for node in [*c.workers, *c.provider_nodes, head]:
            node.kill()


def submit(client: httpx.Client, n: int, tag: str) -> list[str]:
    ids = []
    for i in range(n):
        body = {**FOX, "params": {**FOX["params"], "prompt": f"{tag} {i}", "seed": i}}
        r = client.post("/v1/tasks", json=body)
        assert r.status_code == 202, r.text
        ids.append(r.json()["id"])
    return ids


def settle(client: httpx.Client, ids: list[str], timeout: float) -> list[dict[str, Any]]:
    """Every task's final record; fails if any is still queued or running after ``timeout``."""
    deadline = time.monotonic() + timeout
    done: dict[str, dict[str, Any]] = {}
    while len(done) < len(ids) and time.monotonic() < deadline:
        for task_id in ids:
            if task_id not in done:
                with _tolerate_outage():
                    task = client.get(f"/v1/tasks/{task_id}", params={"wait": 2}).json()
                    if task.get("status") in TERMINAL:
                        done[task_id] = task
    stuck = [i for i in ids if i not in done]
    assert not stuck, f"{len(stuck)} tasks not terminal after {timeout}s: {stuck}"
    for task in done.values():
        if task["status"] != "succeeded":
            assert task["error"] and task["error"]["message"], task  # failed, but with a clear error
    return [done[i] for i in ids]


class _tolerate_outage:
    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> bool:
        if kind is not None and issubclass(kind, httpx.HTTPError | ValueError):
            time.sleep(0.5)
            return True
        return False


def test_tasks_use_both_nodes_and_survive_losing_one(cluster: Cluster) -> None:
    started = time.monotonic()
    with httpx.Client(base_url=cluster.url, timeout=30) as client:
        first = settle(client, submit(client, 4, "warm"), 90)
        assert [t["status"] for t in first] == ["succeeded"] * 4, first
        where = cluster.placement()
        assert where["ServeReplica:genpulse:DiffusionDeployment"] == ["gpu_node"], where
        assert where["ServeReplica:genpulse:Ingress"] == ["head_node"], where
        assert sorted(where["ProviderWorker"]) == ["head_node", "provider_node"], where  # diffusers, kling
        assert where["RateLimiterActor"] == ["head_node"], where

        ids = submit(client, 8, "load")
        wait_until(
            lambda: client.get("/v1/tasks", params={"status": "succeeded", "limit": 200}).json()["data"], 30, "load"
        )
        cluster.workers[0].kill()  # the node with the only diffusion replica dies mid-load
        cluster.add_gpu_node("gpu-2")  # a replacement joins (what the autoscaler would do)
        ids += submit(client, 4, "after")
        final = settle(client, ids, 120)
    statuses = [t["status"] for t in final]
    assert statuses.count("succeeded") >= len(ids) - 2, statuses
    retried = sum(t["attempts"] > 1 for t in final)
    assert cluster.placement()["ServeReplica:genpulse:DiffusionDeployment"] == ["gpu_node"]
    took = time.monotonic() - started
    print(f"node loss: {statuses.count('succeeded')}/{len(ids)} succeeded, {retried} retried; {took:.0f}s")


def test_gcs_restart_under_load_loses_no_task(cluster: Cluster) -> None:
    with httpx.Client(base_url=cluster.url, timeout=30) as client:
        ids = submit(client, 6, "gcs")
        # While the GCS is down the proxy, ingress, Redis store and worker actors keep taking and running tasks.
        down = cluster.head.restart_gcs(during=lambda: ids.extend(submit(client, 4, "outage")), downtime=3)
        ids += submit(client, 4, "restarted")
        final = settle(client, ids, 120)
        assert [t["status"] for t in final] == ["succeeded"] * len(ids), final
        status = driver(
            cluster.head.address,
            "from ray import serve\nprint(json.dumps(serve.status().applications['genpulse'].status))",
            timeout=60,
        )
        assert status == "RUNNING"
        again = settle(client, submit(client, 2, "after-gcs"), 60)
        assert [t["status"] for t in again] == ["succeeded"] * 2
    print(f"GCS down {down:.1f}s; {len(ids)} tasks succeeded")


def scrape(port: int) -> dict[str, list[tuple[dict[str, str], float]]]:
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def total(samples: dict[str, list[tuple[dict[str, str], float]]], name: str, **labels: str) -> float:
    return sum(v for lab, v in samples.get(name, []) if all(lab.get(k) == w for k, w in labels.items()))


def test_metrics_reach_each_nodes_exporter(cluster: Cluster) -> None:
    """After the tasks above: Ray's per-node exporters carry GenPulse's families, counts match the store."""
    with httpx.Client(base_url=cluster.url, timeout=30) as client:
        succeeded, cursor = 0, None
        while True:
            page = client.get("/v1/tasks", params={"status": "succeeded", "limit": 200, "cursor": cursor}).json()
            succeeded += len(page["data"])
            if not (cursor := page["next_cursor"]):
                break
        store = client.get("/metrics").text
    assert succeeded >= 4 and "genpulse_store_up 1.0" in store
    outcome = {"provider": "diffusers", "task_type": "text-to-image", "status": "succeeded"}

    def head_counts() -> bool:  # the worker actors run on the head
        got = scrape(cluster.head.metrics_port)
        return total(got, "ray_genpulse_tasks_total", **outcome) == succeeded and got

    head = wait_until(head_counts, 60, "ray_genpulse_tasks_total on the head's exporter")
    assert total(head, "ray_genpulse_stored_assets_total", provider="diffusers") == succeeded
    assert total(head, "ray_genpulse_stored_bytes_total", provider="diffusers") > succeeded * 100
    assert total(head, "ray_genpulse_task_seconds_count", **outcome) == succeeded
    gpu = wait_until(
        lambda: (
            (got := scrape(cluster.workers[-1].metrics_port)) and total(got, "ray_genpulse_diffusion_seconds_count")
        ),
        60,
        "diffusion metrics on the GPU node's exporter",
    )
    assert gpu > 0


def test_losing_the_node_of_a_provider_worker_mid_job(cluster: Cluster) -> None:
    """Kling's worker lives on a provider node; the node dies with vendor jobs in flight. The ingress health check
    recreates the worker on the replacement node; it adopts the orphaned tasks and polls their checkpointed
    vendor jobs: every task succeeds and the vendor saw exactly one submit per task."""
    video = {"provider": "kling", "task_type": "text-to-video", "params": {"prompt": "a fox", "duration": 5}}
    before = len(cluster.kling.jobs)
    with httpx.Client(base_url=cluster.url, timeout=30) as client:
        ids = [client.post("/v1/tasks", json=video).json()["id"] for _ in range(4)]
        wait_until(
            lambda: all(client.get(f"/v1/tasks/{i}").json()["provider_task_id"] for i in ids), 60, "vendor job ids"
        )
        cluster.provider_nodes[0].kill()
        cluster.add_provider_node("prov-2")
        final = settle(client, ids, 150)
    assert [t["status"] for t in final] == ["succeeded"] * 4, final
    assert len(cluster.kling.jobs) - before == 4  # resumed, never resubmitted
    assert cluster.placement()["ProviderWorker"].count("provider_node") == 1
