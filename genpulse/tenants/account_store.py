"""The AccountStore contract: tenants, API keys and the credit ledger, kept by the TaskStore itself.

Money moves only with tasks or by an operator: a task's create holds its price and its terminal write settles or
refunds it (``genpulse.tenants.ledger``), in the store's one atomic write, so both stores (memory/actor and Redis)
implement this next to the task methods. Rules:

- ``create(task, max_open=N)`` (TaskStore) refuses with ``TooManyRequests`` when the task's key already has ``N``
  tasks open, and with ``InsufficientCredits`` when the tenant's available credits (balance - held) cannot
  cover ``task.billing.held``; a refused create writes nothing. An idempotent repeat holds nothing again.
- ``credit`` appends a top-up or adjustment (``Conflict`` when an adjustment would leave less than nothing
  available) and returns the account.
- ``ledger`` is newest first, paginated by an opaque cursor; ``usage`` is one row per day, provider and task type.
- The built-in tenant ``DEFAULT_TENANT`` always exists; ``tenant_get`` of another unknown id is ``NotFound``.
- ``key_by_hash`` finds a key by the SHA-256 of its secret (``NotFound`` otherwise, revoked keys included: the
  caller checks ``usable``); ``key_revoke`` is idempotent and takes effect for every reader at once.
- ``key_hit`` is the key's cluster-wide request bucket: None, or the seconds until a request is allowed.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from genpulse.tenants.models import Account, ApiKey, LedgerEntry, Tenant, UsageRow


@runtime_checkable
class AccountStore(Protocol):
    async def tenant_create(self, tenant: Tenant) -> Tenant: ...

    async def tenant_get(self, tenant_id: str) -> Tenant: ...

    async def tenant_put(self, tenant: Tenant) -> Tenant: ...

    async def tenant_list(self, limit: int = 50, cursor: str | None = None) -> tuple[list[Tenant], str | None]: ...

    async def account(self, tenant_id: str) -> Account: ...

    async def credit(self, entry: LedgerEntry) -> Account: ...

    async def ledger(
        self, tenant_id: str, limit: int = 50, cursor: str | None = None
    ) -> tuple[list[LedgerEntry], str | None]: ...

    async def usage(self, tenant_id: str) -> list[UsageRow]: ...

    async def key_create(self, key: ApiKey) -> ApiKey: ...

    async def key_by_hash(self, digest: str) -> ApiKey: ...

    async def key_get(self, key_id: str) -> ApiKey: ...

    async def key_list(self, tenant_id: str) -> list[ApiKey]: ...

    async def key_revoke(self, key_id: str) -> ApiKey: ...

    async def key_hit(self, key_id: str, per_s: float) -> float | None: ...

    async def key_open(self, key_id: str) -> int: ...
