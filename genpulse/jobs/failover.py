"""Failover: a task made by a model alias with several routes moves to the next route's provider instance when
its own surely refused it (``genpulse.providers.http.fails_over``: unreachable, rate limited, a server error in the
vendor's envelope, out of credit, credentials refused). Never after an ambiguous outcome (a bare 504, a timeout,
a reset after sending): at most one vendor job per task, unless the vendor surely made none.

The route list is fixed when the task is made (``Task.fallbacks``, the alias's other usable routes in order;
``TaskService.submit``); the worker whose run was refused moves the task in one store write (``fail_over``:
``queued`` at the next provider, the refusal recorded in ``route_attempts``) and hands it to that provider's
pool (``Handoff``). Billing is untouched: the hold and price stay those of the route picked first, and only
routes of the same price are fallbacks, so no credit moves at a failover.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from genpulse.core.errors import GenPulseError
from genpulse.core.schemas import RouteAttempt, Task, TaskError, TaskStatus
from genpulse.providers.http import fails_over

__all__ = ["Handoff", "fail_over", "fails_over"]


@dataclass(frozen=True)
class Handoff:
    """Where a failed-over task goes: ``providers``, those this host has workers for, and ``dispatch``, which
    hands a task to its provider's pool (the host's ``Dispatcher.dispatch``)."""

    providers: frozenset[str]
    dispatch: Callable[[Task], Awaitable[None]]

    def next_route(self, t: Task) -> str | None:
        """The first of ``t``'s fallbacks served here (None: no failover)."""
        return next((p for p in t.fallbacks if p in self.providers and p != t.provider), None)


def fail_over(t: Task, route: str, error: GenPulseError, now: float) -> Task:
    """``t`` moved to the provider ``route`` (one of its fallbacks): its own surely refused it (``error``), so no
    vendor job exists to poll or pay for. The refusal is kept in ``route_attempts``; billing is untouched."""
    refusal = TaskError.model_validate(error.to_dict())
    t.route_attempts.append(RouteAttempt(provider=t.provider, error=refusal, attempts=t.attempts, at=now))
    t.fallbacks = t.fallbacks[t.fallbacks.index(route) + 1 :]
    t.provider, t.status, t.error, t.progress, t.not_before = route, TaskStatus.queued, None, None, None
    t.submit_pending, t.submit_pending_at = False, None
    t.owner = t.lease_expires_at = None
    return t
