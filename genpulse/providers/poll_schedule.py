"""When to poll a vendor job next: learned from how long this provider's recent jobs of the same type took.

``PollPlanner`` (one per runner, so per provider and worker process) keeps the last ``window`` durations per
task type (submit → the departure of the poll that saw the job end, only for jobs this run submitted itself; one
seen ended by its first poll counts as ``probe`` x that, so the first polls creep earlier until they land before
the end). Until ``min_samples``
are known it answers the provider's own schedule (``CloudProvider.poll_delay``). Then it waits, in one sleep,
until shortly before the earliest expected end (``lead`` x the 10th percentile), polls at short intervals
(``tail_share`` of the median, 0.5-10 s) until ``late_factor`` x the median, and falls back to the provider's
schedule beyond it (an unusually slow job). A 30 s job then costs 3-4 polls instead of 15 at a fixed 2 s. Job
types that typically take under ``min_typical_s`` (10 s) keep the provider's schedule: a second of polling
costs little there, while seeing the end late holds a concurrency-limited vendor's job slot longer (measured:
0.77 of the rate-limit bound with the learned schedule for 2 s jobs, 0.89 with 1 s polls).

With vendor callbacks on, a callback wakes the poll loop at once and the scheduled polls are only a safety net:
the runner waits at least ``server.callback_safety_poll_s`` between them.
"""

from __future__ import annotations

import statistics
from collections import deque
from collections.abc import Callable


class PollPlanner:
    def __init__(
        self,
        fallback: Callable[[str, float, int], float],
        *,
        window: int = 32,
        min_samples: int = 3,
        lead: float = 0.95,
        tail_share: float = 0.03,
        late_factor: float = 1.5,
        probe: float = 0.9,
        min_typical_s: float = 10.0,
    ) -> None:
        self._fallback, self._window, self._min = fallback, window, min_samples
        self._lead, self._tail_share, self._late, self._probe = lead, tail_share, late_factor, probe
        self._min_typical = min_typical_s
        self._samples: dict[str, deque[float]] = {}

    def record(self, task_type: str, duration_s: float, *, late: bool = False) -> None:
        """A job of ``task_type`` this worker submitted was seen ended by a poll sent ``duration_s`` after its submit.

        ``late``: the first poll already found it ended, so it ended some unknown time earlier; the sample is
        shortened (``probe``) so the next first polls come earlier. Without it, every sample would be the time of a
        first poll planned from earlier samples plus the poll's own delays, and the schedule would drift later and
        later (a concurrency-limited vendor then holds each job slot longer than needed)."""
        if duration_s >= 0:
            sample = duration_s * self._probe if late else duration_s
            self._samples.setdefault(task_type, deque(maxlen=self._window)).append(sample)

    def expected(self, task_type: str) -> tuple[float, float] | None:
        """(earliest, typical) duration of ``task_type``'s jobs: their 10th percentile and median, once known."""
        samples = self._samples.get(task_type)
        if samples is None or len(samples) < self._min:
            return None
        ordered = sorted(samples)
        return ordered[len(ordered) // 10], statistics.median(ordered)

    def delay(self, task_type: str, elapsed_s: float, polls: int) -> float:
        """Seconds from now until the next poll of a job submitted ``elapsed_s`` ago and polled ``polls`` times."""
        fallback = self._fallback(task_type, elapsed_s, polls)
        known = self.expected(task_type)
        if known is None:
            return fallback
        earliest, typical = known
        if typical < self._min_typical:  # short jobs: the provider's quick schedule is prompt and cheap enough
            return fallback
        first = self._lead * earliest
        if elapsed_s < first:
            return first - elapsed_s
        if elapsed_s < self._late * typical:
            return min(10.0, max(0.5, self._tail_share * typical))
        return fallback
