"""What the API does with webhooks: refuse unusable targets at submit, show a task's log, redeliver.

``check_target`` is called by ``TaskService.submit`` for a task with a ``webhook_url``: the URL must pass the
SSRF guard's static checks (``genpulse.core.url_guard``; addresses are checked again at each delivery) and a signing
secret must be configured, the server's or the tenant's own (``InvalidRequest`` otherwise, a 422). ``redeliver`` puts a
finished task's webhook back in the outbox, due now, with a fresh retry window and the same ``webhook-id``; a
task that never had its delivery recorded gets one.
"""

from __future__ import annotations

from genpulse.core.config import AppArgs
from genpulse.core.errors import Conflict, InvalidRequest
from genpulse.core.schemas import now
from genpulse.core.url_guard import UrlGuard
from genpulse.tasks import TaskStore
from genpulse.tasks.outbox import Delivery, DeliveryPublic, DeliveryStatus


def check_target(args: AppArgs, url: str, tenant_secret: str | None = None) -> None:
    """``tenant_secret``: the caller's own signing secret, which signs its webhooks instead of the server's."""
    UrlGuard(args.security).check_static(url, "webhook_url")
    if args.webhooks.secret is None and not tenant_secret:
        raise InvalidRequest(
            "webhooks are not configured on this server (GENPULSE_WEBHOOKS__SECRET)",
            details={"field": "webhook_url"},
        )


async def deliveries(store: TaskStore, task_id: str) -> list[DeliveryPublic]:
    await store.get(task_id)  # NotFound for an unknown task
    return [d.public() for d in await store.outbox_list(task_id)]


async def redeliver(store: TaskStore, task_id: str, tries: int = 10) -> DeliveryPublic:
    for _ in range(tries):
        task = await store.get(task_id)
        if not task.webhook_url:
            raise Conflict(f"task {task_id} has no webhook_url", details={"field": "webhook_url"})
        if not task.is_terminal:
            raise Conflict(f"task {task_id} is still {task.status.value}", details={"status": task.status.value})
        at = now()
        existing = await store.outbox_list(task_id)
        if existing:
            d = existing[-1]
            d.status, d.due_at, d.window_start = DeliveryStatus.pending, at, at
        else:
            d = Delivery.for_task(task, at)
        try:
            return (await store.outbox_put(d)).public()
        except Conflict:
            continue
    raise Conflict(f"task {task_id}: too many concurrent webhook updates")
