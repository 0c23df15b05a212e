"""The WorkflowStore contract: a tenant's workflows and their versions, kept by the TaskStore's own backend.

Like tenants and credits (``genpulse.tenants.account_store``), workflows live where tasks live (the store
actor's memory, or Redis), so they are as durable as tasks and need no second database. Rules (checked by
``tests/test_workflows_store.py``):

- ``workflow_save`` stores a new version, numbered ``1, 2, ...`` per tenant and name, atomically; a version with
  the same ``hash`` that is not retired is returned instead (``created=False``), so a re-upload is idempotent.
- ``workflow_get`` without a version is the latest version not retired; with one, that version even if retired
  (its past runs stay readable). Unknown, or every version retired: ``NotFound``.
- ``workflow_versions`` lists every version, oldest first (``NotFound`` for an unknown name).
- ``workflow_list`` is one entry per name (its latest version not retired), by name, paginated by an opaque cursor.
- ``workflow_retire`` sets ``retired_at`` once (a repeat returns the version as it is); ``NotFound`` if unknown.
- Tenants never see each other's workflows: every method takes the tenant id.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from genpulse.workflows.models import Workflow


@runtime_checkable
class WorkflowStore(Protocol):
    async def workflow_save(self, workflow: Workflow) -> tuple[Workflow, bool]: ...

    async def workflow_get(self, tenant_id: str, name: str, version: int | None = None) -> Workflow: ...

    async def workflow_versions(self, tenant_id: str, name: str) -> list[Workflow]: ...

    async def workflow_list(
        self, tenant_id: str, limit: int = 50, cursor: str | None = None
    ) -> tuple[list[Workflow], str | None]: ...

    async def workflow_retire(self, tenant_id: str, name: str, version: int, at: float) -> Workflow: ...
