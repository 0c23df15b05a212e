"""Shared fixtures: a real redis-server per session, one Ray + Serve instance per session, free ports.

Ray starts only when a test asks for ``ray_serve`` (tests marked ``ray``); unit tests never pay for it.
Every process started here is stopped here, by PID. ``ray stop`` is never used.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from deployments import http_front

if TYPE_CHECKING:
    from genpulse.tasks import TaskStore

os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

for _name in [n for n in os.environ if n.startswith("GENPULSE_")]:  # tests configure GenPulse explicitly
    del os.environ[_name]
# Every Ray the tests start (the session's, `genpulse serve`, `ray start` nodes) runs what GenPulse ships.
http_front.apply_defaults()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.05, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


@pytest.fixture(scope="session")
def tiny_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One model cache for the session; the tiny model is built into it on first use."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server on a free loopback port; yields its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed (apt-get install redis-server); .ci/run installs it")
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        import redis

        client = redis.Redis(port=port)

        def up() -> bool:
            try:
                return bool(client.ping())
            except redis.ConnectionError:
                return False

        wait_for(up, 20, message="redis-server")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def redis_url(redis_server: str) -> Iterator[str]:
    """The session's Redis, flushed before each test."""
    import redis

    redis.Redis.from_url(redis_server).flushdb()
    yield redis_server


@pytest.fixture
def redis_proc(tmp_path: Path) -> Iterator[Any]:
    """A redis-server of the test's own, to stop, restart or reconfigure (the session's one stays untouched)."""
    from tests.support.redis_process import RedisProcess

    proc = RedisProcess(tmp_path)
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(params=["memory", "redis", pytest.param("actor", marks=pytest.mark.ray)])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[TaskStore]:
    """Each TaskStore implementation in turn (the store and outbox contracts): memory, real Redis, the Ray actor."""
    if request.param == "memory":
        from genpulse.tasks.memory_store import MemoryTaskStore

        s: TaskStore = MemoryTaskStore(event_history=16)
    elif request.param == "redis":
        from genpulse.tasks.redis_store import RedisTaskStore

        s = RedisTaskStore(request.getfixturevalue("redis_url"), event_history=16)
    else:
        request.getfixturevalue("ray_serve")
        from genpulse.tasks.actor_store import ActorTaskStore

        s = ActorTaskStore.connect(f"contract-{os.urandom(4).hex()}", event_history=16)
    yield s
    await s.close()


class RaySession:
    def __init__(self, http_port: int) -> None:
        self.http_port = http_port
        self.base_url = f"http://127.0.0.1:{http_port}"


@pytest.fixture(autouse=True)
def reap_detached_actors() -> Iterator[None]:
    """After a test on the session's Ray, kill the named actors it left (detached ones outlive ``serve.delete``).

    Without this every deploy's store, workers, limiters, webhook and retention actors pile up as processes
    for the rest of the session, until a 2-core machine can no longer start a Serve app in time.
    """
    from deployments.teardown import kill_actors, named_actors

    def ray_up() -> bool:
        ray = sys.modules.get("ray")
        return ray is not None and ray.is_initialized()

    if not ray_up():
        before: set[tuple[str, str]] = set()
        yield
        if not ray_up():
            return
    else:
        before = named_actors()
        yield
    kill_actors(actor for actor in named_actors() - before if actor[0] != "serve")


@pytest.fixture(scope="session")
def ray_serve() -> Iterator[RaySession]:
    """One private Ray instance + Serve on a free port for the whole session."""
    import ray
    from ray import serve

    # Started as `genpulse serve` starts Ray: HAProxy in front (os.environ has the shipped defaults, above), here
    # on node-wide ports of its own, given to this Ray only (other Rays of the session pick their own).
    ports = http_front.private_ports()
    try:
        ray.init(
            address="local",
            num_cpus=4,
            include_dashboard=False,
            namespace="genpulse-tests",
            object_store_memory=150 * 1024 * 1024,
            log_to_driver=False,
        )
    finally:
        for name in ports:
            del os.environ[name]
    node_id = ray.get_runtime_context().get_node_id()
    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    try:
        yield RaySession(port)
    finally:
        serve.shutdown()
        ray.shutdown()
        http_front.reap_haproxy(node_id)  # only if Serve could not stop it
