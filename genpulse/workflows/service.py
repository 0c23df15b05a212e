"""WorkflowService: upload, version, list, retire and run a tenant's workflows (the routes call only this).

An upload is converted (UI format), checked, analyzed with the node facts of the moment and saved as the next
version, or as the version it repeats (same content hash: graph and annotations). A run resolves the caller's
values against the version's inputs and submits an ordinary ``comfyui`` task of type ``workflow`` through
``TaskService.submit`` (scopes, credits, idempotency, webhooks as for any task). A random seed drawn for a run
with an idempotency key is derived from the key, so a repeat is the same request and replays the same task.
"""

from __future__ import annotations

import hashlib
import json
import random
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING

from genpulse.core.errors import Conflict, InvalidRequest
from genpulse.core.schemas import Task, TaskRequest, now
from genpulse.providers.vendors.comfyui import ComfyUIProvider
from genpulse.tenants.auth import Principal
from genpulse.workflows.analyzer import derive, outputs
from genpulse.workflows.fill import task_params
from genpulse.workflows.graph import check
from genpulse.workflows.models import Param, Workflow, WorkflowRun, WorkflowUpload
from genpulse.workflows.object_info import BUILTIN_CATALOG, Catalog, NodeFacts
from genpulse.workflows.overrides import apply
from genpulse.workflows.ui_format import convert, is_ui_format
from genpulse.workflows.values import check_defaults, resolve

if TYPE_CHECKING:
    from genpulse.jobs.service import TaskService

TASK_TYPE = "workflow"
MAX_RANDOM_SEED = 2**50  # what ComfyUI's frontend draws from


def content_hash(upload: WorkflowUpload, graph: dict[str, object]) -> str:
    inputs = {k: v.model_dump(exclude_defaults=True) for k, v in upload.inputs.items()}
    body = json.dumps({"graph": graph, "inputs": inputs}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


class WorkflowService:
    def __init__(self, tasks: TaskService) -> None:
        self.tasks, self.store, self.config = tasks, tasks.store, tasks.args.workflows
        self._facts: NodeFacts | None = None

    async def catalog(self) -> Catalog:
        if self._facts is None:
            if self.config.provider not in self.tasks.registry.names():
                return BUILTIN_CATALOG
            provider = self.tasks.registry.get(self.config.provider)
            servers = provider.servers() if isinstance(provider, ComfyUIProvider) else []
            timeout_s = self.tasks.args.provider(self.config.provider).timeout_s
            self._facts = NodeFacts(servers, timeout_s, self.config.object_info_ttl_s)
        return await self._facts.catalog()

    def _uploader(self, caller: Principal, tenant: str | None) -> str:
        if tenant is not None:
            caller.require_admin()
            return tenant
        if self.config.admin_only_upload:
            caller.require_admin()
        return caller.tenant()

    async def upload(
        self, body: WorkflowUpload, *, caller: Principal, tenant: str | None = None
    ) -> tuple[Workflow, bool]:
        """The stored version and whether it is new (False: the same content was already the version returned)."""
        tenant_id = self._uploader(caller, tenant)
        if tenant is not None:
            await self.store.tenant_get(tenant_id)  # NotFound for a tenant that does not exist
        catalog = await self.catalog()
        ui = is_ui_format(body.workflow)
        graph = check(convert(body.workflow, catalog) if ui else body.workflow)
        unknown = catalog.unknown({node["class_type"] for node in graph.values()})
        if unknown:
            raise InvalidRequest(
                f"workflow: node classes the ComfyUI server does not know: {', '.join(unknown)}",
                details={"field": "workflow", "unknown": unknown},
            )
        params = apply(graph, catalog.specs, derive(graph, catalog.specs), body.inputs)
        check_defaults(params)
        workflow = Workflow(
            tenant_id=tenant_id,
            name=body.name,
            hash=content_hash(body, graph),
            description=body.description,
            graph=graph,
            params=params,
            outputs=outputs(graph, catalog.specs),
            source="ui" if ui else "api",
            analyzed_with="object_info" if catalog.from_server else "builtin",
            created_at=now(),
        )
        return await self.store.workflow_save(workflow)

    async def get(self, name: str, version: int | None = None, *, tenant: str) -> Workflow:
        return await self.store.workflow_get(tenant, name, version)

    async def versions(self, name: str, *, tenant: str) -> list[Workflow]:
        return await self.store.workflow_versions(tenant, name)

    async def list(
        self, *, tenant: str, limit: int = 50, cursor: str | None = None
    ) -> tuple[list[Workflow], str | None]:
        return await self.store.workflow_list(tenant, limit, cursor)

    async def retire(self, name: str, version: int, *, tenant: str) -> Workflow:
        return await self.store.workflow_retire(tenant, name, version, now())

    async def run(
        self, name: str, body: WorkflowRun, idempotency_key: str | None = None, *, caller: Principal
    ) -> tuple[Task, bool]:
        """Submit a run as a ``comfyui`` ``workflow`` task: ``(task, created)`` as ``TaskService.submit``."""
        tenant = caller.tenant()
        workflow = await self.store.workflow_get(tenant, name, body.version)
        if workflow.retired:
            raise Conflict(
                f"workflow {name!r} version {workflow.version} is retired; run another version",
                details={"field": "version", "retired_at": workflow.retired_at},
            )
        key = idempotency_key or body.idempotency_key
        values = resolve(workflow.params, body.inputs, random_seed=body.random_seed, draw=_drawer(tenant, name, key))
        request = TaskRequest(
            provider=self.config.provider,
            task_type=TASK_TYPE,
            params=task_params(workflow, values),
            idempotency_key=body.idempotency_key,
            webhook_url=body.webhook_url,
            priority=body.priority,
            metadata=body.metadata,
            deadline_s=body.deadline_s,
        )
        return await self.tasks.submit(request, idempotency_key, caller=caller)


def _drawer(tenant: str, name: str, key: str | None) -> Callable[[Param], int]:
    """Random seeds for a run: from the idempotency key when there is one (a repeat draws the same), else fresh."""
    rng = random.Random(hashlib.sha256(f"{tenant}/{name}/{key}".encode()).digest()) if key else None

    def draw(param: Param) -> int:
        lo = int(param.minimum or 0)
        hi = min(int(param.maximum) if param.maximum is not None else MAX_RANDOM_SEED, MAX_RANDOM_SEED)
        return rng.randint(lo, hi) if rng else lo + secrets.randbelow(hi - lo + 1)

    return draw
