"""How long after a task's terminal write do its listeners hear of it? (in-process app, real HTTP on 127.0.0.1)

    PYTHONPATH=$PWD python benchmarks/results_latency.py [--n 20]

For each task: a wait-mode GET, an SSE subscriber and a webhook receiver listen while the task is held;
the task is then released and each listener's arrival time is compared with the task's ``finished_at``.
The webhook figure includes the deliverer's poll interval (``--poll``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from genpulse.webhooks.signatures import new_secret
from tests.harness import local_args
from tests.results_app import results_app
from tests.vendors.server import serve_asgi
from tests.webhook_receiver import Receiver


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--poll", type=float, default=0.05, help="webhooks.poll_interval_s")
    opts = parser.parse_args()
    secret = new_secret()
    args = local_args(
        Path(tempfile.mkdtemp()),
        webhooks={"secret": secret, "poll_interval_s": opts.poll},
        security={"allow_private_urls": True, "allow_http_urls": True},
    )
    lat: dict[str, list[float]] = {"wait": [], "sse": [], "webhook": []}
    with results_app(args) as app, serve_asgi(receiver := Receiver(secret)) as hook, httpx.Client(timeout=30) as c:
        arrivals: dict[str, float] = {}
        for i in range(opts.n):
            body = {
                "provider": "diffusers",
                "task_type": "text-to-image",
                "params": {"prompt": f"hold:b{i}", "width": 64, "height": 64},
                "webhook_url": f"{hook}/h",
            }
            task = c.post(f"{app.url}/v1/tasks", json=body).json()
            receiver.arrived.clear()

            def waiter(task_id: str = task["id"]) -> None:
                c.get(f"{app.url}/v1/tasks/{task_id}", params={"wait": 20})
                arrivals["wait"] = time.time()

            def subscriber(task_id: str = task["id"]) -> None:
                with c.stream("GET", f"{app.url}/v1/tasks/{task_id}/events") as r:
                    for line in r.iter_lines():
                        if line.startswith("data:") and '"task"' in line:
                            arrivals["sse"] = time.time()

            threads = [threading.Thread(target=f) for f in (waiter, subscriber)]
            for t in threads:
                t.start()
            time.sleep(0.2)
            app.gates.open(f"b{i}")
            for t in threads:
                t.join(20)
            receiver.arrived.wait(20)
            arrivals["webhook"] = time.time()
            finished = c.get(f"{app.url}/v1/tasks/{task['id']}").json()["finished_at"]
            for k in lat:
                lat[k].append((arrivals[k] - finished) * 1000)
    report = {
        k: {"median_ms": round(statistics.median(v), 1), "max_ms": round(max(v), 1), "n": len(v)}
        for k, v in lat.items()
    }
    print(json.dumps({"poll_interval_s": opts.poll, **report}, indent=2))


if __name__ == "__main__":
    main()
