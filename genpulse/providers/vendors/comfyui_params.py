"""Params of ComfyUI tasks: a workflow in API format plus values and images to set into its nodes.

Nodes are addressed by id or by ``_meta.title`` (unique); every target is checked at validation time, so a bad
reference is a 422 at submit. There is deliberately no field for a server address: servers come from config.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from genpulse.media.inputs import ImageRef

_STRICT = ConfigDict(extra="forbid")


class NodeInput(BaseModel):
    model_config = _STRICT
    node: str = Field(min_length=1, max_length=200, description="Node id, or the node's `_meta.title`.")
    input: str = Field(min_length=1, max_length=200, description="Input name, e.g. `text`, `seed`, `steps`.")
    value: str | int | float | bool = Field(description="The value set into that input.")


class ImageInput(BaseModel):
    model_config = _STRICT
    node: str = Field(min_length=1, max_length=200, description="Node id or `_meta.title` (e.g. a LoadImage node).")
    input: str = Field("image", min_length=1, max_length=200, description="Input that receives the uploaded name.")
    image: ImageRef = Field(description="The image: https URL, data URI or base64; uploaded to the server first.")


def resolve_node(workflow: dict[str, Any], ref: str) -> str:
    if ref in workflow:
        return ref
    titled = [k for k, n in workflow.items() if isinstance(n.get("_meta"), dict) and n["_meta"].get("title") == ref]
    if len(titled) != 1:
        raise ValueError(f"node {ref!r}: {'no node' if not titled else 'several nodes'} with that id or title")
    return titled[0]


class ComfyUIWorkflow(BaseModel):
    """A ComfyUI workflow (API format) plus values to set into it. Server addresses come from config only."""

    model_config = _STRICT
    workflow: dict[str, dict[str, Any]] = Field(
        min_length=1,
        max_length=2000,
        description="The workflow in ComfyUI API format (`Save (API)`): node id -> "
        "{class_type, inputs, _meta?}; a link is [source node id, output index].",
    )
    inputs: list[NodeInput] = Field(default_factory=list, max_length=200, description="Values set into nodes.")
    images: list[ImageInput] = Field(
        default_factory=list, max_length=16, description="Images uploaded to the server and set into nodes."
    )

    @model_validator(mode="after")
    def _check(self) -> ComfyUIWorkflow:
        for node_id, node in self.workflow.items():
            if not isinstance(node.get("class_type"), str) or not node["class_type"]:
                raise ValueError(f"workflow node {node_id!r} has no class_type")
            if not isinstance(node.get("inputs", {}), dict):
                raise ValueError(f"workflow node {node_id!r}: inputs must be an object")
        for target in [*self.inputs, *self.images]:
            resolve_node(self.workflow, target.node)
        return self


class ComfyUIImageToVideo(ComfyUIWorkflow):
    """A ComfyUI image-to-video workflow: at least one input image."""

    images: list[ImageInput] = Field(
        min_length=1, max_length=16, description="Images uploaded to the server and set into nodes."
    )


class ComfyUIWorkflowRun(ComfyUIWorkflow):
    """A run of a stored workflow (``POST /v1/workflows/{name}/runs``): its graph with the run's values filled in,
    the images to upload, and which workflow version and values they were (``genpulse.workflows.fill``)."""

    workflow_name: str = Field(min_length=1, max_length=64, description="The stored workflow this run is of.")
    workflow_version: int = Field(ge=1, description="Its version.")
    values: dict[str, Any] = Field(default_factory=dict, description="The inputs used, random seeds included.")
