"""Webhooks without Ray: signatures, the URL guard, and delivery to a real receiver on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from genpulse.core.config import AppArgs, SecurityConfig, WebhooksConfig
from genpulse.core.errors import ConfigError
from genpulse.core.schemas import Task, TaskStatus, new_id, now
from genpulse.tasks.memory_store import MemoryTaskStore
from genpulse.tasks.outbox import Delivery, DeliveryStatus
from genpulse.webhooks import signatures
from genpulse.webhooks.deliver import WebhookDeliverer
from tests.conftest import free_port
from tests.vendors.server import serve_asgi
from tests.webhook_receiver import Receiver

SECRET = signatures.new_secret()
LOOPBACK = SecurityConfig(allow_private_urls=True, allow_http_urls=True)  # the test receivers: http on 127.0.0.1


class Clock:
    def __init__(self) -> None:
        self.t = time.time()

    def __call__(self) -> float:
        return self.t


async def finished_task(store: MemoryTaskStore, url: str) -> Delivery:
    task = Task(
        id=new_id("tsk"),
        provider="diffusers",
        task_type="text-to-image",
        status=TaskStatus.queued,
        params={"prompt": "x"},
        created_at=now(),
        webhook_url=url,
    )
    task, _ = await store.create(task)
    task = await store.put(task.model_copy(update={"status": TaskStatus.running}))
    await store.put(task.model_copy(update={"status": TaskStatus.succeeded, "result": {"assets": []}}))
    (delivery,) = await store.outbox_list(task.id)
    return delivery


async def settled(store: MemoryTaskStore, delivery_id: str, timeout: float = 20) -> Delivery:
    """The delivery once it is no longer pending (the loop keeps running meanwhile)."""
    deadline = time.monotonic() + timeout
    while (d := await store.outbox_get(delivery_id)).status == DeliveryStatus.pending:
        assert time.monotonic() < deadline, d
        await asyncio.sleep(0.02)
    return d


def config(**kw: float) -> WebhooksConfig:
    return WebhooksConfig.model_validate({"secret": SECRET, **kw})


def test_standard_webhooks_reference_vector() -> None:
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = '{"test": 2432232314}'
    expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert signatures.sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body) == expected
    headers = {"webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek", "webhook-timestamp": "1614265330"}
    signatures.verify(secret, {**headers, "webhook-signature": f"v1,bogus= {expected}"}, body, now=1614265400)


def test_verify_refuses_tampering_other_secrets_and_stale_timestamps() -> None:
    stamp = int(time.time())
    good = signatures.headers(SECRET, "msg_1", stamp, b"{}")
    signatures.verify(SECRET, good, b"{}")
    for secret, hdrs, body in [
        (SECRET, good, b"{ }"),
        (signatures.new_secret(), good, b"{}"),
        (SECRET, {**good, "webhook-id": "msg_2"}, b"{}"),
        (SECRET, signatures.headers(SECRET, "msg_1", stamp - 3600, b"{}"), b"{}"),
        (SECRET, {"webhook-id": "msg_1"}, b"{}"),
    ]:
        with pytest.raises(signatures.InvalidSignature):
            signatures.verify(secret, hdrs, body)


@pytest.mark.parametrize("secret", ["nope", "whsec_***", "whsec_" + "QUJD"])
def test_bad_secret_fails_the_config(secret: str) -> None:
    with pytest.raises(ConfigError, match=r"webhooks\.secret"):
        AppArgs.load({"webhooks": {"secret": secret}})


async def test_receiver_refusing_the_first_deliveries() -> None:
    store = MemoryTaskStore()
    receiver = Receiver(SECRET, refuse_first=3)
    with serve_asgi(receiver) as base:
        delivery = await finished_task(store, f"{base}/hook")
        deliverer = WebhookDeliverer(
            store, config(backoff_base_s=0.05, backoff_max_s=0.2, poll_interval_s=0.02), security=LOOPBACK
        )
        loop = asyncio.create_task(deliverer.run_forever())
        try:
            stored = await settled(store, delivery.id)
        finally:
            loop.cancel()
            await deliverer.close()
    assert [r.answered for r in receiver.received] == [500, 500, 500, 204]
    assert all(r.signature_ok for r in receiver.received)
    assert {r.headers["webhook-id"] for r in receiver.received} == {delivery.id}
    assert {r.body for r in receiver.received} == {delivery.body.encode()}
    payload = json.loads(receiver.received[-1].body)
    assert payload["type"] == "task.succeeded" and payload["data"]["id"] == delivery.task_id
    assert stored.status == DeliveryStatus.delivered and stored.due_at is None and stored.attempt_count == 4
    assert [a.status_code for a in stored.attempts] == [500, 500, 500, 204]
    assert await store.outbox_due(time.time() + 3600) == []


async def test_delivery_survives_the_receiver_being_down() -> None:
    store = MemoryTaskStore()
    port = free_port()
    receiver = Receiver(SECRET)
    delivery = await finished_task(store, f"http://127.0.0.1:{port}/hook")
    deliverer = WebhookDeliverer(
        store, config(backoff_base_s=0.2, backoff_max_s=0.5, poll_interval_s=0.05), security=LOOPBACK
    )
    loop = asyncio.create_task(deliverer.run_forever())
    try:
        await asyncio.sleep(2.0)  # nothing listens on the port
        down = await store.outbox_get(delivery.id)
        assert down.status == DeliveryStatus.pending and down.attempt_count >= 3
        assert all(a.status_code is None and "Connect" in (a.error or "") for a in down.attempts)
        with serve_asgi(receiver, port):
            assert (await settled(store, delivery.id)).status == DeliveryStatus.delivered
    finally:
        loop.cancel()
        await deliverer.close()
    assert len(receiver.received) == 1 and receiver.received[0].signature_ok


async def test_schedule_of_a_receiver_down_for_a_minute() -> None:
    """Default backoff (5 s doubling) under an injected clock: 0, 5, 15, 35 s refused; 75 s delivered."""
    clock = Clock()
    start = clock.t
    store = MemoryTaskStore()
    receiver = Receiver(SECRET, refuse_status=503, down=lambda: clock() < start + 60)
    with serve_asgi(receiver) as base:
        delivery = await finished_task(store, f"{base}/hook")
        deliverer = WebhookDeliverer(store, config(), security=LOOPBACK, clock=clock, rng=lambda: 1.0)
        for _ in range(20):
            await deliverer.run_once()
            current = await store.outbox_get(delivery.id)
            if current.due_at is None:
                break
            clock.t = max(clock.t, current.due_at)
        await deliverer.close()
    assert current.status == DeliveryStatus.delivered
    assert [round(a.at - start) for a in current.attempts] == [0, 5, 15, 35, 75]
    assert [r.answered for r in receiver.received] == [503, 503, 503, 503, 204]
    assert all(r.signature_ok for r in receiver.received)


async def test_gives_up_after_the_window_and_refuses_private_targets() -> None:
    clock = Clock()
    store = MemoryTaskStore()
    receiver = Receiver(SECRET, down=lambda: True)
    with serve_asgi(receiver) as base:
        delivery = await finished_task(store, f"{base}/hook")
        cfg = config(retry_window_s=100)
        deliverer = WebhookDeliverer(store, cfg, security=LOOPBACK, clock=clock, rng=lambda: 1.0)
        for _ in range(20):
            await deliverer.run_once()
            current = await store.outbox_get(delivery.id)
            if current.due_at is None:
                break
            clock.t = current.due_at
        await deliverer.close()
    assert current.status == DeliveryStatus.failed and current.attempt_count == 5  # 0 5 15 35 75; 155 > 100

    guarded = WebhookDeliverer(store, config(), security=SecurityConfig(allow_http_urls=True))  # no private targets
    private = await finished_task(store, f"{base}/hook")
    refused = await guarded.attempt(private)
    assert refused.status == DeliveryStatus.failed and "loopback" in (refused.attempts[-1].error or "")
    assert len(receiver.received) == 5
    await guarded.close()


async def test_reconfigure_rotates_the_secret() -> None:
    store = MemoryTaskStore()
    rotated = signatures.new_secret()
    receiver = Receiver(rotated)
    with serve_asgi(receiver) as base:
        delivery = await finished_task(store, f"{base}/hook")
        deliverer = WebhookDeliverer(store, config(), security=LOOPBACK)
        deliverer.reconfigure(WebhooksConfig.model_validate({"secret": rotated}), security=LOOPBACK)
        assert (await deliverer.attempt(delivery)).status == DeliveryStatus.delivered
        await deliverer.close()
    assert [r.signature_ok for r in receiver.received] == [True]


async def test_a_slow_receiver_does_not_hold_up_the_others() -> None:
    store = MemoryTaskStore()
    slow, fast = Receiver(SECRET, delay_s=1.5), Receiver(SECRET)
    with serve_asgi(slow) as slow_url, serve_asgi(fast) as fast_url:
        stuck = await finished_task(store, f"{slow_url}/hook")
        deliverer = WebhookDeliverer(store, config(poll_interval_s=0.02), security=LOOPBACK)
        loop = asyncio.create_task(deliverer.run_forever())
        try:
            await asyncio.sleep(0.2)  # the slow attempt is in flight
            quick = await finished_task(store, f"{fast_url}/hook")
            started = time.monotonic()
            assert (await settled(store, quick.id)).status == DeliveryStatus.delivered
            assert time.monotonic() - started < 1.0
            assert (await store.outbox_get(stuck.id)).status == DeliveryStatus.pending
            assert (await settled(store, stuck.id)).status == DeliveryStatus.delivered
        finally:
            loop.cancel()
            await deliverer.close()
    assert len(slow.received) == 1 and len(fast.received) == 1


async def test_the_same_config_again_keeps_the_client_and_the_bound() -> None:
    """Every ingress health check hands the actor its config: that must not build (and leak) a client each time."""
    store = MemoryTaskStore()
    deliverer = WebhookDeliverer(store, config(), security=LOOPBACK)
    client, slots = deliverer._client, deliverer._slots
    for _ in range(100):
        assert deliverer.reconfigure(config(), security=LOOPBACK) is False
    assert deliverer._client is client and deliverer._slots is slots
    assert deliverer.open_clients == 1
    await deliverer.close()


async def test_a_replaced_client_is_closed_once_its_attempts_end() -> None:
    store = MemoryTaskStore()
    slow = Receiver(SECRET, delay_s=0.5)
    with serve_asgi(slow) as base:
        delivery = await finished_task(store, f"{base}/hook")
        deliverer = WebhookDeliverer(store, config(), security=LOOPBACK)
        old = deliverer._client
        assert old is not None
        attempts = await deliverer._start_due(10)  # one attempt in flight
        assert deliverer.reconfigure(config(max_concurrent=3), security=LOOPBACK) is True
        assert deliverer._client is not old and not old.is_closed  # not while an attempt may use it
        assert deliverer.open_clients == 2
        await asyncio.gather(*attempts)
        deadline = time.monotonic() + 10
        while not old.is_closed:
            assert time.monotonic() < deadline, "the replaced client was never closed"
            await asyncio.sleep(0.02)
        assert deliverer.open_clients == 1
        assert (await store.outbox_get(delivery.id)).status == DeliveryStatus.delivered
        await deliverer.close()
