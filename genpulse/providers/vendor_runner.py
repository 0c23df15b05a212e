"""VendorRunner: runs one cloud-vendor task through its provider client, its rate limiter and re-hosting.

Per task: take a job slot (held until the vendor job ends) → mark the task "submit in flight" in the store →
submit (one request token) → checkpoint the vendor job id (clearing the mark) → poll on the provider's adaptive
schedule (one token per poll) → free the job slot → re-host every output as our Asset → return the result. A task
that already has a ``provider_task_id`` resumes polling. Rules that keep us from paying twice:

- a submit is sent again only when the vendor surely refused it (its own error envelope, or a request that
  never left: ``genpulse.providers.http.refused``); refusals are retried in place (rate limits until the
  deadline, server errors for the provider's ``submit_retry_budget_s``) and do not use up the task's attempts;
  but a task with ``fallbacks`` (a model alias's further routes) raises a refusal of the vendor or of this
  account (``http.fails_over``) at once, and its worker moves it to the next route;
- anything else (a bare 502/504, a read timeout, a lost worker, a store that could not record the job id)
  leaves the mark, and the submit is reconciled, never blindly repeated: a vendor that looks jobs up by our id
  (``finds_by_ref``) is asked (for an earlier run's submit, "no job" counts only once that submit must have
  landed: ``IN_FLIGHT_TIMEOUTS`` x ``timeout_s`` after its mark); otherwise the task fails with
  ``submit_outcome_unknown`` unless the provider's ``resubmit_when_unsure`` allows a second submit;
- a checkpoint the store refuses is retried, and offered again on every poll, while the job is polled;
- transient and garbled poll replies are retried here, with backoff, without losing the job;
- a job the vendor ran and reported failed is final (it may have been billed): a retry is the user's call;
- a canceled task cancels its vendor job (also one whose submit was in flight); a task taken over by another
  worker (lease lost) leaves its job alone: the new owner polls it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import httpx
from pydantic import BaseModel

from genpulse.core import metrics
from genpulse.core.aiohttp_transport import AiohttpTransport
from genpulse.core.errors import (
    ExecutionError,
    GenPulseError,
    MalformedReply,
    ProviderError,
    ProviderRateLimited,
    ServiceUnavailable,
    SubmitOutcomeUnknown,
)
from genpulse.core.schemas import Asset, Task, now
from genpulse.jobs.runners import LeaseLost, RunContext
from genpulse.media.storage import Storage
from genpulse.providers.callbacks import VendorCallbacks
from genpulse.providers.cloud import CloudProvider, JobState, VendorJob, VendorOutput
from genpulse.providers.http import fails_over, out_reason, public_message, refused
from genpulse.providers.job_slots import JobSlot
from genpulse.providers.poll_schedule import PollPlanner

log = logging.getLogger("genpulse.vendor")

Rehost = Callable[[Storage, VendorOutput], Awaitable[Asset]]  # into the task's storage (its tenant's)
Prepare = Callable[[BaseModel], Awaitable[BaseModel]]
MAX_POLL_ERRORS = 5
CHECKPOINT_TRIES = 4
IN_FLIGHT_TIMEOUTS = 3  # pool wait + connect + write: by then a submit has reached the vendor, or never will
EARLY_WAKES = 1024  # wakes (vendor callbacks) that came before their task's poll loop started, kept for it


class Limiter(Protocol):
    async def acquire_request(self, priority: str = "normal") -> float: ...

    async def acquire_job(self, task_id: str, priority: str = "normal", owner: str = "") -> float: ...

    async def renew_job(self, task_id: str, owner: str = "") -> bool: ...

    async def release_job(self, task_id: str, owner: str = "") -> None: ...

    async def report_429(self, retry_after: float | None = None) -> None: ...

    async def report_out(self, reason: str, cooldown_s: float) -> None: ...


def vendor_http_client(provider: CloudProvider) -> httpx.AsyncClient:
    timeout = provider.config.timeout_s
    return httpx.AsyncClient(
        # no pool timeout: waiting for a free connection is queueing (the limiter bounds it), not a vendor failure
        timeout=httpx.Timeout(timeout, connect=min(10.0, timeout), pool=None),
        transport=AiohttpTransport(provider.config.max_connections),  # httpx's API, aiohttp's cheaper pool
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
        self.planner = PollPlanner(provider.poll_delay)  # learns this provider's job durations per task type
        self._wakeups: dict[str, asyncio.Event] = {}  # task id -> its poll loop's wake-up (vendor callbacks)
        self._early: OrderedDict[str, None] = OrderedDict()

    def wake(self, task_id: str) -> bool:
        """Poll ``task_id``'s vendor job now (a vendor callback said it changed). False when its poll loop is not
        running here; the wake is then kept for a loop that starts soon (a callback may beat the submit's reply)."""
        event = self._wakeups.get(task_id)
        if event is not None:
            event.set()
            return True
        self._early[task_id] = None
        self._early.move_to_end(task_id)
        while len(self._early) > EARLY_WAKES:
            self._early.popitem(last=False)
        return False

    async def run(self, task: Task, ctx: RunContext) -> dict[str, Any]:
        params = self.provider.validate(task.task_type, task.params)
        priority = task.priority.value
        slot = JobSlot(self.limiter, task.id, ctx.slot_owner, priority)  # a lease, renewed until released
        await slot.acquire()
        job_id = task.provider_task_id
        job: VendorJob | None = None
        submitting: asyncio.Future[VendorJob] | None = None
        recorded = True
        try:
            if job_id is None and task.submit_pending:  # an earlier attempt's submit may have reached the vendor
                job = await self._recover_submit(task, None)
                if job is not None:
                    job_id = job.job_id
                    recorded = await self._record(ctx, job_id)
            if job_id is None:
                if self._prepare is not None:  # e.g. asset ids in image params -> URLs the vendor can fetch
                    params = await self._prepare(params)
                submitting = asyncio.ensure_future(self._submit(task, params, priority, ctx))
                job = await asyncio.shield(submitting)  # cancelled meanwhile: we still learn what the vendor made
                job_id = job.job_id
                recorded = await self._record(ctx, job_id)
            job = await self._poll_until_done(task, job_id, job, ctx, priority, recorded, fresh=submitting is not None)
            await asyncio.shield(slot.release())  # the vendor's job is over (and its slot there): free ours before
            # the downloads, so a concurrency-limited vendor's next job starts now (the ``finally`` does nothing more)
            if job.state != JobState.succeeded:
                # final, and the job id stays on the task: a crash before the failed state is written resumes
                # by polling this job (clearing the id first made a restarted worker submit a second job)
                error = job.error or ProviderError(
                    f"{self.provider.name} job {job_id} ended {job.state.value}", provider_code=job.raw_status
                )
                error.retryable = False  # the vendor ran it (and may have billed it): the user decides on /retry
                raise error
            if not job.outputs:
                raise ProviderError(f"{self.provider.name} job {job_id} succeeded without outputs")
            await ctx.progress(95)
            assets = []
            for output in job.outputs:
                async with self._slots:
                    assets.append(await self.rehost(ctx.storage, output))
            return {"assets": [a.model_dump(mode="json") for a in assets], "provider_task_id": job_id}
        except asyncio.CancelledError:
            if ctx.abandoned:  # another worker owns the task now and polls its job: leave the job alone
                raise
            if job_id is None and submitting is not None:  # cancelled mid-submit: see what the vendor made
                with contextlib.suppress(Exception):
                    job = await asyncio.wait_for(submitting, timeout=self.provider.config.timeout_s + 5)
                    job_id = job.job_id
            if job_id is not None and (job is None or not job.state.is_terminal):
                ctx.cancel_owed = True
                try:
                    await asyncio.shield(self._cancel(task, job_id))
                    ctx.cancel_owed = False
                except Exception as exc:  # no sure answer: the cancel stays owed (jobs/cancel_sweep.py)
                    ctx.cancel_owed = not isinstance(exc, GenPulseError) or exc.retryable
            raise
        finally:
            await asyncio.shield(slot.release())

    async def cancel_job(self, task: Task) -> bool:
        """Cancel the vendor job of a task canceled while its worker was down (found by our id if its submit's
        outcome was never recorded)."""
        job_id = task.provider_task_id
        if job_id is None and task.submit_pending and self.provider.finds_by_ref:
            found = await self._find(task)
            job_id = found.job_id if found is not None and not found.state.is_terminal else None
        if job_id is None:
            return False
        await self._cancel(task, job_id)
        return True

    async def _call(self, call: Callable[[], Awaitable[VendorJob | None]], op: str) -> Any:
        try:
            async with self._slots:
                with metrics.timed(metrics.VENDOR_SECONDS, provider=self.provider.name, op=op):
                    return await call()
        except ProviderRateLimited as exc:
            metrics.VENDOR_ERRORS.record(1, provider=self.provider.name, op=op, error=exc.type)
            exc.message = public_message(exc.message)
            await self.limiter.report_429(exc.retry_after)
            raise
        except Exception as exc:
            metrics.VENDOR_ERRORS.record(1, provider=self.provider.name, op=op, error=metrics.error_class(exc))
            if isinstance(exc, GenPulseError):  # users see the vendor's code and message; the rest goes to logs
                log.info("%s %s failed: %s: %s", self.provider.name, op, exc.type, exc.message)
                exc.message = public_message(exc.message)
            await self._report_out(exc)
            raise

    async def _report_out(self, exc: Exception) -> None:
        """An account out of credit, refused credentials or an unreachable vendor: mark the instance out on its
        limiter, so model aliases route around it for the configured cooldown (``genpulse.providers.health``)."""
        reason = out_reason(exc)
        config = self.provider.config
        cooldown = config.arrears_cooldown_s if reason == "arrears" else config.out_cooldown_s
        if reason is None or cooldown <= 0:
            return
        log.warning("%s: out for %g s (%s)", self.provider.name, cooldown, reason)
        try:
            await self.limiter.report_out(reason, cooldown)
        except Exception:  # advisory: the task's own outcome stands
            log.warning("%s: could not mark the instance out", self.provider.name, exc_info=True)

    async def _submit(self, task: Task, params: Any, priority: str, ctx: RunContext) -> VendorJob:
        """Submit until the vendor takes the job. A refusal (the vendor surely made no job) is retried here:
        rate limits until the deadline, server errors for ``submit_retry_budget_s``. Any other failure may hide
        a job the vendor made: it is reconciled (``_recover_submit``), never blindly sent again."""
        ref = task.id if self.provider.finds_by_ref else None
        started, refusals = self._clock(), 0
        while True:
            await self.limiter.acquire_request(priority)
            await ctx.submitting()  # the store knows a submit may be in flight before the vendor does
            try:
                return await self._call(lambda: self._send_submit(task, params, ref), "submit")
            except Exception as exc:
                error = exc if isinstance(exc, GenPulseError) else ExecutionError(f"{type(exc).__name__}: {exc}")
                if not refused(error):
                    found = await self._recover_submit(task, error)
                    if found is not None:
                        return found
                await self._clear_mark(ctx)
                if not error.retryable or (task.fallbacks and fails_over(error)):  # the task worker fails over
                    raise error from None
                refusals += 1
                delay = max(error.retry_after or 0.0, min(30.0, 0.5 * 2**refusals))
                out_of_budget = self._clock() - started + delay > self.provider.config.submit_retry_budget_s
                if not isinstance(error, ProviderRateLimited) and out_of_budget:
                    raise error from None
                log.info("%s: submit of %s refused (%s), retrying", self.provider.name, task.id, error.type)
                await self._sleep(delay)

    async def _send_submit(self, task: Task, params: Any, ref: str | None) -> VendorJob:
        if ref is None:  # vendors without client-chosen ids take no ``ref``
            return await self.provider.submit(self.client, task.task_type, params)
        return await self.provider.submit(self.client, task.task_type, params, ref=ref)

    async def _recover_submit(self, task: Task, cause: GenPulseError | None) -> VendorJob | None:
        """A submit of ``task`` may have reached the vendor (``cause``: what we saw instead of its answer; None:
        an earlier attempt never recorded the outcome). Returns the vendor's job if it has one; None when it
        surely has none (a new submit is safe); raises otherwise, never leading to a second paid job."""
        if self.provider.finds_by_ref:
            job = await self._find(task)
            if job is None and cause is None:
                job = await self._find_once_landed(task)
            if job is not None:
                log.info("%s: task %s: found the job the vendor made (%s)", self.provider.name, task.id, job.job_id)
                return job
            if cause is not None:
                raise cause  # the vendor holds no job under our id: nothing was made (retryable or not, as it was)
            return None
        if self.provider.config.resubmit_when_unsure:  # the operator accepts paying twice over failing
            if cause is not None:
                raise cause
            return None
        seen = f"{cause.type}: {cause.message}" if cause is not None else "the worker stopped before the reply"
        raise SubmitOutcomeUnknown(
            f"{self.provider.name}: the submit of task {task.id} may have reached the vendor ({seen}); it was not "
            f"sent again, to avoid paying twice. POST /v1/tasks/{task.id}/retry submits it as a new task.",
            provider_code=cause.provider_code if cause is not None else None,
        )

    async def _find_once_landed(self, task: Task) -> VendorJob | None:
        """Ask again once a submit an earlier run may still have had in flight must have reached the vendor.

        "No job under our id" proves nothing while that submit may still be on its way: the earlier run may be a
        process that is still dying (a killed or replaced worker), its request queued or half-sent. A request
        reaches the vendor within its pool, connect and write timeouts (``IN_FLIGHT_TIMEOUTS`` x ``timeout_s``)
        of the mark, or never."""
        landed_by = (task.submit_pending_at or 0.0) + IN_FLIGHT_TIMEOUTS * self.provider.config.timeout_s
        wait = landed_by - now()  # the mark is a wall-clock time (any process may have set it)
        if wait <= 0:
            return None
        log.info("%s: task %s: no job yet; asking again in %.0f s, when an earlier submit must have landed",
                 self.provider.name, task.id, wait)  # fmt: skip
        await self._sleep(wait)
        return await self._find(task)

    async def _find(self, task: Task) -> VendorJob | None:
        for attempt in range(1, MAX_POLL_ERRORS + 1):
            await self.limiter.acquire_request("high")
            try:
                return await self._call(lambda: self.provider.find(self.client, task.task_type, task.id), "find")
            except GenPulseError as exc:
                if not exc.retryable or attempt == MAX_POLL_ERRORS:
                    raise ServiceUnavailable(
                        f"{self.provider.name}: could not ask the vendor whether task {task.id} was submitted "
                        f"({exc.type}); will ask again",
                    ) from None
                await self._sleep(max(exc.retry_after or 0.0, min(30.0, 0.5 * 2**attempt)))
        raise AssertionError("unreachable")

    async def _record(self, ctx: RunContext, job_id: str) -> bool:
        """Checkpoint the job id, retrying store errors a few times; False if the store still refuses (the
        poll loop keeps trying; the task stays marked "submit in flight", so nobody submits it again)."""
        for attempt in range(1, CHECKPOINT_TRIES + 1):
            try:
                await ctx.checkpoint(job_id)
                return True
            except LeaseLost:
                raise
            except Exception:
                log.warning("checkpoint of job %s failed (try %d)", job_id, attempt, exc_info=True)
                if attempt < CHECKPOINT_TRIES:
                    await self._sleep(0.2 * 2**attempt)
        return False

    async def _clear_mark(self, ctx: RunContext) -> None:
        try:
            await ctx.checkpoint(None)
        except LeaseLost:
            raise
        except Exception:  # the mark stays: the next attempt reconciles instead of submitting blindly
            log.warning("could not clear the submit mark", exc_info=True)

    async def _poll_until_done(
        self,
        task: Task,
        job_id: str,
        job: VendorJob | None,
        ctx: RunContext,
        priority: str,
        recorded: bool = True,
        *,
        fresh: bool = False,
    ) -> VendorJob:
        """Poll until the job ends: on the learned schedule (``PollPlanner``), or, with vendor callbacks on, when a
        callback wakes us (``wake``) and otherwise only every ``server.callback_safety_poll_s``. ``fresh``: this run
        submitted the job, so the time to its end is a sample of the provider's job duration."""
        started, polls, errors = self._clock(), 0, 0
        sent = started  # when the latest poll left (after its limiter wait): the job had ended by then, or not
        wakeup: asyncio.Event | None = None
        if self._callbacks() is not None:  # without callbacks nothing wakes a poll loop: plain sleeps
            wakeup = self._wakeups[task.id] = asyncio.Event()
            if self._early.pop(task.id, False) is None:  # its callback came before this loop started
                wakeup.set()
        try:
            while job is None or not job.state.is_terminal:
                if not recorded:  # the store refused the checkpoint so far: keep offering it
                    recorded = await self._record(ctx, job_id)
                if job is not None:
                    if job.progress is not None:
                        await ctx.progress(min(90.0, job.progress))
                    await self._wait(wakeup, self._poll_delay(task.task_type, self._clock() - started, polls))
                await self.limiter.acquire_request(priority)
                sent = self._clock()
                try:
                    job = await self._call(lambda: self.provider.poll(self.client, task.task_type, job_id), "poll")
                    errors = 0
                except GenPulseError as exc:
                    errors += 1  # a truncated or garbled reply is retried in place like a transient error
                    if not (exc.retryable or isinstance(exc, MalformedReply)) or errors >= MAX_POLL_ERRORS:
                        raise
                    log.info("%s: poll of %s failed (%s), retrying", self.provider.name, job_id, exc.type)
                    await self._sleep(max(exc.retry_after or 0.0, min(30.0, 0.5 * 2**errors)))
                polls += 1
        finally:
            if wakeup is not None and self._wakeups.get(task.id) is wakeup:
                del self._wakeups[task.id]
        if fresh and polls:  # only the poll's departure bounds the end; a first poll that found it over says "earlier"
            self.planner.record(task.task_type, sent - started, late=polls == 1 and wakeup is None)
        return job

    def _poll_delay(self, task_type: str, elapsed_s: float, polls: int) -> float:
        if self.provider.config.poll_interval_s is not None:  # the operator's fixed interval
            return self.provider.config.poll_interval_s
        delay = self.planner.delay(task_type, elapsed_s, polls)
        callbacks = self._callbacks()
        return delay if callbacks is None else max(delay, callbacks.safety_poll_s)

    def _callbacks(self) -> VendorCallbacks | None:
        return getattr(self.provider, "callbacks", None)  # a provider without the attribute has no callbacks

    async def _wait(self, wakeup: asyncio.Event | None, delay: float) -> None:
        """Sleep ``delay`` seconds, or less if woken (a vendor callback)."""
        if wakeup is None:
            await self._sleep(delay)
            return
        if not wakeup.is_set():
            sleeping = asyncio.ensure_future(self._sleep(delay))
            woken = asyncio.ensure_future(wakeup.wait())
            try:
                await asyncio.wait((sleeping, woken), return_when=asyncio.FIRST_COMPLETED)
            finally:
                sleeping.cancel()
                woken.cancel()
        wakeup.clear()

    async def _cancel(self, task: Task, job_id: str) -> None:
        await self.limiter.acquire_request("high")
        async with self._slots:
            await self.provider.cancel(self.client, task.task_type, job_id)
