"""In the cluster (one Ray test): a driver awaits a finished task through the app's handle, and the
WebhookActor delivers that task's signed webhook to a receiver on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from genpulse.errors import InvalidRequest
from genpulse.webhooks import signing
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

    secret = signing.new_secret()
    name = f"incluster-{os.urandom(3).hex()}"
    args = local_args(
        tmp_path,
        tiny_cache,
        namespace=name,
        diffusion={"default_steps": 2, "num_cpus": 0},
        webhooks={"secret": secret, "poll_interval_s": 0.1, "backoff_base_s": 0.1},
        security={"allow_private_urls": True},
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
        assert [r.answered for r in receiver.received] == [500, 204]
        assert all(r.signature_ok for r in receiver.received)
        assert receiver.accepted[0].headers["webhook-id"] == "msg_" + task.id[4:]
    finally:
        serve.delete(name)
        for actor in ray.util.list_named_actors(all_namespaces=True):
            if actor["namespace"] == name:
                ray.kill(ray.get_actor(actor["name"], namespace=name), no_restart=True)
