"""The cloud-vendor contract: what a vendor module implements so a worker can run its jobs.

A vendor module subclasses ``CloudProvider`` (which is a ``Provider``: names, task types, param models) and
implements ``submit`` and ``poll`` (and ``cancel`` where the vendor allows it). Rules:

- They are the vendor boundary: they build and sign the request, send it with the given ``httpx.AsyncClient``
  (``genpulse.providers.http`` translates transport errors and HTTP statuses), and translate the reply.
  Every vendor error is raised as a ``ProviderError`` subclass, marked retryable or not.
- ``submit`` returns a ``VendorJob`` carrying the vendor's job id. Synchronous vendors (OpenAI images) return
  a finished job with its outputs and a synthetic id; a worker never polls a terminal job. ``ref`` is our id
  for the job (the task id): a vendor that lets the client choose an id (Kling ``external_task_id``,
  ComfyUI ``prompt_id``) takes it as a keyword argument, sends it and sets ``finds_by_ref``; ``find(ref)``
  then returns the job the vendor holds under it, or None when it surely holds none. That is how a submit
  whose outcome we did not see (the worker died, the reply was a bare 504, the store could not record the
  job id) is reconciled instead of being sent again.
- ``poll`` maps every documented vendor status explicitly; an unknown status raises ``MalformedReply``.
  A vendor-side failure returns ``state=failed`` with ``error`` set (the job ended; whether the task retries
  with a new submission is ``error.retryable``).
- Outputs are ``VendorOutput``s (a URL to download, or inline bytes); the worker re-hosts them as Assets.
- No vendor SDKs; no global state; credentials come from ``ProviderConfig`` (``GENPULSE_PROVIDERS__<NAME>__*``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

import httpx
from pydantic import BaseModel

from genpulse.core.config import AppArgs
from genpulse.core.errors import GenPulseError
from genpulse.providers.callbacks import VendorCallbacks
from genpulse.providers.provider import Provider


class JobState(StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    canceled = "canceled"

    @property
    def is_terminal(self) -> bool:
        return self in (JobState.succeeded, JobState.failed, JobState.canceled)


@dataclass
class VendorOutput:
    kind: str  # "image" | "video" | "audio" | "file"
    url: str | None = None
    data: bytes | None = None
    content_type: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class VendorJob:
    job_id: str
    state: JobState
    progress: float | None = None
    outputs: list[VendorOutput] = field(default_factory=list)
    error: GenPulseError | None = None
    raw_status: str | None = None


class CloudProvider(Provider):
    kind = "cloud"
    default_base_url: ClassVar[str] = ""
    #: credentials that must be present for ``is_configured``
    required_credentials: ClassVar[tuple[str, ...]] = ("api_key",)
    #: whether ``submit`` sends ``ref`` as the vendor's client-chosen job id and ``find`` looks jobs up by it
    finds_by_ref: ClassVar[bool] = False
    #: whether ``submit`` sends the task's callback URL (``self.callbacks.url(name, ref)``) when callbacks are on
    accepts_callback: ClassVar[bool] = False

    def __init__(self, args: AppArgs) -> None:
        super().__init__(args)
        self.config = args.provider(self.name)
        # vendor callbacks for this provider's jobs (``genpulse.providers.callbacks``); None: off, poll only
        self.callbacks = VendorCallbacks.from_args(args) if self.accepts_callback else None

    @property
    def base_url(self) -> str:
        return (self.config.base_url or self.default_base_url).rstrip("/")

    def is_configured(self) -> bool:
        return all(getattr(self.config, c, None) is not None for c in self.required_credentials)

    def secret(self, name: str) -> str:
        value = getattr(self.config, name, None)
        if value is None:
            from genpulse.core.errors import ProviderAuthError

            raise ProviderAuthError(  # raised before any request: the vendor surely has no job
                f"{self.name}: {name} is not configured (GENPULSE_PROVIDERS__{self.name.upper()}__{name.upper()})",
                details={"refused": True},
            )
        return value.get_secret_value()

    def limits(self) -> dict[str, Any]:
        return {"timeout_s": self.config.timeout_s}

    async def submit(
        self, client: httpx.AsyncClient, task_type: str, params: BaseModel, *, ref: str | None = None
    ) -> VendorJob:
        raise NotImplementedError

    async def find(self, client: httpx.AsyncClient, task_type: str, ref: str) -> VendorJob | None:
        """The job the vendor holds under our ``ref``, or None if it holds none (only where ``finds_by_ref``)."""
        raise NotImplementedError(f"{self.name} cannot look jobs up by a client-chosen id")

    async def poll(self, client: httpx.AsyncClient, task_type: str, job_id: str) -> VendorJob:
        raise NotImplementedError

    async def cancel(self, client: httpx.AsyncClient, task_type: str, job_id: str) -> bool:
        """Cancel at the vendor; False where the vendor has no cancel API."""
        return False

    def poll_delay(self, task_type: str, elapsed_s: float, polls: int) -> float:
        """Seconds until the next poll: quick at first, then backing off (video jobs take minutes)."""
        if self.config.poll_interval_s is not None:
            return self.config.poll_interval_s
        if elapsed_s < 10:
            return 1.0
        if elapsed_s < 60:
            return 3.0
        return min(15.0, 5.0 + polls * 0.5)
