"""RedisAccounts: tenants, API keys, the ledger and key limits for ``RedisTaskStore`` (its base class).

Layout (prefix ``gp:``): ``tenant:{id}`` JSON and ``tenants`` (lexicographic set of ids); ``key:{id}`` JSON,
``keyhash:{sha256}`` → key id, ``tkeys:{tenant}`` (set of key ids); ``acct:{tenant}`` hash (``balance``,
``held``); ``ledger:{tenant}`` list of entries (JSON, appended); ``usage:{tenant}`` hash of counters
``{day}|{provider}|{task_type}|{succeeded,refunded,spend}``; ``open:{key id}`` a key's open tasks;
``bucket:{key id}`` its request bucket. Holds, settlements and refunds are written by the task scripts
(``redis_scripts.MOVE``); top-ups and adjustments by ``CREDIT`` below, each one atomic step.
"""

from __future__ import annotations

from typing import Any

from genpulse.core.errors import Conflict, NotFound
from genpulse.tasks.memory_accounts import default_tenant
from genpulse.tasks.redis_common import P, translated
from genpulse.tenants.models import DEFAULT_TENANT, Account, ApiKey, LedgerEntry, Tenant, UsageRow

CREDIT = """
local balance = tonumber(redis.call('HGET', KEYS[1], 'balance') or '0')
local held = tonumber(redis.call('HGET', KEYS[1], 'held') or '0')
local amount = tonumber(ARGV[1])
if balance - held + amount < 0 then return {0, balance, held} end
redis.call('HINCRBY', KEYS[1], 'balance', amount)
redis.call('RPUSH', KEYS[2], ARGV[2])
return {1, balance + amount, held}
"""

BUCKET = """
local rate, now = tonumber(ARGV[1]), tonumber(ARGV[2])
local burst = math.max(1, rate)
local tokens = tonumber(redis.call('HGET', KEYS[1], 't') or burst)
local at = tonumber(redis.call('HGET', KEYS[1], 'a') or now)
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local wait = ''
if tokens < 1 then wait = tostring((1 - tokens) / rate) else tokens = tokens - 1 end
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'a', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return wait
"""


class RedisAccounts:
    _redis: Any

    async def tenant_create(self, tenant: Tenant) -> Tenant:
        async with translated():
            created = await self._redis.set(f"{P}tenant:{tenant.id}", tenant.model_dump_json(), nx=True)
            if not created or tenant.id == DEFAULT_TENANT:
                raise Conflict(f"tenant {tenant.id} already exists")
            await self._redis.zadd(f"{P}tenants", {tenant.id: 0})
        return tenant

    async def tenant_get(self, tenant_id: str) -> Tenant:
        async with translated():
            raw = await self._redis.get(f"{P}tenant:{tenant_id}")
        if raw is None:
            if tenant_id == DEFAULT_TENANT:
                return default_tenant()
            raise NotFound(f"tenant {tenant_id} not found")
        return Tenant.model_validate_json(raw)

    async def tenant_put(self, tenant: Tenant) -> Tenant:
        await self.tenant_get(tenant.id)
        async with translated():
            await self._redis.set(f"{P}tenant:{tenant.id}", tenant.model_dump_json())
        return tenant

    async def tenant_list(self, limit: int = 50, cursor: str | None = None) -> tuple[list[Tenant], str | None]:
        top = f"({cursor}" if cursor else "+"
        async with translated():
            ids = await self._redis.zrevrangebylex(f"{P}tenants", top, "-", start=0, num=limit + 1)
            raws = await self._redis.mget([f"{P}tenant:{i}" for i in ids[:limit]]) if ids else []
        tenants = [Tenant.model_validate_json(r) for r in raws if r is not None]
        return tenants, (ids[limit - 1] if len(ids) > limit else None)

    async def account(self, tenant_id: str) -> Account:
        await self.tenant_get(tenant_id)
        async with translated():
            got = await self._redis.hmget(f"{P}acct:{tenant_id}", ["balance", "held"])
        return Account(balance=int(got[0] or 0), held=int(got[1] or 0))

    async def credit(self, entry: LedgerEntry) -> Account:
        await self.tenant_get(entry.tenant_id)
        keys = [f"{P}acct:{entry.tenant_id}", f"{P}ledger:{entry.tenant_id}"]
        async with translated():
            ok, balance, held = await self._redis.eval(CREDIT, 2, *keys, entry.amount, entry.model_dump_json())
        if not ok:
            raise Conflict(
                f"an adjustment of {entry.amount} would leave {int(balance) - int(held) + entry.amount} available",
                details={"balance": int(balance), "held": int(held)},
            )
        return Account(balance=int(balance), held=int(held))

    async def ledger(
        self, tenant_id: str, limit: int = 50, cursor: str | None = None
    ) -> tuple[list[LedgerEntry], str | None]:
        key = f"{P}ledger:{tenant_id}"
        async with translated():
            end = int(cursor) if cursor else await self._redis.llen(key)
            start = max(0, end - limit)
            raws = await self._redis.lrange(key, start, end - 1) if end > 0 else []
        entries = [LedgerEntry.model_validate_json(r) for r in reversed(raws)]
        return entries, (str(start) if start > 0 else None)

    async def usage(self, tenant_id: str) -> list[UsageRow]:
        async with translated():
            counters = await self._redis.hgetall(f"{P}usage:{tenant_id}")
        rows: dict[tuple[str, str, str], UsageRow] = {}
        for field, value in counters.items():
            day, provider, task_type, name = field.rsplit("|", 3)
            row = rows.setdefault((day, provider, task_type), UsageRow(day=day, provider=provider, task_type=task_type))
            setattr(row, name, int(value))
        return [rows[k] for k in sorted(rows, reverse=True)]

    async def key_create(self, key: ApiKey) -> ApiKey:
        await self.tenant_get(key.tenant_id)
        async with translated(), self._redis.pipeline(transaction=True) as pipe:
            pipe.set(f"{P}key:{key.id}", key.model_dump_json())
            pipe.set(f"{P}keyhash:{key.hash}", key.id)
            pipe.zadd(f"{P}tkeys:{key.tenant_id}", {key.id: 0})
            await pipe.execute()
        return key

    async def key_by_hash(self, digest: str) -> ApiKey:
        async with translated():
            key_id = await self._redis.get(f"{P}keyhash:{digest}")
        if key_id is None:
            raise NotFound("unknown API key")
        return await self.key_get(key_id)

    async def key_get(self, key_id: str) -> ApiKey:
        async with translated():
            raw = await self._redis.get(f"{P}key:{key_id}")
        if raw is None:
            raise NotFound(f"API key {key_id} not found")
        return ApiKey.model_validate_json(raw)

    async def key_list(self, tenant_id: str) -> list[ApiKey]:
        async with translated():
            ids = await self._redis.zrangebylex(f"{P}tkeys:{tenant_id}", "-", "+")
            raws = await self._redis.mget([f"{P}key:{i}" for i in ids]) if ids else []
        return [ApiKey.model_validate_json(r) for r in raws if r is not None]

    async def key_revoke(self, key_id: str) -> ApiKey:
        key = await self.key_get(key_id)
        if key.revoked_at is None:
            key.revoked_at = await self._server_time()
            async with translated():
                await self._redis.set(f"{P}key:{key_id}", key.model_dump_json())
        return key

    async def key_hit(self, key_id: str, per_s: float) -> float | None:
        now = await self._server_time()
        async with translated():
            wait = await self._redis.eval(BUCKET, 1, f"{P}bucket:{key_id}", per_s, repr(now))
        return float(wait) if wait else None

    async def key_open(self, key_id: str) -> int:
        async with translated():
            return int(await self._redis.get(f"{P}open:{key_id}") or 0)

    async def _server_time(self) -> float:
        """Redis's clock: every replica's requests meet in one bucket, whatever their own clocks say."""
        async with translated():
            seconds, micros = await self._redis.time()
        return seconds + micros / 1e6
