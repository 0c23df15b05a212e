"""Tenants, API keys, the credit ledger and a task's billing record: what the store keeps about money and access.

Credits are whole numbers (an operator picks what one credit is worth); prices may be fractional and a task's
cost is rounded up to a whole credit, so every sum is exact. A tenant's balance and held amount are derived from
its ledger: ``balance = Σ top-ups + Σ adjustments - Σ settlements`` and ``held = Σ holds - Σ released``, where a
settlement or a refund releases its task's hold. The store keeps both running totals, written in the same atomic
step as the ledger entry that changes them (``genpulse.tenants.settlement``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from genpulse.core.schemas import DEFAULT_TENANT, new_id, now

__all__ = ["DEFAULT_TENANT"]


class KeyScopes(BaseModel):
    model_config = ConfigDict(extra="forbid")
    providers: list[str] | None = Field(None, description="Providers the key may use; null: all.")
    task_types: list[str] | None = Field(None, description="Task types the key may submit; null: all.")

    def allows(self, provider: str, task_type: str) -> bool:
        return (self.providers is None or provider in self.providers) and (
            self.task_types is None or task_type in self.task_types
        )


class KeyLimits(BaseModel):
    model_config = ConfigDict(extra="forbid")
    requests_per_s: float | None = Field(None, gt=0, description="Requests per second, cluster-wide; null: none.")
    max_concurrent_tasks: int | None = Field(None, ge=1, description="Queued + running tasks at once; null: none.")


class Tenant(BaseModel):
    id: str = Field(description="`ten_...`")
    name: str
    created_at: float
    webhook_secret: str | None = Field(None, description="Signs this tenant's webhooks (never returned).")


class TenantView(BaseModel):
    """A tenant as the API shows it: its record and its account."""

    id: str
    name: str
    created_at: float
    balance: int = Field(description="Credits: top-ups and adjustments minus settled charges.")
    held: int = Field(description="Credits held for tasks that have not ended.")
    available: int = Field(description="`balance - held`: what new tasks can hold.")


class ApiKeyPublic(BaseModel):
    id: str = Field(description="`key_...`: names the key in admin calls; not a credential.")
    tenant_id: str
    name: str | None = None
    prefix: str = Field(description="The key's first characters, to recognise it.")
    created_at: float
    expires_at: float | None = None
    revoked_at: float | None = None
    scopes: KeyScopes = Field(default_factory=KeyScopes)
    limits: KeyLimits = Field(default_factory=KeyLimits)


class ApiKey(ApiKeyPublic):
    """The stored key: its public fields and the SHA-256 of the secret (the secret itself is never kept)."""

    hash: str

    def public(self) -> ApiKeyPublic:
        return ApiKeyPublic.model_validate(self.model_dump(include=set(ApiKeyPublic.model_fields)))

    def usable(self, at: float) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > at)


class EntryKind(StrEnum):
    topup = "topup"
    adjustment = "adjustment"
    hold = "hold"
    settle = "settle"
    refund = "refund"


class LedgerEntry(BaseModel):
    id: str = Field(description="`led_...`, time-ordered.")
    tenant_id: str
    kind: EntryKind
    amount: int = Field(
        description="Credits: added (top-up, adjustment), held (hold), charged (settle) or released (refund)."
    )
    released: int = Field(0, description="For a settlement: the hold it releases.")
    task_id: str | None = None
    provider: str | None = None
    task_type: str | None = None
    note: str | None = None
    at: float

    @classmethod
    def make(cls, tenant_id: str, kind: EntryKind, amount: int, **fields: Any) -> LedgerEntry:
        return cls(id=new_id("led"), tenant_id=tenant_id, kind=kind, amount=amount, at=now(), **fields)

    def balance_delta(self) -> int:
        if self.kind in (EntryKind.topup, EntryKind.adjustment):
            return self.amount
        return -self.amount if self.kind == EntryKind.settle else 0

    def held_delta(self) -> int:
        if self.kind == EntryKind.hold:
            return self.amount
        if self.kind == EntryKind.settle:
            return -self.released
        return -self.amount if self.kind == EntryKind.refund else 0


class Account(BaseModel):
    balance: int = 0
    held: int = 0

    @property
    def available(self) -> int:
        return self.balance - self.held


class UsageRow(BaseModel):
    day: str = Field(description="UTC date, `YYYY-MM-DD`, of the tasks' end.")
    provider: str
    task_type: str
    succeeded: int = Field(0, description="Tasks settled.")
    refunded: int = Field(0, description="Tasks that ended without a charge (failed, canceled).")
    spend: int = Field(0, description="Credits charged.")
