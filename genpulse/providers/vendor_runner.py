"""VendorRunner: runs one cloud-vendor task through its provider client, its rate limiter and re-hosting.

Per task: take a job slot (held until the vendor job ends) → submit (one request token), checkpoint the vendor
job id at once → poll on the provider's adaptive schedule (one token per poll) → re-host every output as our
Asset → return the result. A task that already has a ``provider_task_id`` resumes polling: it is never
submitted twice. Rules that keep us from paying twice:

- a submit is retryable only when the vendor surely did not accept it (an HTTP error reply, or a connection
  that never reached it); a submit whose reply was lost (read timeout, reset) fails the task permanently;
- transient poll errors are retried here, with backoff, without losing the job;
- a vendor-side failure clears the checkpoint, so a retried task submits a new job;
- a canceled task cancels its vendor job where the vendor allows it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import httpx
from pydantic import BaseModel

from genpulse.core import metrics
from genpulse.core.errors import GenPulseError, ProviderError, ProviderRateLimited
from genpulse.core.schemas import Asset, Task
from genpulse.jobs.runners import RunContext
from genpulse.providers.cloud import CloudProvider, JobState, VendorJob, VendorOutput

log = logging.getLogger("genpulse.vendor")

Rehost = Callable[[VendorOutput], Awaitable[Asset]]
Prepare = Callable[[BaseModel], Awaitable[BaseModel]]
MAX_POLL_ERRORS = 5


class Limiter(Protocol):
    async def acquire_request(self, priority: str = "normal") -> float: ...

    async def acquire_job(self, task_id: str, priority: str = "normal") -> float: ...

    async def release_job(self, task_id: str) -> None: ...

    async def report_429(self, retry_after: float | None = None) -> None: ...


def vendor_http_client(provider: CloudProvider) -> httpx.AsyncClient:
    timeout = provider.config.timeout_s
    return httpx.AsyncClient(
        # no pool timeout: waiting for a free connection is queueing (the limiter bounds it), not a vendor failure
        timeout=httpx.Timeout(timeout, connect=min(10.0, timeout), pool=None),
        limits=httpx.Limits(max_connections=provider.config.max_connections, max_keepalive_connections=20),
        follow_redirects=True,
    )


class VendorRunner:
    def __init__(
        self,
        provider: CloudProvider,
        client: httpx.AsyncClient,
        limiter: Limiter,
        rehost: Rehost,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        prepare: Prepare | None = None,
    ) -> None:
        self.provider, self.client, self.limiter, self.rehost = provider, client, limiter, rehost
        self._sleep, self._clock, self._prepare = sleep, clock, prepare
        # At most as many vendor exchanges in flight as pooled connections: httpcore's pool queue is quadratic,
        # so thousands of jobs must queue here, not there.
        self._slots = asyncio.Semaphore(provider.config.max_connections)

    async def run(self, task: Task, ctx: RunContext) -> dict[str, Any]:
        params = self.provider.validate(task.task_type, task.params)
        priority = task.priority.value
        await self.limiter.acquire_job(task.id, priority)
        job_id = task.provider_task_id
        job: VendorJob | None = None
        try:
            if job_id is None:
                if self._prepare is not None:  # e.g. asset ids in image params -> URLs the vendor can fetch
                    params = await self._prepare(params)
                job = await self._submit(task, params, priority)
                job_id = job.job_id
                await ctx.checkpoint(job_id)
            job = await self._poll_until_done(task, job_id, job, ctx, priority)
            if job.state != JobState.succeeded:
                await ctx.checkpoint(None)  # the vendor job is over: a retry must submit a new one
                raise job.error or ProviderError(
                    f"{self.provider.name} job {job_id} ended {job.state.value}", provider_code=job.raw_status
                )
            if not job.outputs:
                raise ProviderError(f"{self.provider.name} job {job_id} succeeded without outputs")
            await ctx.progress(95)
            assets = []
            for output in job.outputs:
                async with self._slots:
                    assets.append(await self.rehost(output))
            return {"assets": [a.model_dump(mode="json") for a in assets], "provider_task_id": job_id}
        except asyncio.CancelledError:
            if job_id is not None and (job is None or not job.state.is_terminal):
                with contextlib.suppress(Exception):
                    await asyncio.shield(self._cancel(task, job_id))
            raise
        finally:
            await asyncio.shield(self.limiter.release_job(task.id))

    async def _call(self, call: Callable[[], Awaitable[VendorJob]], op: str) -> VendorJob:
        try:
            async with self._slots:
                with metrics.timed(metrics.VENDOR_SECONDS, provider=self.provider.name, op=op):
                    return await call()
        except ProviderRateLimited as exc:
            metrics.VENDOR_ERRORS.record(1, provider=self.provider.name, op=op, error=exc.type)
            await self.limiter.report_429(exc.retry_after)
            raise
        except Exception as exc:
            metrics.VENDOR_ERRORS.record(1, provider=self.provider.name, op=op, error=metrics.error_class(exc))
            raise

    async def _submit(self, task: Task, params: Any, priority: str) -> VendorJob:
        await self.limiter.acquire_request(priority)
        try:
            return await self._call(lambda: self.provider.submit(self.client, task.task_type, params), "submit")
        except GenPulseError as exc:
            if exc.retryable and isinstance(exc.details, dict) and exc.details.get("request_sent"):
                exc.retryable = False
                exc.message += " (the vendor may have accepted the job; not resubmitted, to avoid paying twice)"
            raise

    async def _poll_until_done(
        self, task: Task, job_id: str, job: VendorJob | None, ctx: RunContext, priority: str
    ) -> VendorJob:
        started, polls, errors = self._clock(), 0, 0
        while job is None or not job.state.is_terminal:
            if job is not None:
                if job.progress is not None:
                    await ctx.progress(min(90.0, job.progress))
                await self._sleep(self.provider.poll_delay(task.task_type, self._clock() - started, polls))
            await self.limiter.acquire_request(priority)
            try:
                job = await self._call(lambda: self.provider.poll(self.client, task.task_type, job_id), "poll")
                errors = 0
            except GenPulseError as exc:
                errors += 1
                if not exc.retryable or errors >= MAX_POLL_ERRORS:
                    raise
                log.info("%s: poll of %s failed (%s), retrying", self.provider.name, job_id, exc.type)
                await self._sleep(max(exc.retry_after or 0.0, min(30.0, 0.5 * 2**errors)))
            polls += 1
        return job

    async def _cancel(self, task: Task, job_id: str) -> None:
        await self.limiter.acquire_request("high")
        async with self._slots:
            await self.provider.cancel(self.client, task.task_type, job_id)
