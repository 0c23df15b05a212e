"""Workflows as stored and as the API shows them, and the bodies of the workflow routes.

A ``Workflow`` is one immutable version of a tenant's named graph: the API-format graph, the ``Param``s the
analyzer derived (each bound to one or more node inputs), and the outputs. Its ``version`` and ``retired_at``
are kept beside it by the store, so the stored document never changes.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from genpulse.core.schemas import Priority
from genpulse.workflows.nodes import OutputKind

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
ParamType = Literal["string", "integer", "number", "boolean", "image"]
_STRICT = ConfigDict(extra="forbid")


class Target(BaseModel):
    node: str
    input: str


class Param(BaseModel):
    """One input of a workflow's API: its JSON type, default and bounds, and the node inputs it is set into."""

    name: str
    type: ParamType
    targets: list[Target]
    default: Any = None
    title: str | None = None  # the form's label; None: from the name
    description: str | None = None
    minimum: int | float | None = None  # ints stay exact (a seed's 2**64 - 1)
    maximum: int | float | None = None
    enum: list[Any] | None = None
    multiline: bool = False
    random: bool = False  # a seed: the caller may send "random"
    required: bool = False


class Output(BaseModel):
    node: str
    class_type: str
    kind: OutputKind
    title: str | None = None


class Workflow(BaseModel):
    """One version of a workflow (``version`` 0 until the store numbers it)."""

    tenant_id: str
    name: str
    version: int = 0
    hash: str
    description: str | None = None
    graph: dict[str, dict[str, Any]]
    params: list[Param]
    outputs: list[Output]
    source: Literal["api", "ui"] = "api"
    analyzed_with: Literal["object_info", "builtin"] = "builtin"
    created_at: float
    retired_at: float | None = None

    @property
    def retired(self) -> bool:
        return self.retired_at is not None


class InputOverride(BaseModel):
    """An annotation of one input at upload: expose a node input, rename, hide, describe or bound a derived one."""

    model_config = _STRICT
    node: str | None = Field(None, max_length=200, description="Node id or title: expose this node's `input`.")
    input: str | None = Field(None, max_length=200, description="The node input to expose (with `node`).")
    name: str | None = Field(None, max_length=64, description="Rename the parameter.")
    hidden: bool = Field(False, description="Leave the parameter out: the workflow's value is always used.")
    title: str | None = Field(None, max_length=200)
    description: str | None = Field(None, max_length=2000)
    minimum: int | float | None = Field(None, allow_inf_nan=False)
    maximum: int | float | None = Field(None, allow_inf_nan=False)
    enum: list[str | int | float] | None = Field(None, max_length=1000)
    default: Any = None
    required: bool | None = None


class WorkflowUpload(BaseModel):
    """Body of `POST /v1/workflows`."""

    model_config = _STRICT
    name: str = Field(pattern=NAME.pattern, description="Lowercase letters, digits, `-` and `_`; 1-64 chars.")
    workflow: dict[str, Any] = Field(
        description="The graph: ComfyUI API format (`Save (API)`), or the UI format ComfyUI saves by default."
    )
    description: str | None = Field(None, max_length=2000)
    inputs: dict[str, InputOverride] = Field(
        default_factory=dict, max_length=200, description="Overrides of the derived inputs, by parameter name."
    )


class WorkflowRun(BaseModel):
    """Body of `POST /v1/workflows/{name}/runs`."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    inputs: dict[str, Any] = Field(default_factory=dict, description="Values of the workflow's inputs, by name.")
    version: int | None = Field(None, ge=1, description="The version to run; the latest by default.")
    random_seed: bool = Field(False, description="Give every seed input a random value (recorded in the task).")
    idempotency_key: str | None = Field(None, max_length=255)
    webhook_url: str | None = Field(None, max_length=2048, description="Called when the task ends.")
    priority: Priority = Field(Priority.normal, description="Queue order at the provider's rate limiter.")
    metadata: dict[str, Any] = Field(default_factory=dict, description="Opaque data echoed back in the task.")
    deadline_s: float | None = Field(None, gt=0, description="Seconds from now after which the task fails.")


class WorkflowPublic(BaseModel):
    """A workflow version as the API returns it."""

    name: str
    version: int
    hash: str
    description: str | None
    inputs: dict[str, Any] = Field(description="JSON Schema of the run's `inputs`.")
    outputs: list[Output]
    source: str
    analyzed_with: str
    created_at: float
    retired_at: float | None
    run_url: str
    versions: list[VersionSummary] | None = Field(None, description="Every version (`GET /v1/workflows/{name}`).")
    workflow: dict[str, Any] | None = Field(
        None, description="The stored graph, API format (`GET /v1/workflows/{name}/versions/{n}`)."
    )


class VersionSummary(BaseModel):
    version: int
    hash: str
    created_at: float
    retired_at: float | None


class WorkflowPage(BaseModel):
    data: list[WorkflowPublic]
    next_cursor: str | None = None
