"""MemoryAccounts: tenants, API keys, the ledger and key limits for ``MemoryTaskStore`` (its base class).

Everything runs on the store's one event loop, so ``check_create`` + ``apply`` inside a task write are one atomic
step with it. The ledger is append-only; accounts keep the running totals the ledger derives.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable

from genpulse.core.errors import Conflict, InsufficientCredits, NotFound, TooManyRequests
from genpulse.core.schemas import Task
from genpulse.tenants.ledger import Movement
from genpulse.tenants.models import DEFAULT_TENANT, Account, ApiKey, LedgerEntry, Tenant, UsageRow

_ZERO = {"succeeded": 0, "refunded": 0, "spend": 0}


def default_tenant() -> Tenant:
    return Tenant(id=DEFAULT_TENANT, name="default", created_at=0.0)


def insufficient(account: Account, price: int) -> InsufficientCredits:
    return InsufficientCredits(
        f"this task holds {price} credits and the balance has {account.available} available",
        details={"balance": account.balance, "held": account.held, "available": account.available, "price": price},
    )


def too_many_open(limit: int) -> TooManyRequests:
    return TooManyRequests(
        f"this API key already has {limit} tasks queued or running (its max_concurrent_tasks)",
        details={"limit": "max_concurrent_tasks", "value": limit},
        retry_after=1,
    )


class MemoryAccounts:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._tenants: dict[str, Tenant] = {DEFAULT_TENANT: default_tenant()}
        self._tenant_ids: list[str] = []  # created tenants, sorted (time-ordered ids)
        self._keys: dict[str, ApiKey] = {}
        self._key_by_hash: dict[str, str] = {}
        self._accounts: dict[str, Account] = {}
        self._ledger: dict[str, list[LedgerEntry]] = {}
        self._usage: dict[str, dict[tuple[str, str, str], UsageRow]] = {}
        self._open: dict[str, int] = {}
        self._buckets: dict[str, tuple[float, float]] = {}  # key id -> (tokens, at)

    # --- inside task writes -------------------------------------------------------------------------------
    def check_create(self, task: Task, max_open: int | None) -> None:
        if task.is_terminal:
            return
        if max_open is not None and task.key_id and self._open.get(task.key_id, 0) >= max_open:
            raise too_many_open(max_open)
        held = task.billing.held if task.billing else 0
        account = self._accounts.get(task.tenant_id, Account())
        if held > 0 and account.available < held:
            raise insufficient(account, held)

    def apply(self, move: Movement) -> None:
        if move.entries:
            account = self._accounts.setdefault(move.tenant_id, Account())
            account.balance += move.balance_delta
            account.held += move.held_delta
            self._ledger.setdefault(move.tenant_id, []).extend(move.entries)
        if move.usage is not None:
            u = move.usage
            rows = self._usage.setdefault(move.tenant_id, {})
            row = rows.setdefault((u.day, u.provider, u.task_type), u.model_copy(update=_ZERO))
            row.succeeded += u.succeeded
            row.refunded += u.refunded
            row.spend += u.spend
        if move.open_delta and move.key_id:
            self._open[move.key_id] = max(0, self._open.get(move.key_id, 0) + move.open_delta)

    # --- tenants ------------------------------------------------------------------------------------------
    async def tenant_create(self, tenant: Tenant) -> Tenant:
        if tenant.id in self._tenants:
            raise Conflict(f"tenant {tenant.id} already exists")
        self._tenants[tenant.id] = tenant
        bisect.insort(self._tenant_ids, tenant.id)
        return tenant.model_copy()

    async def tenant_get(self, tenant_id: str) -> Tenant:
        try:
            return self._tenants[tenant_id].model_copy()
        except KeyError:
            raise NotFound(f"tenant {tenant_id} not found") from None

    async def tenant_put(self, tenant: Tenant) -> Tenant:
        await self.tenant_get(tenant.id)
        self._tenants[tenant.id] = tenant.model_copy()
        return tenant

    async def tenant_list(self, limit: int = 50, cursor: str | None = None) -> tuple[list[Tenant], str | None]:
        end = bisect.bisect_left(self._tenant_ids, cursor) if cursor else len(self._tenant_ids)
        page = self._tenant_ids[max(0, end - limit) : end][::-1]
        more = end > len(page)
        return [self._tenants[i].model_copy() for i in page], (page[-1] if more and page else None)

    async def account(self, tenant_id: str) -> Account:
        await self.tenant_get(tenant_id)
        return self._accounts.get(tenant_id, Account()).model_copy()

    async def credit(self, entry: LedgerEntry) -> Account:
        """A top-up or an adjustment; an adjustment may not take the balance below what is held."""
        await self.tenant_get(entry.tenant_id)
        account = self._accounts.get(entry.tenant_id, Account())
        if account.available + entry.amount < 0:
            raise Conflict(
                f"an adjustment of {entry.amount} would leave {account.available + entry.amount} available",
                details={"balance": account.balance, "held": account.held},
            )
        self.apply(Movement(entry.tenant_id, entries=[entry]))
        return self._accounts[entry.tenant_id].model_copy()

    async def ledger(
        self, tenant_id: str, limit: int = 50, cursor: str | None = None
    ) -> tuple[list[LedgerEntry], str | None]:
        """Newest first; ``cursor`` is the position of the last entry seen (an opaque string to callers)."""
        entries = self._ledger.get(tenant_id, [])
        end = int(cursor) if cursor else len(entries)
        start = max(0, end - limit)
        page = entries[start:end][::-1]
        return [e.model_copy() for e in page], (str(start) if start > 0 else None)

    async def usage(self, tenant_id: str) -> list[UsageRow]:
        rows = self._usage.get(tenant_id, {})
        return [rows[k].model_copy() for k in sorted(rows, reverse=True)]

    # --- keys ---------------------------------------------------------------------------------------------
    async def key_create(self, key: ApiKey) -> ApiKey:
        await self.tenant_get(key.tenant_id)
        self._keys[key.id] = key
        self._key_by_hash[key.hash] = key.id
        return key.model_copy()

    async def key_by_hash(self, digest: str) -> ApiKey:
        key_id = self._key_by_hash.get(digest)
        if key_id is None:
            raise NotFound("unknown API key")
        return self._keys[key_id].model_copy()

    async def key_get(self, key_id: str) -> ApiKey:
        try:
            return self._keys[key_id].model_copy()
        except KeyError:
            raise NotFound(f"API key {key_id} not found") from None

    async def key_list(self, tenant_id: str) -> list[ApiKey]:
        return sorted((k.model_copy() for k in self._keys.values() if k.tenant_id == tenant_id), key=lambda k: k.id)

    async def key_revoke(self, key_id: str) -> ApiKey:
        key = self._keys.get(key_id)
        if key is None:
            raise NotFound(f"API key {key_id} not found")
        if key.revoked_at is None:
            key.revoked_at = self._clock()
        return key.model_copy()

    async def key_hit(self, key_id: str, per_s: float) -> float | None:
        """Take one request from the key's bucket (``per_s`` a second, bursts of ``max(1, per_s)``); the seconds
        to wait when it is empty, else None."""
        now, burst = self._clock(), max(1.0, per_s)
        tokens, at = self._buckets.get(key_id, (burst, now))
        tokens = min(burst, tokens + (now - at) * per_s)
        if tokens < 1:
            self._buckets[key_id] = (tokens, now)
            return (1 - tokens) / per_s
        self._buckets[key_id] = (tokens - 1, now)
        return None

    async def key_open(self, key_id: str) -> int:
        return self._open.get(key_id, 0)
