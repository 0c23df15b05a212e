"""Graph → the workflow's typed inputs (``Param``) and outputs, from literal inputs of well-known nodes.

- ``EXPOSED`` names the inputs that become parameters (prompts, seed, steps, sizes, images, checkpoints, LoRAs,
  video frame counts and rates); a ``CLIPTextEncode`` is ``prompt`` or ``negative_prompt`` by the sampler input
  (``positive``/``negative``) it feeds, followed through conditioning nodes. Only literal values are exposed
  (an input fed by a link is the graph's business).
- Several inputs with one name: the same value everywhere makes one parameter set into all of them (an SDXL
  base and refiner share ``steps``); different values make one each, named ``{name}_{node title}``.
- A node titled ``input:<name>`` (or ``input:<name>:<input>``) exposes that input as ``<name>``, replacing what
  was derived from the node; primitive nodes (``PrimitiveInt``, ...) are exposed by their title.
- Types and bounds come from the ``NodeSpec``s given (the server's ``/object_info``, or ``nodes.BUILTIN``).
Overrides given at upload are applied after, by ``genpulse.workflows.overrides``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from genpulse.core.errors import InvalidRequest
from genpulse.workflows.graph import Graph, consumers, is_link, title
from genpulse.workflows.models import Output, Param, ParamType, Target
from genpulse.workflows.nodes import OUTPUT_KINDS, NodeSpec, Widget

_SAMPLE = {"steps": "steps", "cfg": "cfg", "sampler_name": "sampler", "scheduler": "scheduler"}
_LATENT = {"width": "width", "height": "height", "batch_size": "batch_size"}
_PRIMITIVE = {"value": ""}  # named by the node's title
EXPOSED: dict[str, dict[str, str]] = {
    "CLIPTextEncode": {"text": "prompt"},
    "CLIPTextEncodeSDXL": {"text_g": "prompt", "text_l": "prompt"},
    "CLIPTextEncodeSDXLRefiner": {"text": "prompt"},
    "KSampler": {"seed": "seed", **_SAMPLE, "denoise": "denoise"},
    "KSamplerAdvanced": {"noise_seed": "seed", **_SAMPLE},
    "CheckpointLoaderSimple": {"ckpt_name": "checkpoint"},
    "ImageOnlyCheckpointLoader": {"ckpt_name": "checkpoint"},
    "UNETLoader": {"unet_name": "model"},
    "LoraLoader": {"lora_name": "lora", "strength_model": "lora_strength", "strength_clip": "lora_clip_strength"},
    "LoraLoaderModelOnly": {"lora_name": "lora", "strength_model": "lora_strength"},
    "EmptyLatentImage": _LATENT,
    "EmptySD3LatentImage": _LATENT,
    "EmptyHunyuanLatentVideo": {**_LATENT, "length": "frames"},
    "WanImageToVideo": {"width": "width", "height": "height", "length": "frames"},
    "SVD_img2vid_Conditioning": {
        "width": "width",
        "height": "height",
        "video_frames": "frames",
        "motion_bucket_id": "motion_bucket_id",
        "fps": "conditioning_fps",
    },
    "LoadImage": {"image": "image"},
    "VHS_VideoCombine": {"frame_rate": "fps"},
    "CreateVideo": {"fps": "fps"},
    "SaveAnimatedWEBP": {"fps": "fps"},
    "SaveAnimatedPNG": {"fps": "fps"},
    "SaveWEBM": {"fps": "fps"},
    **{
        cls: _PRIMITIVE
        for cls in ("PrimitiveInt", "PrimitiveFloat", "PrimitiveString", "PrimitiveStringMultiline", "PrimitiveBoolean")
    },
}
ORDER = (
    "prompt",
    "negative_prompt",
    "image",
    "seed",
    "steps",
    "cfg",
    "sampler",
    "scheduler",
    "denoise",
    "width",
    "height",
    "batch_size",
    "frames",
    "fps",
    "checkpoint",
    "model",
    "lora",
    "lora_strength",
)
PARAM_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_ANNOTATION = re.compile(r"^input:([A-Za-z_][A-Za-z0-9_]{0,63})(?::([\w.-]+))?$")
_TYPES: dict[str, ParamType] = {
    "INT": "integer",
    "FLOAT": "number",
    "STRING": "string",
    "BOOLEAN": "boolean",
    "COMBO": "string",
}


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:40]


def _order(node_id: str) -> tuple[int, str]:
    return (int(node_id), "") if node_id.isdigit() else (1 << 62, node_id)


def prompt_role(graph: Graph, node_id: str) -> str:
    """``negative_prompt`` when the encoder feeds a sampler's ``negative`` input, else ``prompt``."""
    seen, frontier = {node_id}, [node_id]
    for _ in range(6):
        following = []
        for current in frontier:
            for other, name in consumers(graph, current):
                if name in ("positive", "negative"):
                    return "negative_prompt" if name == "negative" else "prompt"
                if other not in seen:
                    seen.add(other)
                    following.append(other)
        frontier = following
    return "prompt"


def _type_of(widget: Widget | None, value: Any, cls: str) -> ParamType:
    if cls == "LoadImage":
        return "image"
    if widget is not None:
        return _TYPES[widget.type]
    if isinstance(value, bool):
        return "boolean"
    return "integer" if isinstance(value, int) else "number" if isinstance(value, float) else "string"


def make_param(name: str, graph: Graph, node_id: str, input_name: str, spec: NodeSpec | None) -> Param:
    """A parameter bound to one literal node input, typed and bounded by ``spec``."""
    node = graph[node_id]
    value = node["inputs"][input_name]
    widget = spec.widget(input_name) if spec else None
    kind = _type_of(widget, value, node["class_type"])
    enum = list(widget.options) if widget and widget.options is not None and kind == "string" else None
    if enum is not None and value not in enum:
        enum.append(value)  # the workflow's own value is always allowed
    return Param(
        name=name,
        type=kind,
        targets=[Target(node=node_id, input=input_name)],
        default=None if kind == "image" else value,
        description=f"{title(node) or node['class_type']} (node {node_id}): {input_name}"
        + (f". {widget.tooltip}" if widget and widget.tooltip else ""),
        minimum=widget.minimum if widget and kind in ("integer", "number") else None,
        maximum=widget.maximum if widget and kind in ("integer", "number") else None,
        enum=enum,
        multiline=bool(widget and widget.multiline),
        random=name == "seed" or bool(widget and widget.control and kind == "integer"),
        required=kind == "image",
    )


def _annotated(graph: Graph, node_id: str) -> tuple[str, str] | None:
    """``(name, input)`` of a node titled ``input:<name>[:<input>]``; None for any other title."""
    node, text = graph[node_id], title(graph[node_id]) or ""
    if not text.startswith("input:"):
        return None
    match = _ANNOTATION.match(text)
    literal = [k for k, v in node["inputs"].items() if not is_link(v)]
    wanted = match.group(2) if match else None
    if match and wanted is None:
        known = [k for k in EXPOSED.get(node["class_type"], {}) if k in literal]
        pool = known if len(known) == 1 else literal
        wanted = pool[0] if len(pool) == 1 else None
    if match is None or wanted is None or wanted not in literal:
        raise InvalidRequest(
            f"workflow: node {node_id!r} is titled {text!r}, which names no single literal input: use "
            f"input:<name>:<input> with one of {literal}",
            details={"field": f"workflow.{node_id}"},
        )
    return match.group(1), wanted


def derive(graph: Graph, specs: Mapping[str, NodeSpec]) -> list[Param]:
    """Every parameter of ``graph``, before overrides."""
    explicit: list[Param] = []
    candidates: dict[str, list[Param]] = {}
    for node_id in sorted(graph, key=_order):
        node = graph[node_id]
        cls, spec = node["class_type"], specs.get(node["class_type"])
        annotation = _annotated(graph, node_id)
        if annotation is not None:
            if any(p.name == annotation[0] for p in explicit):
                raise InvalidRequest(
                    f"workflow: two nodes are titled input:{annotation[0]}; node {node_id!r} needs another name",
                    details={"field": f"workflow.{node_id}"},
                )
            explicit.append(make_param(annotation[0], graph, node_id, annotation[1], spec))
            continue
        for input_name, base in EXPOSED.get(cls, {}).items():
            if not isinstance(node["inputs"].get(input_name), str | int | float | bool):
                continue  # absent, a link, or a value no form can hold
            if base == "prompt":
                base = prompt_role(graph, node_id)
            base = base or slug(title(node) or "") or f"value_{node_id}"
            candidates.setdefault(base, []).append(make_param(base, graph, node_id, input_name, spec))
    taken = {p.name for p in explicit}
    params = [*explicit]
    for base, group in candidates.items():
        if base not in taken and all(p.default == group[0].default and p.type == group[0].type for p in group):
            targets = [t for p in group for t in p.targets]
            also = f" (and {len(targets) - 1} more)" if len(targets) > 1 else ""
            params.append(group[0].model_copy(update={"targets": targets, "description": group[0].description + also}))
            taken.add(base)
            continue
        labels = [slug(title(graph[p.targets[0].node]) or "") for p in group]
        for p, label in zip(group, labels, strict=True):
            target = p.targets[0]
            name = f"{base}_{label}" if label and labels.count(label) == 1 else f"{base}_{target.node}"
            if name in taken:
                name = f"{base}_{target.node}_{target.input}"
            params.append(p.model_copy(update={"name": name}))
            taken.add(name)
    return sorted(params, key=lambda p: (ORDER.index(p.name) if p.name in ORDER else len(ORDER), p.name))


def outputs(graph: Graph, specs: Mapping[str, NodeSpec]) -> list[Output]:
    """The nodes that write files; ``InvalidRequest`` when there is none (ComfyUI would refuse the prompt)."""
    found = []
    for node_id in sorted(graph, key=_order):
        cls = graph[node_id]["class_type"]
        spec = specs.get(cls)
        kind = (spec.output if spec else None) or OUTPUT_KINDS.get(cls)
        if kind is not None:
            found.append(Output(node=node_id, class_type=cls, kind=kind, title=title(graph[node_id])))
    if not found:
        raise InvalidRequest(
            "workflow: the graph has no output node (SaveImage, PreviewImage, SaveVideo, VHS_VideoCombine, ...)",
            details={"field": "workflow"},
        )
    return found
