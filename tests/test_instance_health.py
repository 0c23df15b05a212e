"""Routing around provider instances that are out: an account that answered its arrears code, or a vendor that
refused the connection, is marked out on its rate limiter for a cooldown, and a model alias routes straight to
its other routes meanwhile (no submit at the out instance), and to it again once the cooldown ends; with every
route out it routes as before. Also: a repeat with the same Idempotency-Key is the same request wherever it is
routed. Through the real HTTP API (in-process, no Ray) against Kling imitations on 127.0.0.1; the limiters'
clock is moved on to end a cooldown."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from genpulse.api.openai import catalog
from genpulse.core.config import AppArgs
from genpulse.core.errors import InsufficientBalance, ProviderAuthError, ProviderRateLimited, ProviderServerError
from genpulse.providers.health import InstanceHealth
from genpulse.providers.http import mark, out_reason, transport_error
from genpulse.providers.ratelimit import RateLimiter
from genpulse.providers.registry import Registry
from genpulse.tenants.auth import OPEN
from tests.conftest import free_port, wait_for
from tests.harness import RunningApp, local_args, running_app
from tests.results_app import png
from tests.vendors.harness import KLING, app_config
from tests.vendors.kling import KlingState

BACKUP = {"access_key": "AKbackupkling00", "secret_key": "SKbackupkling000000000000000000000"}
FIRST_THEN_BACKUP = [{"provider": "kling", "priority": 0}, {"provider": "kling_backup", "priority": 1}]


class MovedClock:
    """``time.monotonic``, moved on by the test."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.offset


@pytest.fixture
def backup() -> Iterator[tuple[KlingState, str]]:
    """A second Kling account that takes every job."""
    with KLING.serve(KLING.imitation(BACKUP)) as served:
        yield served


def args_for(tmp_path: Path, first_url: str, backup_url: str, routes: list[dict[str, Any]]) -> AppArgs:
    return local_args(
        tmp_path,
        providers={
            "diffusers": {"enabled": False},
            "kling": app_config(KLING, first_url),
            "kling_backup": {**app_config(KLING, backup_url), **BACKUP, "kind": "kling"},
        },
        models={
            "fox": {"task_type": "text-to-image", "routes": routes},
            "waves": {"task_type": "text-to-video", "routes": routes},
            "tide": {"task_type": "text-to-video", "routes": FIRST_THEN_BACKUP},
        },
        workers={"backoff_base_s": 0.05, "backoff_max_s": 0.2},
        server={"max_wait_s": 20},
    )


def sdk(app: RunningApp) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{app.url}/v1", api_key="unused", max_retries=0, timeout=60)


def newest_task(app: RunningApp) -> dict[str, Any]:
    return httpx.get(f"{app.url}/v1/tasks", params={"limit": 1}, timeout=30).json()["data"][0]


def task(app: RunningApp, task_id: str) -> dict[str, Any]:
    return httpx.get(f"{app.url}/v1/tasks/{task_id}", timeout=30).json()


def out(app: RunningApp, provider: str) -> dict[str, Any] | None:
    listed = httpx.get(f"{app.url}/v1/providers", timeout=30).json()["data"]
    return next(p for p in listed if p["name"] == provider)["out"]


def generate(app: RunningApp) -> dict[str, Any]:
    assert sdk(app).images.generate(model="fox", prompt="a fox", response_format="b64_json").data[0].b64_json
    return newest_task(app)


def test_an_instance_in_arrears_is_routed_around_until_its_cooldown_ends(
    tmp_path: Path, backup: tuple[KlingState, str]
) -> None:
    backup_state, backup_url = backup
    clock = MovedClock()
    with KLING.serve() as (first, first_url):
        first.errors.extend([1101, 1101])  # in arrears: a second submit would be refused too
        with running_app(args_for(tmp_path, first_url, backup_url, FIRST_THEN_BACKUP), clock=clock) as app:
            moved = generate(app)
            marked = wait_for(lambda: out(app, "kling"), message="kling marked out")
            seen = len(first.tokens)
            straight = generate(app)
            assert len(first.tokens) == seen  # not a single request at the account in arrears
            first.errors.clear()  # paid up
            clock.offset += 301  # the arrears cooldown (300 s by default) ends
            wait_for(lambda: out(app, "kling") is None, message="kling back")
            back = generate(app)
    assert [a["provider"] for a in moved["route_attempts"]] == ["kling"] and moved["provider"] == "kling_backup"
    assert marked["reason"] == "arrears" and 200 < marked["for_s"] <= 300
    assert (straight["provider"], straight["route_attempts"], straight["attempts"]) == ("kling_backup", [], 1)
    assert (back["provider"], back["route_attempts"], back["status"]) == ("kling", [], "succeeded")
    assert (len(first.jobs), len(backup_state.jobs)) == (1, 2)


def test_an_unreachable_instance_is_routed_around_for_its_cooldown(
    tmp_path: Path, backup: tuple[KlingState, str]
) -> None:
    backup_state, backup_url = backup
    clock = MovedClock()
    down = f"http://127.0.0.1:{free_port()}"  # nothing listens: connection refused
    with running_app(args_for(tmp_path, down, backup_url, FIRST_THEN_BACKUP), clock=clock) as app:
        moved = generate(app)
        marked = wait_for(lambda: out(app, "kling"), message="kling marked out")
        straight = generate(app)
        clock.offset += 61  # out_cooldown_s: 60 s by default
        wait_for(lambda: out(app, "kling") is None, message="kling back")
        tried_again = generate(app)
    assert marked["reason"] == "unreachable" and 20 < marked["for_s"] <= 60
    assert "ConnectError" in moved["route_attempts"][0]["error"]["message"]
    assert (straight["provider"], straight["route_attempts"], straight["attempts"]) == ("kling_backup", [], 1)
    assert [a["provider"] for a in tried_again["route_attempts"]] == ["kling"]  # tried first again, still down
    assert tried_again["provider"] == "kling_backup" and len(backup_state.jobs) == 3


def test_with_every_route_out_a_request_is_routed_as_before(tmp_path: Path, backup: tuple[KlingState, str]) -> None:
    """Not refused up front: it goes to the first route, which may have recovered (here it has)."""
    backup_state, backup_url = backup
    with KLING.serve() as (first, first_url):
        first.errors.append(1101)
        backup_state.errors.append(1102)
        with running_app(args_for(tmp_path, first_url, backup_url, FIRST_THEN_BACKUP)) as app:
            with pytest.raises(openai.APIStatusError) as broke:
                generate(app)
            failed = newest_task(app)
            wait_for(lambda: out(app, "kling") and out(app, "kling_backup"), message="both out")
            routed = generate(app)
    assert broke.value.code == "insufficient_balance" and failed["status"] == "failed"
    assert [a["provider"] for a in failed["route_attempts"]] == ["kling"] and failed["provider"] == "kling_backup"
    assert (routed["provider"], routed["route_attempts"], routed["status"]) == ("kling", [], "succeeded")
    assert (len(first.jobs), len(backup_state.jobs)) == (1, 0)


def test_a_repeated_idempotency_key_is_the_same_request_wherever_it_is_routed(
    tmp_path: Path, backup: tuple[KlingState, str]
) -> None:
    """Weighted routes pick afresh per request, and an instance out since the first try is passed over: a repeat
    still answers the first task (it was a 409: the routed request's body named another instance)."""
    _, backup_url = backup
    weighted = [{"provider": "kling"}, {"provider": "kling_backup"}]
    with KLING.serve() as (first, first_url), running_app(args_for(tmp_path, first_url, backup_url, weighted)) as app:
        client = sdk(app)

        def create(model: str, key: str | None) -> str:
            headers = {"Idempotency-Key": key} if key else {}
            video = client.videos.create(model=model, prompt="waves", seconds="5", extra_headers=headers)  # type: ignore[arg-type]
            return video.id

        weighted_ids = {create("waves", "weighted-key") for _ in range(12)}
        first_id = create("tide", "tide-key")  # kling, the first route
        wait_for(lambda: task(app, first_id)["provider_task_id"], message="its job at kling")
        first.errors.append(1101)
        create("tide", None)  # refused at kling (arrears), failed over: kling is out
        wait_for(lambda: out(app, "kling"), message="kling marked out")
        again = create("tide", "tide-key")  # routed to kling_backup now
        tasks = httpx.get(f"{app.url}/v1/tasks", params={"limit": 50}, timeout=30).json()["data"]
    assert len(weighted_ids) == 1 and again == first_id
    assert len(tasks) == 3  # the weighted one, tide-key's, the keyless one
    assert next(t for t in tasks if t["id"] == first_id)["provider"] == "kling"


def test_an_out_mark_is_kept_by_the_limiter_and_only_lengthened() -> None:
    now = [100.0]
    limiter = RateLimiter(5, 2, clock=lambda: now[0])

    async def scenario() -> list[dict[str, Any]]:
        seen = [await limiter.stats()]
        await limiter.report_out("unreachable", 60)
        seen.append(await limiter.stats())
        await limiter.report_out("credentials", 10)  # shorter: the longer mark stands
        now[0] += 30
        seen.append(await limiter.stats())
        await limiter.report_out("arrears", 300)
        now[0] += 300
        seen.append(await limiter.stats())
        return seen

    before, marked, shorter, ended = asyncio.run(scenario())
    assert (before["out_reason"], before["out_for_s"]) == (None, None)
    assert (marked["out_reason"], marked["out_for_s"]) == ("unreachable", 60)
    assert (shorter["out_reason"], shorter["out_for_s"]) == ("unreachable", 30)
    assert (ended["out_reason"], ended["out_for_s"]) == (None, None)


def test_which_refusals_put_an_instance_out() -> None:
    refused_connection = transport_error("kling", "POST", "http://x/v1", httpx.ConnectError("refused"))
    reset = transport_error("kling", "POST", "http://x/v1", httpx.ReadError("reset"))
    assert out_reason(mark(InsufficientBalance("1101"), refused=True)) == "arrears"
    assert out_reason(mark(ProviderAuthError("401"), refused=True)) == "credentials"
    assert out_reason(refused_connection) == "unreachable"
    assert out_reason(reset) is None  # it may have reached the vendor: it says nothing about the account
    assert out_reason(mark(ProviderRateLimited("429"), refused=True)) is None  # the limiter's pause handles it
    assert out_reason(mark(ProviderServerError("5000"), refused=True)) is None
    assert out_reason(InsufficientBalance("unmarked")) is None


def test_the_view_reads_the_limiters_at_most_once_per_ttl() -> None:
    now = [0.0]
    reads: Counter[str] = Counter()

    class Limiter:
        def __init__(self, name: str, stats: dict[str, Any]) -> None:
            self.name, self.answer = name, stats

        async def stats(self) -> dict[str, Any]:
            reads[self.name] += 1
            return self.answer

    a = Limiter("a", {"out_reason": "arrears", "out_for_s": 10.0})
    b = Limiter("b", {"out_reason": None, "out_for_s": None})
    health = InstanceHealth(lambda: {"a": a, "b": b}, ttl_s=2, clock=lambda: now[0])

    async def scenario() -> list[set[str]]:
        seen = [set(await health.out()) for _ in range(5)]
        a.answer = {"out_reason": None, "out_for_s": None}
        now[0] += 1
        seen.append(set(await health.out()))  # within the TTL: the copy
        now[0] += 1
        seen.append(set(await health.out()))  # read again
        return seen

    seen = asyncio.run(scenario())
    assert seen == [{"a"}] * 6 + [set()] and reads == {"a": 2, "b": 2}


def test_routing_passes_over_out_instances_while_another_route_is_usable() -> None:
    kling = {"kind": "kling", **BACKUP}
    args = AppArgs.load(
        {
            "providers": {"kling_a": kling, "kling_b": kling, "kling_c": kling},
            "models": {
                "m": {
                    "task_type": "text-to-image",
                    "routes": [
                        {"provider": "kling_a", "weight": 3},
                        {"provider": "kling_b", "weight": 1},
                        {"provider": "kling_c", "priority": 1},
                    ],
                }
            },
        }
    )
    registry, rng = Registry(args), random.Random(3)

    def picks(out: set[str]) -> set[str]:
        return {catalog.resolve("m", args, registry, OPEN, rng=rng, out=out).provider.name for _ in range(200)}

    assert picks({"kling_a"}) == {"kling_b"}
    assert picks({"kling_a", "kling_b"}) == {"kling_c"}  # a lower priority's route, rather than an out one
    assert picks({"kling_a", "kling_b", "kling_c"}) == {"kling_a", "kling_b"}  # all out: as if none were
    model = catalog.resolve("m", args, registry, OPEN, rng=rng, out={"kling_b"})
    assert model.provider.name == "kling_a" and model.fallbacks == ("kling_c", "kling_b")  # the out one last


async def fake_generate(params: dict[str, Any]) -> dict[str, Any]:
    """Stands in for the diffusion replica."""
    return {"images": [png(params["width"], params["height"], 1)], "seed": 1}


def test_a_repeated_edit_with_the_same_key_and_image_is_the_same_request(tmp_path: Path) -> None:
    """Each upload is a new asset: the key stands for the image's content, not its asset id."""
    with running_app(local_args(tmp_path), generate=fake_generate) as app:
        client = sdk(app)
        key = {"Idempotency-Key": "edit-key"}

        def edit(image: bytes) -> Any:
            return client.images.edit(model="tiny", image=("in.png", image, "image/png"), prompt="blue",
                                      size="64x64", extra_headers=key)  # fmt: skip

        first, again = edit(png(40, 40, 3)), edit(png(40, 40, 3))
        with pytest.raises(openai.ConflictError):
            edit(png(40, 40, 4))  # another image under the same key
        tasks = httpx.get(f"{app.url}/v1/tasks", timeout=30).json()["data"]
    assert first.created == again.created and first.data[0].url == again.data[0].url and len(tasks) == 1
