"""What one task write does to money and limits: the ``Movement`` both stores apply in that same atomic write.

- A create that holds credits (``task.billing``) appends a ``hold`` entry; a create under a key opens one of the
  key's concurrent-task slots.
- The write that makes a task terminal closes its billing (``billing.close``: settle at the delivered units, or
  refund) on the record itself, appends the ``settle`` or ``refund`` entry, adds the usage row and frees the slot.
  A terminal state never changes, so this happens once per task whatever crashes or retries happen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from genpulse.core.schemas import Task, TaskStatus
from genpulse.tenants.billing import BillingState, close
from genpulse.tenants.models import EntryKind, LedgerEntry, UsageRow


@dataclass
class Movement:
    tenant_id: str
    key_id: str | None = None
    entries: list[LedgerEntry] = field(default_factory=list)
    usage: UsageRow | None = None
    open_delta: int = 0

    @property
    def balance_delta(self) -> int:
        return sum(e.balance_delta() for e in self.entries)

    @property
    def held_delta(self) -> int:
        return sum(e.held_delta() for e in self.entries)

    @property
    def empty(self) -> bool:
        return not self.entries and self.usage is None and self.open_delta == 0


def _entry(task: Task, kind: EntryKind, amount: int, released: int = 0) -> LedgerEntry:
    return LedgerEntry.make(
        task.tenant_id, kind, amount, released=released, task_id=task.id, provider=task.provider,
        task_type=task.task_type,
    )  # fmt: skip


def on_create(task: Task) -> Movement:
    move = Movement(task.tenant_id, task.key_id)
    if task.is_terminal:
        return move
    if task.billing is not None and task.billing.held > 0:
        move.entries.append(_entry(task, EntryKind.hold, task.billing.held))
    move.open_delta = 1 if task.key_id else 0
    return move


def closing(before: Task, after: Task) -> Task:
    """``after`` with its billing closed when this write ends the task (else unchanged)."""
    if after.billing is None or not after.is_terminal or before.is_terminal:
        return after
    succeeded = after.status == TaskStatus.succeeded
    return after.model_copy(update={"billing": close(after.billing, succeeded, after.task_type, after.result)})


def on_write(before: Task, after: Task) -> Movement:
    """The movement of the write ``before -> after`` (``after`` already passed through ``closing``)."""
    move = Movement(after.tenant_id, after.key_id)
    if not after.is_terminal or before.is_terminal:
        return move
    move.open_delta = -1 if after.key_id else 0
    day = datetime.fromtimestamp(after.finished_at or 0, UTC).strftime("%Y-%m-%d")
    usage = UsageRow(day=day, provider=after.provider, task_type=after.task_type)
    billing = after.billing
    if after.status == TaskStatus.succeeded:
        usage.succeeded = 1
    else:
        usage.refunded = 1
    if billing is not None and billing.held > 0:
        if billing.state == BillingState.settled:
            charged = billing.charged or 0
            move.entries.append(_entry(after, EntryKind.settle, charged, released=billing.held))
            usage.spend = charged
        else:
            move.entries.append(_entry(after, EntryKind.refund, billing.held))
    move.usage = usage
    return move
