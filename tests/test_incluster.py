"""In the cluster (one Ray test): a driver awaits a finished task through the app's handle, the WebhookActor
delivers that task's signed webhook to a receiver on 127.0.0.1, and wait mode and SSE work through Serve's proxy."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import httpx
import pytest

from genpulse.core.errors import InvalidRequest
from genpulse.webhooks import signatures
from tests.conftest import RaySession
from tests.harness import local_args
from tests.vendors.server import serve_asgi
from tests.webhook_receiver import Receiver


@pytest.mark.ray
async def test_incluster_client_and_webhook_actor(ray_serve: RaySession, tmp_path: Path, tiny_cache: Path) -> None:
    import ray
    from ray import serve

    from deployments.app import build_app
    from deployments.incluster import get_client

    secret = signatures.new_secret()
    name = f"incluster-{os.urandom(3).hex()}"
    args = local_args(
        tmp_path,
        tiny_cache,
        namespace=name,
        diffusion={"default_steps": 2, "num_cpus": 0},
        webhooks={"secret": secret, "poll_interval_s": 0.1, "backoff_base_s": 0.1},
        security={"allow_private_urls": True, "allow_http_urls": True},
    )
    receiver = Receiver(secret, refuse_first=1)
    serve.run(build_app(args), name=name, route_prefix=f"/{name}")
    try:
        with serve_asgi(receiver) as hook:
            gp = get_client(name)
            body = {
                "provider": "diffusers",
                "task_type": "text-to-image",
                "params": {"prompt": "a fox", "width": 64, "height": 64, "seed": 5},
                "webhook_url": f"{hook}/in-cluster",
            }
            task = await gp.run(body, timeout=120)
            assert task.status == "succeeded" and task.result["assets"][0]["content_type"] == "image/png"
            quiet = {**body, "webhook_url": None}
            again = await gp.submit(quiet, idempotency_key="same")
            assert (await gp.submit(quiet, idempotency_key="same")).id == again.id
            with pytest.raises(InvalidRequest, match="width"):
                await gp.submit({**body, "params": {"prompt": "x", "width": 60}})
            assert await asyncio.to_thread(receiver.arrived.wait, 30)
            async with httpx.AsyncClient(base_url=f"{ray_serve.base_url}/{name}", timeout=30) as http:
                waited = (await http.get(f"/v1/tasks/{task.id}", params={"wait": 5})).json()
                stream = await http.get(f"/v1/tasks/{task.id}/events", headers={"Last-Event-ID": "1"})
            assert waited["status"] == "succeeded" and stream.headers["content-type"].startswith("text/event-stream")
            assert stream.text.count("event: status") >= 2 and '"task":{' in stream.text  # through the Serve proxy
        from deployments.webhook_actor import start_webhook_actor

        webhooks = start_webhook_actor(args)  # what every ingress health check does
        for _ in range(20):
            assert await webhooks.configure.remote(args) is False  # same config: no new client
        assert (await webhooks.ping.remote())["open_clients"] == 1
        assert [r.answered for r in receiver.received] == [500, 204]
        assert all(r.signature_ok for r in receiver.received)
        assert receiver.accepted[0].headers["webhook-id"] == "msg_" + task.id[4:]
    finally:
        serve.delete(name)
        for actor in ray.util.list_named_actors(all_namespaces=True):
            if actor["namespace"] == name:
                ray.kill(ray.get_actor(actor["name"], namespace=name), no_restart=True)
