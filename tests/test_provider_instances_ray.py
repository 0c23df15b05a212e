"""Provider instances on a real Ray instance: two Kling accounts are two providers, each with its own worker pool
and rate limiter (named detached actors); a model alias routes to them, and a task the first account refuses
(arrears) is handed from its worker actor to the second account's; the refusal marks the first account out on its
limiter actor, and the ingress routes the next request straight to the second."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.conftest import RaySession, wait_for
from tests.vendors.kling import KlingState, build_app
from tests.vendors.server import serve_asgi

pytestmark = pytest.mark.ray

MAIN, BACKUP = ("ak-main", "sk-main"), ("ak-backup", "sk-backup")
OTHERS = ("baidu", "comfyui", "dashscope", "diffusers", "minimax", "openai", "pipeline", "tencent", "volcengine")


@pytest.fixture
def accounts() -> Iterator[dict[str, tuple[KlingState, str]]]:
    """One Kling imitation per account, each knowing only its own keys."""
    main, backup = KlingState(dict([MAIN]), run_s=0.3), KlingState(dict([BACKUP]), run_s=0.3)
    with serve_asgi(build_app(main)) as main_url, serve_asgi(build_app(backup)) as backup_url:
        main.base_url, backup.base_url = main_url, backup_url
        yield {"kling": (main, main_url), "kling_backup": (backup, backup_url)}


def out_mark(client: httpx.Client, provider: str) -> dict[str, Any] | None:
    return next(p for p in client.get("/v1/providers").json()["data"] if p["name"] == provider)["out"]


def args_for(tmp_path: Path, accounts: dict[str, tuple[KlingState, str]]) -> dict[str, Any]:
    (_, main_url), (_, backup_url) = accounts["kling"], accounts["kling_backup"]
    main = {"base_url": main_url, "access_key": MAIN[0], "secret_key": MAIN[1], "poll_interval_s": 0.2}
    backup = {"base_url": backup_url, "access_key": BACKUP[0], "secret_key": BACKUP[1], "poll_interval_s": 0.2}
    routes = [{"provider": "kling"}, {"provider": "kling_backup", "priority": 1}]
    return {
        "namespace": f"inst-{os.urandom(4).hex()}",
        "storage": {"path": str(tmp_path / "data")},
        "server": {"max_wait_s": 30},
        "providers": {
            **{p: {"enabled": False} for p in OTHERS},  # fewer actors to start: a quicker deploy
            "kling": main,
            "kling_backup": {**backup, "kind": "kling", "rps": 7},
        },
        "models": {"fox": {"task_type": "text-to-image", "routes": routes}},
    }


def test_two_accounts_get_their_own_workers_and_limiters_and_an_alias_fails_over(
    ray_serve: RaySession, tmp_path: Path, accounts: dict[str, tuple[KlingState, str]]
) -> None:
    import ray
    from ray import serve

    from deployments.app import build_app as build

    args = args_for(tmp_path, accounts)
    (main, _), (backup, _) = accounts["kling"], accounts["kling_backup"]
    serve.run(build(args), name="genpulse", route_prefix="/")
    try:
        sdk = openai.OpenAI(base_url=f"{ray_serve.base_url}/v1", api_key="unused", max_retries=0, timeout=60)
        sdk.images.generate(model="fox", prompt="a fox", response_format="b64_json")  # the first route
        main.errors.extend([1101, 1101])  # the first account is in arrears now (a second submit is refused too)
        out = sdk.images.generate(model="fox", prompt="a fox", response_format="b64_json")
        assert out.data[0].b64_json
        with httpx.Client(base_url=ray_serve.base_url, timeout=30) as client:
            ready = client.get("/health/ready")  # configured vendors have limiters, and readiness checks them
            assert ready.status_code == 200 and "limiters" in ready.json()["checks"], ready.text
            # the refusal marked the first account out on its limiter actor; the ingress routes around it
            marked = wait_for(lambda: out_mark(client, "kling"), 30, message="kling marked out")
            seen = len(main.tokens)
            sdk.images.generate(model="fox", prompt="a fox", response_format="b64_json")
            first, second, third = reversed(client.get("/v1/tasks", params={"limit": 3}).json()["data"])
        ours = [a for a in ray.util.list_named_actors(all_namespaces=True) if a["namespace"] == args["namespace"]]
        names = {a["name"] for a in ours}
        limiters = {
            p: ray.get(ray.get_actor(f"genpulse-limiter-{p}", namespace=args["namespace"]).stats.remote())
            for p in ("kling", "kling_backup")
        }
    finally:
        serve.delete("genpulse")
    assert {"genpulse-worker-kling-0", "genpulse-worker-kling_backup-0"} <= names
    assert limiters["kling"]["rps"] != limiters["kling_backup"]["rps"] == 7  # each account its own limits
    assert (first["provider"], first["status"], first["route_attempts"]) == ("kling", "succeeded", [])
    assert (second["provider"], second["status"]) == ("kling_backup", "succeeded")
    assert [(a["provider"], a["error"]["provider_code"]) for a in second["route_attempts"]] == [("kling", "1101")]
    assert marked["reason"] == "arrears" and limiters["kling"]["out_reason"] == "arrears"
    assert (third["provider"], third["route_attempts"]) == ("kling_backup", [])  # straight there:
    assert len(main.tokens) == seen  # not one request at the account in arrears
    assert (len(main.jobs), len(backup.jobs)) == (1, 2)  # jobs at their own accounts; none at one in arrears
