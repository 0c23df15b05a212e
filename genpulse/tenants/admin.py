"""TenantService: tenants, their keys and credits, and what a tenant sees of its own account.

The admin API (``genpulse.api.routes.admin``), the tenant routes (``/v1/me``, ``/v1/ledger``, ``/v1/usage``)
and the CLI all call it; it talks to the ``AccountStore`` only. A key's secret exists only in the answer to its
creation: the store keeps its SHA-256.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, Field

from genpulse.core.errors import InvalidRequest
from genpulse.core.schemas import new_id, now
from genpulse.tenants.account_store import AccountStore
from genpulse.tenants.auth import SHOWN_PREFIX_CHARS, key_hash, new_secret
from genpulse.tenants.models import (
    ApiKey,
    ApiKeyPublic,
    EntryKind,
    KeyLimits,
    KeyScopes,
    LedgerEntry,
    Tenant,
    TenantView,
    UsageRow,
)
from genpulse.webhooks import signatures


class CreatedKey(ApiKeyPublic):
    key: str = Field(description="The secret: shown in this answer only. Send it as `Authorization: Bearer <key>`.")


class LedgerPage(BaseModel):
    data: list[LedgerEntry]
    next_cursor: str | None = None


class UsageReport(BaseModel):
    data: list[UsageRow]


@dataclass
class TenantService:
    store: AccountStore

    async def view(self, tenant: Tenant) -> TenantView:
        account = await self.store.account(tenant.id)
        return TenantView(
            id=tenant.id, name=tenant.name, created_at=tenant.created_at, balance=account.balance,
            held=account.held, available=account.available,
        )  # fmt: skip

    async def create_tenant(self, name: str, credits: int = 0) -> TenantView:
        tenant = await self.store.tenant_create(
            Tenant(id=new_id("ten"), name=name, created_at=now(), webhook_secret=signatures.new_secret())
        )
        if credits:
            await self.credit(tenant.id, credits, "initial credits")
        return await self.view(tenant)

    async def tenant(self, tenant_id: str) -> TenantView:
        return await self.view(await self.store.tenant_get(tenant_id))

    async def tenants(self, limit: int, cursor: str | None) -> tuple[list[TenantView], str | None]:
        tenants, next_cursor = await self.store.tenant_list(limit, cursor)
        return [await self.view(t) for t in tenants], next_cursor

    async def credit(self, tenant_id: str, amount: int, note: str | None) -> TenantView:
        if amount == 0:
            raise InvalidRequest("amount must not be 0", details={"field": "amount"})
        kind = EntryKind.topup if amount > 0 else EntryKind.adjustment
        await self.store.credit(LedgerEntry.make(tenant_id, kind, amount, note=note))
        return await self.tenant(tenant_id)

    async def create_key(
        self,
        tenant_id: str,
        *,
        name: str | None = None,
        expires_at: float | None = None,
        scopes: KeyScopes | None = None,
        limits: KeyLimits | None = None,
    ) -> CreatedKey:
        await self.store.tenant_get(tenant_id)
        if expires_at is not None and expires_at <= now():
            raise InvalidRequest("expires_at is in the past", details={"field": "expires_at"})
        secret = new_secret()
        key = ApiKey(
            id=new_id("key"), tenant_id=tenant_id, name=name, prefix=secret[:SHOWN_PREFIX_CHARS], created_at=now(),
            expires_at=expires_at, scopes=scopes or KeyScopes(), limits=limits or KeyLimits(), hash=key_hash(secret),
        )  # fmt: skip
        stored = await self.store.key_create(key)
        return CreatedKey(**stored.public().model_dump(), key=secret)

    async def keys(self, tenant_id: str) -> list[ApiKeyPublic]:
        await self.store.tenant_get(tenant_id)
        return [k.public() for k in await self.store.key_list(tenant_id)]

    async def revoke_key(self, key_id: str) -> ApiKeyPublic:
        return (await self.store.key_revoke(key_id)).public()

    async def ledger(self, tenant_id: str, limit: int, cursor: str | None) -> LedgerPage:
        if cursor is not None and not cursor.isdigit():
            raise InvalidRequest("cursor is not one this API gave out", details={"field": "cursor"})
        entries, next_cursor = await self.store.ledger(tenant_id, limit, cursor)
        return LedgerPage(data=entries, next_cursor=next_cursor)

    async def usage(self, tenant_id: str) -> UsageReport:
        return UsageReport(data=await self.store.usage(tenant_id))

    async def webhook_secret(self, tenant_id: str, secret: str | None = None) -> str:
        """Set the tenant's webhook signing secret (a new random one when ``secret`` is None); returns it."""
        value = secret or signatures.new_secret()
        try:
            signatures.parse_secret(value)
        except ValueError as exc:
            raise InvalidRequest(f"webhook secret: {exc}", details={"field": "secret"}) from None
        tenant = await self.store.tenant_get(tenant_id)
        await self.store.tenant_put(tenant.model_copy(update={"webhook_secret": value}))
        return value

    async def signing_secret(self, tenant_id: str) -> str | None:
        return (await self.store.tenant_get(tenant_id)).webhook_secret
