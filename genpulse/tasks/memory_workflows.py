"""MemoryWorkflows: the WorkflowStore (``genpulse.workflows.store``) for ``MemoryTaskStore`` (one of its bases).

Every method runs on the store's one event loop, so a save's "same hash?" check and its numbering are one step.
"""

from __future__ import annotations

import bisect

from genpulse.core.errors import NotFound
from genpulse.workflows.models import Workflow


def unknown(name: str, version: int | None = None) -> NotFound:
    return NotFound(f"workflow {name!r}" + (f" version {version}" if version else "") + " not found")


class MemoryWorkflows:
    def __init__(self) -> None:
        self._workflows: dict[tuple[str, str], list[Workflow]] = {}  # (tenant, name) -> versions, oldest first
        self._workflow_names: dict[str, list[str]] = {}  # tenant -> sorted names

    async def workflow_save(self, workflow: Workflow) -> tuple[Workflow, bool]:
        versions = self._workflows.setdefault((workflow.tenant_id, workflow.name), [])
        same = next((w for w in versions if w.hash == workflow.hash and not w.retired), None)
        if same is not None:
            return same.model_copy(deep=True), False
        stored = workflow.model_copy(update={"version": len(versions) + 1, "retired_at": None}, deep=True)
        versions.append(stored)
        names = self._workflow_names.setdefault(workflow.tenant_id, [])
        if workflow.name not in names:
            bisect.insort(names, workflow.name)
        return stored.model_copy(deep=True), True

    async def workflow_get(self, tenant_id: str, name: str, version: int | None = None) -> Workflow:
        versions = self._workflows.get((tenant_id, name), [])
        if version is None:
            live = [w for w in versions if not w.retired]
            if not live:
                raise unknown(name)
            return live[-1].model_copy(deep=True)
        if not 1 <= version <= len(versions):
            raise unknown(name, version)
        return versions[version - 1].model_copy(deep=True)

    async def workflow_versions(self, tenant_id: str, name: str) -> list[Workflow]:
        versions = self._workflows.get((tenant_id, name))
        if not versions:
            raise unknown(name)
        return [w.model_copy(deep=True) for w in versions]

    async def workflow_list(
        self, tenant_id: str, limit: int = 50, cursor: str | None = None
    ) -> tuple[list[Workflow], str | None]:
        names = self._workflow_names.get(tenant_id, [])
        start = bisect.bisect_right(names, cursor) if cursor else 0
        page: list[Workflow] = []
        for name in names[start:]:
            live = [w for w in self._workflows[(tenant_id, name)] if not w.retired]
            if live:
                page.append(live[-1].model_copy(deep=True))
            if len(page) == limit:
                more = name != names[-1]
                return page, (name if more else None)
        return page, None

    async def workflow_retire(self, tenant_id: str, name: str, version: int, at: float) -> Workflow:
        versions = self._workflows.get((tenant_id, name), [])
        if not 1 <= version <= len(versions):
            raise unknown(name, version)
        if versions[version - 1].retired_at is None:
            versions[version - 1].retired_at = at
        return versions[version - 1].model_copy(deep=True)
