"""RateLimiterActor: one named, detached async actor per vendor around ``genpulse.providers.ratelimit.RateLimiter``.

Not a Serve deployment: replicas would split the budget. ``num_cpus=0``; restartable: its request window restarts
empty (at worst one extra window of calls), and it relearns the held job slots from the running jobs' lease
renewals (admitting no new job for half a lease TTL meanwhile). ``ActorLimiter`` is the client workers use; it
implements ``genpulse.providers.vendor_runner.Limiter``. Limits change at run time with ``configure`` (no restart).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ray
from ray.exceptions import RayActorError

from deployments.versions import code_hash
from genpulse.core import gc_tuning
from genpulse.core.config import AppArgs
from genpulse.core.errors import ServiceUnavailable
from genpulse.providers.ratelimit import JOB_TTL_S, RateLimiter
from genpulse.tasks.call_batch import Call, CallBatcher, Outcome, Tickets

# Job-slot calls made in one event-loop turn of a worker go as one actor call (``genpulse.tasks.call_batch``): a
# slot granted at once answers in the batch, one that waits keeps its place and is collected by its own call.
# ``acquire_request`` goes alone: tokens are paced ``1/rps`` apart, so nearly every one of a batch would wait.
BATCHED = frozenset({"acquire_job", "renew_job", "release_job"})


def limiter_name(provider: str) -> str:
    return f"genpulse-limiter-{provider}"


@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1, max_concurrency=10_000)
class RateLimiterActor(RateLimiter):
    """The RateLimiter on one event loop, shared by every worker of the cluster.

    ``deploy_limits`` is what each ingress replica of a deploy calls: it applies the deploy's limits only when
    they differ from the last deploy's, so limits changed at run time (``genpulse limits``, ``configure``)
    stand until a deploy says otherwise, however many replicas start meanwhile."""

    def __init__(self, rps: float, max_concurrent_jobs: int, deploy: str = "", job_ttl_s: float = JOB_TTL_S) -> None:
        super().__init__(rps, max_concurrent_jobs, job_ttl_s=job_ttl_s)
        self._deployed = (float(rps), int(max_concurrent_jobs))
        self._deploy = deploy
        self._tickets = Tickets()
        gc_tuning.tune()

    async def batch(self, calls: list[Call]) -> list[Outcome]:
        return await self._tickets.run_batch(self, calls, BATCHED)

    async def collect(self, ticket: int) -> Any:
        return await self._tickets.collect(ticket)

    def fingerprint(self) -> str:
        return self._deploy

    def deploy_limits(self, rps: float, max_concurrent_jobs: int) -> bool:
        if (float(rps), int(max_concurrent_jobs)) == self._deployed:
            return False
        self._deployed = (float(rps), int(max_concurrent_jobs))
        self.configure(rps, max_concurrent_jobs)
        return True

    def _lost_state(self) -> bool:  # Ray restarted this actor: the job slots it held are forgotten
        return ray.get_runtime_context().was_current_actor_reconstructed


def limiter_version() -> str:
    """A limiter is replaced only for new code; new limits reach it through ``deploy_limits``."""
    return code_hash()[:16]


def connect_limiter(provider: str, args: AppArgs) -> Any:
    cfg = args.provider(provider)
    return RateLimiterActor.options(
        name=limiter_name(provider),
        namespace=args.namespace,
        lifetime="detached",
        get_if_exists=True,
        **args.placement.limiters.actor_options(),
    ).remote(cfg.rps, cfg.max_concurrent_jobs, limiter_version())


class ActorLimiter:
    """Client of a RateLimiterActor; an unreachable limiter is a retryable ``ServiceUnavailable``.

    ``reconnect`` gets the limiter by name again: a limiter replaced by a redeploy (``deployments/versions.py``)
    is a new actor, and a dead handle is swapped for the live one once before a call gives up."""

    def __init__(self, handle: Any, reconnect: Callable[[], Any] | None = None) -> None:
        self._actor, self._reconnect = handle, reconnect
        self.batcher = CallBatcher(
            lambda method, args, kwargs: getattr(self._actor, method).remote(*args, **kwargs),
            lambda calls: self._actor.batch.remote(calls),
            collect=lambda ticket: self._actor.collect.remote(ticket),
        )

    async def _call(self, method: str, *args: Any) -> Any:
        for last in (self._reconnect is None, True):
            try:
                if method in BATCHED:
                    return await self.batcher.call(method, *args)
                return await getattr(self._actor, method).remote(*args)
            except RayActorError as exc:
                if last:
                    raise ServiceUnavailable(f"rate limiter unavailable: {type(exc).__name__}") from None
                assert self._reconnect is not None
                self._actor = self._reconnect()
        raise AssertionError("unreachable")

    async def acquire_request(self, priority: str = "normal") -> float:
        return await self._call("acquire_request", priority)

    async def acquire_job(self, task_id: str, priority: str = "normal", owner: str = "") -> float:
        return await self._call("acquire_job", task_id, priority, owner)

    async def renew_job(self, task_id: str, owner: str = "") -> bool:
        return await self._call("renew_job", task_id, owner)

    async def release_job(self, task_id: str, owner: str = "") -> None:
        await self._call("release_job", task_id, owner)

    async def report_429(self, retry_after: float | None = None) -> None:
        await self._call("report_429", retry_after)

    async def report_out(self, reason: str, cooldown_s: float) -> None:
        await self._call("report_out", reason, cooldown_s)

    async def stats(self) -> dict[str, Any]:
        """``RateLimiter.stats`` of the actor: rates, calls and slots in use, waiters, 429s."""
        return await self._call("stats")
