"""Tenants, keys and credits through the real HTTP API (in-process service, no Ray): 401/403/404/402/429,
isolation on every route that takes an id, the ledger of holds, settlements and refunds, per-tenant webhooks."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from genpulse.core.config import SecurityConfig, WebhooksConfig
from genpulse.core.errors import ConfigError
from genpulse.tenants.auth import check_exposure
from genpulse.webhooks.deliver import WebhookDeliverer
from tests.harness import RunningApp, local_args, running_app
from tests.results_app import png
from tests.support.tenant_api import ADMIN, Api, body, fake_generate, tenant
from tests.vendors.server import serve_asgi
from tests.webhook_receiver import Receiver

PRICING = {"diffusers": {"text-to-image": {"per_task": 1, "per_image": 2}}}  # 1 image: 3 credits, 2 images: 5


@pytest.fixture
def app(tmp_path: Path) -> Iterator[RunningApp]:
    args = local_args(
        tmp_path,
        auth={"mode": "keys", "admin_key": ADMIN},
        pricing=PRICING,
        server={"max_wait_s": 30},
        webhooks={"secret": "whsec_" + "A" * 43 + "="},
        security={"allow_private_urls": True, "allow_http_urls": True},
    )
    with running_app(args, generate=fake_generate) as running:
        yield running


def test_who_may_call_what(app: RunningApp) -> None:
    admin = Api(app.url, ADMIN)
    _, alice = tenant(admin, app.url, 10)
    r = httpx.get(f"{app.url}/v1/tasks")
    assert r.status_code == 401 and r.json()["error"]["type"] == "unauthenticated"
    assert r.headers["www-authenticate"].startswith("Bearer")
    for bad in ("gp_not-a-key", "not even our prefix", ADMIN + "x"):
        r = httpx.get(f"{app.url}/v1/tasks", headers={"Authorization": f"Bearer {bad}"})
        assert r.status_code == 401, bad
    assert admin.http.get("/v1/tasks").json()["error"]["type"] == "permission_denied"  # 403: not a tenant
    assert alice.http.post("/v1/admin/tenants", json={"name": "x"}).status_code == 403
    assert alice.http.get("/metrics").status_code == 403 and admin.http.get("/metrics").status_code == 200
    assert httpx.get(f"{app.url}/health").status_code == 200  # probes need no key
    assert alice.ok("GET", "/v1/providers")["data"]


def test_keys_revoked_or_expired_stop_at_once(app: RunningApp) -> None:
    admin = Api(app.url, ADMIN)
    tid, alice = tenant(admin, app.url, 0)
    alice.ok("GET", "/v1/me")
    (key,) = admin.ok("GET", f"/v1/admin/tenants/{tid}/keys")["data"]
    assert "key" not in key and "hash" not in key  # never shown again
    admin.ok("DELETE", f"/v1/admin/keys/{key['id']}")
    r = alice.http.get("/v1/me")
    assert r.status_code == 401 and "revoked" in r.json()["error"]["message"]
    soon = admin.ok("POST", f"/v1/admin/tenants/{tid}/keys", 201, json={"expires_at": time.time() + 1.0})
    short = Api(app.url, soon["key"])
    short.ok("GET", "/v1/me")
    time.sleep(1.1)
    assert short.http.get("/v1/me").status_code == 401
    past = admin.http.post(f"/v1/admin/tenants/{tid}/keys", json={"expires_at": time.time() - 5})
    assert past.status_code == 422


def test_another_tenants_ids_are_404_everywhere(app: RunningApp) -> None:
    admin = Api(app.url, ADMIN)
    _, alice = tenant(admin, app.url, 100)
    _, bob = tenant(admin, app.url, 100)
    upload = alice.ok("POST", "/v1/assets", 201, files={"file": ("a.png", png(64, 64, 2), "image/png")})
    done = alice.finished(alice.ok("POST", "/v1/tasks", 202, json=body(webhook_url="http://127.0.0.1:9/h"))["id"])
    failed = alice.finished(alice.ok("POST", "/v1/tasks", 202, json=body("boom"))["id"])
    output = done["result"]["assets"][0]["id"]
    assert done["tenant_id"] == failed["tenant_id"] != bob.ok("GET", "/v1/me")["id"]
    for method, path in [
        ("GET", f"/v1/tasks/{done['id']}"),
        ("GET", f"/v1/tasks/{done['id']}/events"),
        ("POST", f"/v1/tasks/{done['id']}/cancel"),
        ("POST", f"/v1/tasks/{failed['id']}/retry"),
        ("GET", f"/v1/tasks/{done['id']}/webhooks"),
        ("POST", f"/v1/tasks/{done['id']}/webhooks/redeliver"),
        ("GET", f"/v1/assets/{output}"),
        ("GET", f"/v1/assets/{output}/content"),
        ("GET", f"/v1/assets/{upload['id']}"),
        ("GET", f"/v1/assets/{upload['id']}/content"),
    ]:
        r = bob.http.request(method, path)
        assert r.status_code == 404 and r.json()["error"]["type"] == "not_found", (method, path, r.text)
        if method == "GET":
            assert alice.http.get(path).status_code == 200, path  # the owner sees it
    i2v = {"provider": "diffusers", "task_type": "image-to-image", "params": {"prompt": "x", "image": upload["id"]}}
    r = bob.http.post("/v1/tasks", json=i2v)  # another tenant's asset as an input: as unknown as a made-up id
    assert r.status_code == 422 and r.json()["error"]["details"]["asset"] == upload["id"]
    assert [t["id"] for t in bob.ok("GET", "/v1/tasks")["data"]] == []
    assert {t["id"] for t in alice.ok("GET", "/v1/tasks")["data"]} == {done["id"], failed["id"]}
    assert bob.ok("GET", "/v1/tasks", params={"status": "failed"})["data"] == []
    # idempotency keys are per tenant: the same key makes each tenant its own task
    a = alice.ok("POST", "/v1/tasks", 202, json=body(), headers={"Idempotency-Key": "same"})
    b = bob.ok("POST", "/v1/tasks", 202, json=body(), headers={"Idempotency-Key": "same"})
    assert a["id"] != b["id"] and a["tenant_id"] != b["tenant_id"]


def test_credits_are_held_settled_and_refunded_once(app: RunningApp) -> None:
    admin = Api(app.url, ADMIN)
    tid, alice = tenant(admin, app.url, 12)
    ok = alice.finished(alice.ok("POST", "/v1/tasks", 202, json=body(n=2))["id"])
    assert ok["billing"]["held"] == 5 and ok["billing"]["state"] == "settled" and ok["billing"]["charged"] == 5
    short = alice.finished(alice.ok("POST", "/v1/tasks", 202, json=body("short", n=2))["id"])
    assert short["billing"]["charged"] == 3 and short["billing"]["units"] == {"images": 1.0}  # what it delivered
    boom = alice.finished(alice.ok("POST", "/v1/tasks", 202, json=body("boom"))["id"])
    assert boom["status"] == "failed" and boom["billing"]["state"] == "refunded"
    slow = alice.ok("POST", "/v1/tasks", 202, json=body("slow"))
    me = alice.ok("GET", "/v1/me")
    assert (me["balance"], me["held"], me["available"]) == (12 - 5 - 3, 3, 12 - 5 - 3 - 3)
    r = alice.http.post("/v1/tasks", json=body(n=2))  # 5 > 1 available: 402, nothing stored
    assert r.status_code == 402, r.text
    err = r.json()["error"]
    assert err["type"] == "insufficient_credits" and err["details"] == {
        "balance": 4,
        "held": 3,
        "available": 1,
        "price": 5,
    }
    canceled = alice.ok("POST", f"/v1/tasks/{slow['id']}/cancel")
    assert canceled["billing"]["state"] == "refunded"
    me = alice.ok("GET", "/v1/me")
    assert (me["balance"], me["held"]) == (4, 0)
    entries = alice.ok("GET", "/v1/ledger", params={"limit": 3})
    assert len(entries["data"]) == 3 and entries["next_cursor"]
    rest = alice.ok("GET", "/v1/ledger", params={"cursor": entries["next_cursor"], "limit": 100})["data"]
    ledger = entries["data"] + rest
    kinds = [e["kind"] for e in reversed(ledger)]
    assert kinds == ["topup", "hold", "settle", "hold", "settle", "hold", "refund", "hold", "refund"]
    balance = sum(e["amount"] for e in ledger if e["kind"] in ("topup", "adjustment"))
    balance -= sum(e["amount"] for e in ledger if e["kind"] == "settle")
    assert balance == me["balance"]
    usage = alice.ok("GET", "/v1/usage")["data"]
    assert [(u["succeeded"], u["refunded"], u["spend"]) for u in usage] == [(2, 2, 8)]
    top = admin.ok("POST", f"/v1/admin/tenants/{tid}/credits", json={"amount": -4, "note": "clawback"})
    assert top["balance"] == 0
    assert admin.http.post(f"/v1/admin/tenants/{tid}/credits", json={"amount": -1}).status_code == 409
    assert admin.ok("GET", f"/v1/admin/tenants/{tid}")["balance"] == 0


def test_key_scopes_and_limits(app: RunningApp) -> None:
    admin = Api(app.url, ADMIN)
    _, scoped = tenant(admin, app.url, 100, scopes={"providers": ["kling"]})
    r = scoped.http.post("/v1/tasks", json=body())
    assert r.status_code == 403 and r.json()["error"]["details"] == {
        "provider": "diffusers",
        "task_type": "text-to-image",
    }
    _, single = tenant(admin, app.url, 100, limits={"max_concurrent_tasks": 1})
    first = single.ok("POST", "/v1/tasks", 202, json=body("slow"))
    r = single.http.post("/v1/tasks", json=body())
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1 and r.json()["error"]["type"] == "rate_limited"
    single.ok("POST", f"/v1/tasks/{first['id']}/cancel")
    single.finished(single.ok("POST", "/v1/tasks", 202, json=body())["id"])  # the slot came back with the cancel
    _, throttled = tenant(admin, app.url, 0, limits={"requests_per_s": 2})
    codes = [throttled.http.get("/v1/me").status_code for _ in range(6)]
    assert codes[:2] == [200, 200] and 429 in codes


def test_unpriced_tasks_can_be_refused(tmp_path: Path) -> None:
    args = local_args(tmp_path, pricing=PRICING, billing={"refuse_unpriced": True})
    with running_app(args, generate=fake_generate) as running:
        api = Api(running.url, None)  # auth off on loopback: the built-in tenant, no key
        image = "data:image/png;base64," + base64.b64encode(png(64, 64, 3)).decode()
        i2i = {"provider": "diffusers", "task_type": "image-to-image", "params": {"prompt": "x", "image": image}}
        r = api.http.post("/v1/tasks", json=i2i)
        assert r.status_code == 422 and "no price" in r.json()["error"]["message"]
        assert api.http.post("/v1/tasks", json=body()).status_code == 402  # priced, and nobody topped it up
        assert api.ok("GET", "/v1/me")["id"] == "ten_default"


def test_auth_off_refuses_anything_but_loopback() -> None:
    from genpulse.core.config import AuthConfig

    check_exposure(AuthConfig(), "127.0.0.1")
    check_exposure(AuthConfig(), "::1")
    for host in ("0.0.0.0", "10.0.0.5", None):
        with pytest.raises(ConfigError, match="GENPULSE_AUTH__MODE"):
            check_exposure(AuthConfig(), host)
    check_exposure(AuthConfig(mode="keys", admin_key=ADMIN), "0.0.0.0")


async def test_each_tenant_signs_with_its_own_secret(app: RunningApp) -> None:
    admin = Api(app.url, ADMIN)
    _, alice = tenant(admin, app.url, 10)
    secret = alice.ok("POST", "/v1/me/webhook-secret")["secret"]
    assert secret.startswith("whsec_")
    receiver = Receiver(secret)
    with serve_asgi(receiver) as hook:
        task = alice.finished(alice.ok("POST", "/v1/tasks", 202, json=body("free", webhook_url=f"{hook}/h"))["id"])
        store = app.runtime.service.store
        config = WebhooksConfig.model_validate({"secret": "whsec_" + "B" * 43 + "="})  # the server's: not used
        deliverer = WebhookDeliverer(
            store, config, security=SecurityConfig(allow_private_urls=True, allow_http_urls=True)
        )
        try:
            await deliverer.run_once()
            for _ in range(200):
                if receiver.received:
                    break
                await asyncio.sleep(0.05)
        finally:
            await deliverer.close()
    assert receiver.received and receiver.received[0].signature_ok, receiver.received
    assert task["id"] in receiver.received[0].body.decode()


async def test_the_python_sdks_take_an_api_key(app: RunningApp) -> None:
    from genpulse.client import AsyncGenPulse, GenPulse
    from genpulse.core.errors import InsufficientCredits, Unauthenticated

    admin = Api(app.url, ADMIN)
    tid, _ = tenant(admin, app.url, 3)
    key = admin.ok("POST", f"/v1/admin/tenants/{tid}/keys", 201, json={})["key"]
    params = body()["params"]
    with GenPulse(app.url, api_key=key) as gp:
        task = gp.run("diffusers", "text-to-image", params)
        assert task.status == "succeeded" and task.tenant_id == tid
        assert gp.download(task.result["assets"][0]["id"])[:8] == b"\x89PNG\r\n\x1a\n"
        with pytest.raises(InsufficientCredits) as poor:  # 3 credits spent: nothing left to hold
            gp.submit("diffusers", "text-to-image", params)
        assert poor.value.status_code == 402 and poor.value.details["price"] == 3
    with GenPulse(app.url) as anonymous, pytest.raises(Unauthenticated):
        anonymous.get(task.id)
    async with AsyncGenPulse(app.url, api_key=key) as agp:
        assert (await agp.get(task.id)).id == task.id


def test_admin_reads_a_tenants_usage(app: RunningApp) -> None:
    admin = Api(app.url, ADMIN)
    tenant_id, api = tenant(admin, app.url, 10)
    api.finished(api.ok("POST", "/v1/tasks", 202, json=body())["id"])
    rows = admin.ok("GET", f"/v1/admin/tenants/{tenant_id}/usage")["data"]
    assert [(r["provider"], r["succeeded"], r["spend"]) for r in rows] == [("diffusers", 1, 3)]
    assert rows == api.ok("GET", "/v1/usage")["data"]
    assert api.http.get(f"/v1/admin/tenants/{tenant_id}/usage").status_code == 403
    assert admin.http.get("/v1/admin/tenants/ten_nobody/usage").status_code == 404
