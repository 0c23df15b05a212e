"""Shared setup of the vendor tests: each vendor's provider, imitation and test credentials in one ``Vendor``.

A vendor test module takes its fixtures from here instead of writing them again::

    server, env = vendor_fixtures(KLING, queue_s=10, run_s=20)   # module-wide imitation; per test: Env
    live_app, live = live_fixture(KLING)                          # the imitation behind the real HTTP API

    async def test_x(env: Env) -> None:
        job = await env.submit("text-to-video", {"prompt": "x"})  # validate + submit with the good credentials
        states, job = await env.walk("text-to-video", job)        # advance the imitation's clock between polls
        bad = env.make(secret_key="wrong")                        # the same provider, other config

The ``env`` and ``live`` fixtures reset the imitation (clock, queued outcomes, errors, faults) for each test.
``VENDORS`` holds the eight; the conformance suite (``tests/test_vendor_conformance.py``) runs every one of them.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.types import ASGIApp

from genpulse.core.config import AppArgs
from genpulse.providers.cloud import CloudProvider, JobState, VendorJob
from genpulse.providers.vendors.baidu import BaiduProvider
from genpulse.providers.vendors.comfyui import ComfyUIProvider
from genpulse.providers.vendors.dashscope import DashScopeProvider
from genpulse.providers.vendors.kling import KlingProvider
from genpulse.providers.vendors.minimax import MiniMaxProvider
from genpulse.providers.vendors.openai import OpenAIProvider
from genpulse.providers.vendors.tencent import TencentProvider
from genpulse.providers.vendors.volcengine import VolcengineProvider
from tests.harness import RunningApp, local_args, running_app
from tests.vendors import baidu, comfyui, dashscope, kling, minimax, openai, tencent, volcengine
from tests.vendors.common import Clock, Imitation
from tests.vendors.live import submit_and_wait
from tests.vendors.server import serve_asgi


@dataclass(frozen=True)
class Vendor:
    """How to run one vendor's provider against its imitation."""

    name: str  # the registry name
    provider: type[CloudProvider]
    imitation: Callable[..., Imitation]  # (credentials, **imitation kwargs) -> the imitation's state
    build_app: Callable[[Any], ASGIApp]
    endpoint: Callable[[str], dict[str, Any]]  # the imitation's URL -> the config keys that point at it
    credentials: Mapping[str, str] = field(default_factory=dict)  # the ones the imitation accepts
    clocked: bool = False  # the provider signs with a clock: it gets the imitation's
    tuning: Mapping[str, Any] = field(default_factory=dict)  # attributes set on each provider made here
    job_key: Callable[[str], str] = str  # our provider_task_id -> the imitation's job id

    def config(self, url: str, **overrides: Any) -> dict[str, Any]:
        return {**self.endpoint(url), **self.credentials, **overrides}

    def make_provider(self, url: str, clock: Clock | None = None, **overrides: Any) -> Any:
        args = AppArgs.load({"providers": {self.name: self.config(url, **overrides)}})
        signing: dict[str, Any] = {"clock": clock} if self.clocked and clock else {}
        provider = self.provider(args, **signing)
        for attr, value in self.tuning.items():
            setattr(provider, attr, value)
        return provider

    def new_imitation(self, **kwargs: Any) -> Any:
        return self.imitation(self.credentials, **kwargs)

    @contextlib.contextmanager
    def serve(self, state: Imitation | None = None, **kwargs: Any) -> Iterator[tuple[Any, str]]:
        """Its imitation (``state``, or a new one made with ``kwargs``) on a loopback port: (state, URL)."""
        state = state or self.new_imitation(**kwargs)
        with serve_asgi(self.build_app(state)) as url:
            state.base_url = url
            yield state, url


KLING = Vendor(
    "kling",
    KlingProvider,
    lambda c, **kw: kling.KlingState({c["access_key"]: c["secret_key"]}, **kw),
    kling.build_app,
    lambda url: {"base_url": url},
    {"access_key": "AKtestkling0000", "secret_key": "SKtestkling0000000000000000000000"},
    clocked=True,
)
VOLCENGINE = Vendor(
    "volcengine",
    VolcengineProvider,
    lambda c, **kw: volcengine.VolcState({c["access_key"]: c["secret_key"]}, {c["api_key"]}, **kw),
    volcengine.build_app,
    lambda url: {"endpoints": {"visual": url, "ark": url + "/api/v3"}},
    {
        "access_key": "AKLTtestaccesskey000000000000",
        "secret_key": "TestSecretKey0000000000000000000000000000==",
        "api_key": "ark-test-key-0000",
    },
    clocked=True,
    job_key=lambda job_id: job_id.rpartition(":")[2],  # Visual: "<req_key>:<task id>"
)
TENCENT = Vendor(
    "tencent",
    TencentProvider,
    lambda c, **kw: tencent.TencentState({c["access_key"]: c["secret_key"]}, **kw),
    tencent.build_app,
    lambda url: {"base_url": url},
    {"access_key": "AKIDtestsecretid00000000000000000000", "secret_key": "TestSecretKey00000000000000000000"},
    clocked=True,
    job_key=lambda job_id: job_id.removeprefix("aiart:"),
)
BAIDU = Vendor(
    "baidu",
    BaiduProvider,
    lambda c, **kw: baidu.BaiduState(c["api_key"], **kw),
    baidu.build_app,
    lambda url: {"base_url": url},
    {"api_key": "bce-v3/ALTAK-test000/0000000000000000000000000000000000000000"},
)
MINIMAX = Vendor(
    "minimax",
    MiniMaxProvider,
    lambda c, **kw: minimax.MiniMaxState(c["api_key"], group_id=c["group_id"], **kw),
    minimax.build_app,
    lambda url: {"base_url": url},
    {"api_key": "mm-test-key-0000", "group_id": "1800000001"},
)
DASHSCOPE = Vendor(
    "dashscope",
    DashScopeProvider,
    lambda c, **kw: dashscope.DashScopeState(c["api_key"], **kw),
    dashscope.build_app,
    lambda url: {"base_url": url},
    {"api_key": "sk-test-dashscope-0000"},
)
OPENAI = Vendor(
    "openai",
    OpenAIProvider,
    lambda c, **kw: openai.OpenAIState(c["api_key"], **kw),
    openai.build_app,
    lambda url: {"base_url": f"{url}/v1"},
    {"api_key": "sk-test-openai-0000"},
)
COMFYUI = Vendor(
    "comfyui",
    ComfyUIProvider,
    lambda c, **kw: comfyui.ComfyState(**kw),
    comfyui.build_app,
    lambda url: {"servers": [url], "timeout_s": 5},
    tuning={"ws_window_s": 0.5},
    job_key=lambda job_id: job_id.split(":")[1],  # "<server key>:<prompt id>:<client id>"
)
VENDORS = {v.name: v for v in (KLING, VOLCENGINE, TENCENT, BAIDU, MINIMAX, DASHSCOPE, OPENAI, COMFYUI)}


@dataclass
class Env:
    """One test's view of a vendor: its imitation, a client, and the provider with the good credentials."""

    vendor: Vendor
    state: Any
    url: str
    client: httpx.AsyncClient
    provider: Any

    @property
    def clock(self) -> Clock:
        return self.state.clock

    def make(self, clock: Clock | None = None, **overrides: Any) -> Any:
        """Another provider on the same imitation: other config (``secret_key="wrong"``) or another clock."""
        return self.vendor.make_provider(self.url, clock or self.state.clock, **overrides)

    async def submit(self, task_type: str, params: dict[str, Any], provider: Any = None) -> VendorJob:
        provider = provider or self.provider
        return await provider.submit(self.client, task_type, provider.validate(task_type, params))

    async def poll(self, task_type: str, job_id: str, provider: Any = None) -> VendorJob:
        return await (provider or self.provider).poll(self.client, task_type, job_id)

    async def walk(
        self, task_type: str, job: VendorJob, steps: tuple[float, ...] = (0, 15, 20)
    ) -> tuple[list[JobState], VendorJob]:
        """Advance the imitation's clock by each step and poll, until the job ends: the states seen, the last job."""
        states = [job.state]
        for step in steps:
            if job.state.is_terminal:
                break
            self.clock.advance(step)
            job = await self.poll(task_type, job.job_id)
            states.append(job.state)
        return states, job

    async def finish(self, task_type: str, job: VendorJob, after_s: float = 60) -> VendorJob:
        """The job polled once its outcome is due."""
        self.clock.advance(after_s)
        return await self.poll(task_type, job.job_id)


def vendor_fixtures(vendor: Vendor, **imitation: Any) -> tuple[Any, Any]:
    """Fixtures ``server`` (the imitation for the module: (state, URL)) and ``env`` (a reset ``Env`` per test)."""

    @pytest.fixture(scope="module", name="server")
    def server() -> Iterator[tuple[Any, str]]:
        with vendor.serve(**imitation) as served:
            yield served

    @pytest.fixture(name="env")
    async def env(server: tuple[Any, str]) -> AsyncIterator[Env]:
        state, url = server
        state.reset()
        async with httpx.AsyncClient(timeout=10) as client:
            yield Env(vendor, state, url, client, vendor.make_provider(url, state.clock))

    return server, env


def app_config(vendor: Vendor, url: str, **overrides: Any) -> dict[str, Any]:
    """The provider's config in a running app: quick polls, no client-side pacing in the way."""
    return {"rps": 100, "poll_interval_s": 0.1, **vendor.config(url, **overrides)}


@dataclass
class Live:
    """A vendor's imitation behind the whole service (real HTTP API, workers, storage)."""

    state: Any
    client: httpx.Client
    app: RunningApp
    vendor: Vendor

    def run(self, task_type: str, params: dict[str, Any], **fields: Any) -> dict[str, Any]:
        """Submit one task through the API and wait until it ends; returns the task."""
        body = {"provider": self.vendor.name, "task_type": task_type, "params": params, **fields}
        return submit_and_wait(self.client, body)


@contextlib.contextmanager
def live_app(vendor: Vendor, tmp_path: Path, state: Imitation | None = None, **imitation: Any) -> Iterator[Live]:
    with vendor.serve(state, **imitation) as (served, url):
        args = local_args(tmp_path, providers={vendor.name: app_config(vendor, url)})
        with running_app(args) as app, httpx.Client(base_url=app.url, timeout=30) as client:
            yield Live(served, client, app, vendor)


def live_fixture(vendor: Vendor, **imitation: Any) -> tuple[Any, Any]:
    """Fixtures ``live_app`` (one ``Live`` for the module, its imitation timed for real: 0.1 s queued, 0.2 s
    running) and ``live`` (the same, its imitation reset for each test)."""

    @pytest.fixture(scope="module", name="live_app")
    def live_app_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
        kwargs = {"queue_s": 0.1, "run_s": 0.2, **imitation}
        with live_app(vendor, tmp_path_factory.mktemp(vendor.name), **kwargs) as running:
            yield running

    @pytest.fixture(name="live")
    def live(live_app: Live) -> Live:
        live_app.state.reset()
        return live_app

    return live_app_fixture, live
