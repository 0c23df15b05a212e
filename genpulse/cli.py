"""The ``genpulse`` command: ``serve`` (run the app on Ray), ``submit`` (a task, waiting for it), ``status``,
``limits`` (a vendor's limits, changed at run time), ``tenants``/``keys``/``credits`` (``genpulse.cli_admin``)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

DEFAULT_URL = os.environ.get("GENPULSE_URL", "http://127.0.0.1:8000")
TERMINAL = {"succeeded", "failed", "canceled"}


def load_serve_config(path: Path | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(app args, http_options)`` from a Serve config file; built-in defaults when there is none."""
    candidate = path or Path("serve_config.yaml")
    if not candidate.is_file():
        if path is not None:
            raise SystemExit(f"genpulse: config file {path} not found")
        return {}, {}
    import yaml

    doc = yaml.safe_load(candidate.read_text()) or {}
    apps = doc.get("applications") or [{}]
    return apps[0].get("args") or {}, doc.get("http_options") or {}


def cmd_serve(ns: argparse.Namespace) -> int:
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    args, http = load_serve_config(ns.config)
    from genpulse.core.config import AppArgs

    config = AppArgs.load(args)  # fail fast, naming the bad field, before starting anything
    host = ns.host or http.get("host") or "127.0.0.1"
    port = ns.port or int(http.get("port") or 8000)
    from genpulse.core.errors import ConfigError
    from genpulse.tenants.auth import check_exposure

    try:
        check_exposure(config.auth, host)
    except ConfigError as exc:
        raise SystemExit(f"genpulse: {exc}") from None

    from deployments import http_front

    # HAProxy in front of the ingress (RAY_SERVE_ENABLE_HA_PROXY=0 in the environment keeps Serve's Python proxy).
    # Ray's processes read it when they start, so it goes into our environment before ray.init starts a Ray;
    # joining a running Ray (--ray-address) keeps whatever that Ray was started with.
    http_front.apply_defaults()
    http_front.move_busy_ports()  # another Ray on this host with HAProxy holds the node-wide ports

    import ray
    from ray import serve

    started_ray = not ray.is_initialized()
    context = ray.init(address=ns.ray_address, namespace=config.namespace, include_dashboard=True)
    own_node = http_front.started_head_node()  # this process started the Ray: its HAProxy is ours to clean
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        serve.start(
            http_options={"host": host, "port": port},
            logging_config={"enable_access_log": config.server.access_log},  # the proxy's log line per request
        )
        from deployments.app import build_app

        serve.run(build_app(config), name=ns.name, route_prefix="/", blocking=False)
        api = f"http://{host}:{port}"
        dashboard = getattr(context, "dashboard_url", "") or ""
        if dashboard and "://" not in dashboard:
            dashboard = f"http://{dashboard}"
        print(f"GenPulse is up.\n  API:        {api}\n  Docs:       {api}/docs", flush=True)
        print(f"  Console:    {api}/console", flush=True)
        print(f"  Dashboard:  {dashboard or '(not running)'}", flush=True)
        print("Press Ctrl-C to stop.", flush=True)
        while not stop.wait(0.5):
            pass
        print("Shutting down...", flush=True)
    finally:
        _shutdown(config.namespace, ns.name)
        if started_ray:
            ray.shutdown()
        if own_node and (left := http_front.reap_haproxy(own_node)):  # it outlived its Ray, holding our port
            print(f"genpulse: stopped haproxy {left} left by Ray", file=sys.stderr)
    return 0


def _shutdown(namespace: str, app_name: str) -> None:
    """Delete the app and GenPulse's detached actors (they would outlive us on a shared cluster)."""
    from ray import serve

    try:
        serve.delete(app_name)
        serve.shutdown()
    except Exception as exc:  # best effort: we are exiting anyway
        print(f"genpulse: serve shutdown: {exc}", file=sys.stderr)
    try:
        from deployments.teardown import remove_namespace

        remove_namespace(namespace)
    except Exception as exc:
        print(f"genpulse: actor cleanup: {exc}", file=sys.stderr)


def _parse_params(pairs: list[str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep:
            raise SystemExit(f"genpulse: --param expects key=value, got {pair!r}")
        try:
            params[key] = json.loads(raw)
        except ValueError:
            params[key] = raw
    return params


def _auth(ns: argparse.Namespace) -> dict[str, str]:
    return {"Authorization": f"Bearer {ns.api_key}"} if getattr(ns, "api_key", None) else {}


def _fail_on_error(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    if response.status_code >= 400:
        err = body.get("error", {})
        raise SystemExit(f"genpulse: {response.status_code} {err.get('type')}: {err.get('message')}")
    return body


def _wait(client: httpx.Client, task_id: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        remaining = max(0.0, deadline - time.monotonic())
        task = _fail_on_error(client.get(f"/v1/tasks/{task_id}", params={"wait": min(30.0, remaining)}))
        if task["status"] in TERMINAL or remaining <= 0:
            return task


def _print_task(task: dict[str, Any], base_url: str, out_dir: Path | None, client: httpx.Client) -> None:
    print(f"{task['id']}  {task['status']}")
    if task.get("error"):
        print(f"  error: {task['error']['type']}: {task['error']['message']}")
    for asset in (task.get("result") or {}).get("assets", []):
        url = asset["url"] if "://" in asset["url"] else base_url.rstrip("/") + asset["url"]
        line = f"  asset {asset['id']}  {asset['content_type']}  {asset['bytes']} bytes  {url}"
        if out_dir is not None:
            out_dir.mkdir(parents=True, exist_ok=True)
            ext = asset["content_type"].split("/")[-1]
            path = out_dir / f"{asset['id']}.{ext}"
            path.write_bytes(client.get(url).raise_for_status().content)
            line += f"\n    saved to {path}"
        print(line)


def cmd_submit(ns: argparse.Namespace) -> int:
    body: dict[str, Any] = json.loads(ns.json) if ns.json else {}
    body.setdefault("provider", ns.provider)
    body.setdefault("task_type", ns.task_type)
    body["params"] = {**body.get("params", {}), **_parse_params(ns.param)}
    with httpx.Client(base_url=ns.url, timeout=max(60.0, ns.wait + 10), headers=_auth(ns)) as client:
        task = _fail_on_error(client.post("/v1/tasks", json=body))
        if ns.wait > 0:
            task = _wait(client, task["id"], ns.wait)
        _print_task(task, ns.url, ns.output, client)
    return 0 if task["status"] in ("succeeded", "queued", "running") else 1


def cmd_status(ns: argparse.Namespace) -> int:
    with httpx.Client(base_url=ns.url, timeout=30, headers=_auth(ns)) as client:
        task = _fail_on_error(client.get(f"/v1/tasks/{ns.task_id}"))
        if ns.json:
            print(json.dumps(task, indent=2))
        else:
            _print_task(task, ns.url, None, client)
    return 0


def cmd_limits(ns: argparse.Namespace) -> int:
    """Show or change a vendor's cluster-wide limits at run time (talks to its limiter actor)."""
    import ray

    ray.init(address=ns.ray_address, namespace=ns.namespace, log_to_driver=False)
    try:
        actor = ray.get_actor(f"genpulse-limiter-{ns.provider}", namespace=ns.namespace)
    except ValueError:
        raise SystemExit(f"genpulse: no limiter for {ns.provider!r} in namespace {ns.namespace!r}") from None
    stats = ray.get(actor.stats.remote())
    if ns.rps is not None or ns.max_concurrent_jobs is not None:
        rps = ns.rps if ns.rps is not None else stats["rps"]
        jobs = ns.max_concurrent_jobs if ns.max_concurrent_jobs is not None else stats["max_concurrent_jobs"]
        ray.get(actor.configure.remote(rps, jobs))
        stats = ray.get(actor.stats.remote())
    print(json.dumps(stats, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="genpulse", description="GenPulse: generative-media tasks on Ray.")
    sub = parser.add_subparsers(dest="command", required=True)

    serve_p = sub.add_parser("serve", help="start Ray (if none is running) and deploy the app")
    serve_p.add_argument("--config", type=Path, help="Serve config (default: ./serve_config.yaml if present)")
    serve_p.add_argument("--host", help="HTTP host (default 127.0.0.1)")
    serve_p.add_argument("--port", type=int, help="HTTP port (default 8000)")
    serve_p.add_argument("--name", default="genpulse", help="Serve application name")
    serve_p.add_argument("--ray-address", default=None, help="Ray cluster to join; 'local' forces a new one")
    serve_p.set_defaults(func=cmd_serve)

    submit_p = sub.add_parser("submit", help="submit a task and wait for it")
    submit_p.add_argument("--url", default=DEFAULT_URL)
    submit_p.add_argument("--provider", default="diffusers")
    submit_p.add_argument("--task-type", default="text-to-image")
    submit_p.add_argument("-p", "--param", action="append", default=[], help="key=value (value parsed as JSON)")
    submit_p.add_argument("--json", help="the whole request body as JSON")
    submit_p.add_argument("--wait", type=float, default=300, help="seconds to wait for the result (0: don't)")
    submit_p.add_argument("-o", "--output", type=Path, help="download the assets into this directory")
    submit_p.set_defaults(func=cmd_submit)

    status_p = sub.add_parser("status", help="show a task")
    status_p.add_argument("task_id")
    status_p.add_argument("--url", default=DEFAULT_URL)
    status_p.add_argument("--json", action="store_true", help="print the raw task JSON")
    status_p.set_defaults(func=cmd_status)

    limits_p = sub.add_parser("limits", help="show or change a vendor's rate and concurrency limits at run time")
    limits_p.add_argument("provider")
    limits_p.add_argument("--rps", type=float, help="requests per second, cluster-wide")
    limits_p.add_argument("--max-concurrent-jobs", type=int, help="vendor jobs in flight, cluster-wide")
    limits_p.add_argument("--namespace", default="genpulse", help="the app's Ray namespace")
    limits_p.add_argument("--ray-address", default="auto", help="Ray cluster address (default: auto)")
    limits_p.set_defaults(func=cmd_limits)

    from genpulse.cli_admin import register

    register(sub, DEFAULT_URL)
    for p in (submit_p, status_p):
        p.add_argument("--api-key", default=os.environ.get("GENPULSE_API_KEY"), help="default: $GENPULSE_API_KEY")

    ns = parser.parse_args(argv)
    try:
        return ns.func(ns)
    except httpx.HTTPError as exc:
        print(f"genpulse: cannot reach {getattr(ns, 'url', '')}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
