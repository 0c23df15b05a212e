"""RedisWorkflows: the WorkflowStore (``genpulse.workflows.store``) for ``RedisTaskStore`` (one of its bases).

Layout (prefix ``gp:``), per tenant and name: ``wf:{tenant}:{name}`` hash version → the workflow's JSON (stored
once, never rewritten); ``wfh:{tenant}:{name}`` hash content hash → version; ``wfr:{tenant}:{name}`` hash
version → retired at; ``wfn:{tenant}`` lexicographic set of the tenant's names. A save is one script (the
"same hash?" check and the numbering are one atomic step); the version and ``retired_at`` are set on read.
"""

from __future__ import annotations

from typing import Any

from genpulse.tasks.memory_workflows import unknown
from genpulse.tasks.redis_common import P, translated
from genpulse.workflows.models import Workflow

SAVE = """
local same = redis.call('HGET', KEYS[2], ARGV[1])
if same and redis.call('HEXISTS', KEYS[3], same) == 0 then return {0, tonumber(same)} end
local version = redis.call('HLEN', KEYS[1]) + 1
redis.call('HSET', KEYS[1], version, ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], version)
redis.call('ZADD', KEYS[4], 0, ARGV[3])
return {1, version}
"""

RETIRE = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2])
return 1
"""


def _keys(tenant_id: str, name: str) -> list[str]:
    suffix = f"{tenant_id}:{name}"
    return [f"{P}wf:{suffix}", f"{P}wfh:{suffix}", f"{P}wfr:{suffix}", f"{P}wfn:{tenant_id}"]


def _load(raw: str, version: int, retired: str | None) -> Workflow:
    workflow = Workflow.model_validate_json(raw)
    return workflow.model_copy(update={"version": version, "retired_at": float(retired) if retired else None})


class RedisWorkflows:
    _redis: Any

    async def workflow_save(self, workflow: Workflow) -> tuple[Workflow, bool]:
        keys = _keys(workflow.tenant_id, workflow.name)
        doc = workflow.model_copy(update={"version": 0, "retired_at": None}).model_dump_json()
        async with translated():
            created, version = await self._redis.eval(SAVE, 4, *keys, workflow.hash, doc, workflow.name)
        if created:
            return workflow.model_copy(update={"version": int(version), "retired_at": None}), True
        return await self.workflow_get(workflow.tenant_id, workflow.name, int(version)), False

    async def _latest(self, tenant_id: str, name: str) -> int | None:
        """The newest version not retired (reads the version numbers only, not the documents)."""
        wf, _, retired, _ = _keys(tenant_id, name)
        async with translated():
            versions, gone = await self._redis.hkeys(wf), set(await self._redis.hkeys(retired))
        live = [int(v) for v in versions if v not in gone]
        return max(live) if live else None

    async def workflow_get(self, tenant_id: str, name: str, version: int | None = None) -> Workflow:
        if version is None:
            version = await self._latest(tenant_id, name)
            if version is None:
                raise unknown(name)
        wf, _, retired, _ = _keys(tenant_id, name)
        async with translated():
            raw, retired_at = await self._redis.hget(wf, str(version)), await self._redis.hget(retired, str(version))
        if raw is None:
            raise unknown(name, version)
        return _load(raw, version, retired_at)

    async def _all(self, tenant_id: str, name: str) -> list[Workflow]:
        wf, _, retired, _ = _keys(tenant_id, name)
        async with translated():
            docs, gone = await self._redis.hgetall(wf), await self._redis.hgetall(retired)
        return [_load(docs[v], int(v), gone.get(v)) for v in sorted(docs, key=int)]

    async def workflow_versions(self, tenant_id: str, name: str) -> list[Workflow]:
        versions = await self._all(tenant_id, name)
        if not versions:
            raise unknown(name)
        return versions

    async def workflow_list(
        self, tenant_id: str, limit: int = 50, cursor: str | None = None
    ) -> tuple[list[Workflow], str | None]:
        names_key, page = f"{P}wfn:{tenant_id}", []
        start = f"({cursor}" if cursor else "-"
        while len(page) < limit:
            async with translated():
                names = await self._redis.zrangebylex(names_key, start, "+", start=0, num=limit)
            if not names:
                return page, None
            for name in names:
                latest = await self._latest(tenant_id, name)
                if latest is not None:
                    page.append(await self.workflow_get(tenant_id, name, latest))
                if len(page) == limit:
                    async with translated():
                        more = await self._redis.zrangebylex(names_key, f"({name}", "+", start=0, num=1)
                    return page, (name if more else None)
            start = f"({names[-1]}"
        return page, None

    async def workflow_retire(self, tenant_id: str, name: str, version: int, at: float) -> Workflow:
        wf, _, retired, _ = _keys(tenant_id, name)
        async with translated():
            found = await self._redis.eval(RETIRE, 2, wf, retired, str(version), repr(at))
        if not found:
            raise unknown(name, version)
        return await self.workflow_get(tenant_id, name, version)
