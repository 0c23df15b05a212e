"""Models by name: ``diffusion.models`` plus the built-ins, each with its kind (image or video) and task types.

Plain Python, no torch: the ingress uses it to validate ``params.model`` and to list models in
``GET /v1/providers``; the replicas use ``ModelCatalog.path`` to find (or build) a model's directory.

A model's source is a built-in name (``tiny``, ``tiny-video``: random weights, built from config into
``cache_dir`` on first use, no download) or a local diffusers directory (any pipeline saved with
``save_pretrained``). A directory's kind comes from its ``model_index.json`` (``_class_name``); a directory the
reading process cannot see counts as an image model. ``diffusion.model`` names the default model; for
compatibility it may also be a directory path, which then becomes a model of that name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from genpulse.core.config import DiffusionConfig
from genpulse.core.errors import ConfigError, InvalidRequest

Kind = Literal["image", "video"]
BUILTINS: dict[str, Kind] = {"tiny": "image", "tiny-video": "video"}
TASK_TYPES: dict[Kind, tuple[str, ...]] = {
    "image": ("text-to-image", "image-to-image"),
    "video": ("text-to-video", "image-to-video"),
}


@dataclass(frozen=True)
class ModelSpec:
    name: str
    source: str  # a built-in name or a directory
    kind: Kind

    @property
    def builtin(self) -> bool:
        return self.source in BUILTINS

    @property
    def task_types(self) -> tuple[str, ...]:
        return TASK_TYPES[self.kind]


def _kind_of(source: str) -> Kind:
    if source in BUILTINS:
        return BUILTINS[source]
    try:
        index = json.loads((Path(source).expanduser() / "model_index.json").read_text())
    except (OSError, ValueError):
        return "image"
    return "video" if "video" in str(index.get("_class_name", "")).lower() else "image"


class ModelCatalog:
    """The models a deployment serves, by name."""

    def __init__(self, config: DiffusionConfig) -> None:
        self.config = config
        sources = {name: name for name in BUILTINS} | dict(config.models)
        if config.model not in sources:
            sources[config.model] = config.model  # a bare directory as the default model
        self._specs = {name: ModelSpec(name, src, _kind_of(src)) for name, src in sorted(sources.items())}
        self.default = config.model

    def names(self, task_type: str | None = None) -> list[str]:
        return [n for n, s in self._specs.items() if task_type is None or task_type in s.task_types]

    def get(self, name: str | None, task_type: str | None = None) -> ModelSpec:
        """The spec of ``name`` (None: the default), checked against ``task_type``; ``InvalidRequest`` listing
        the valid names otherwise."""
        if name is None and task_type is not None and task_type not in self._specs[self.default].task_types:
            valid = self.names(task_type)
            if len(valid) == 1:
                return self._specs[valid[0]]  # the only model that can (e.g. tiny-video for text-to-video)
            raise InvalidRequest(
                f"the default model {self.default!r} cannot run {task_type}: set params.model",
                details={"field": "params.model", "valid": valid},
            )
        spec = self._specs.get(name or self.default)
        if spec is None:
            raise InvalidRequest(
                f"unknown model {name!r}", details={"field": "params.model", "valid": self.names(task_type)}
            )
        if task_type is not None and task_type not in spec.task_types:
            raise InvalidRequest(
                f"model {spec.name!r} ({spec.kind}) cannot run {task_type}",
                details={"field": "params.model", "valid": self.names(task_type)},
            )
        return spec

    def task_types(self) -> list[str]:
        return sorted({t for s in self._specs.values() for t in s.task_types})

    def describe(self) -> dict[str, dict[str, object]]:
        return {n: {"kind": s.kind, "task_types": list(s.task_types)} for n, s in self._specs.items()}

    def path(self, name: str) -> Path:
        """The model's directory, building a built-in on first use. ``ConfigError`` when it is not a diffusers
        model directory (GenPulse never downloads weights at run time)."""
        spec = self.get(name)
        if spec.builtin:
            from genpulse.diffusion.builtins import ensure_builtin

            return ensure_builtin(spec.source, self.config.cache_dir)
        path = Path(spec.source).expanduser()
        if not (path / "model_index.json").is_file():
            raise ConfigError(
                f"model {name!r}: {spec.source!r} is neither a built-in ({', '.join(BUILTINS)}) nor a diffusers "
                "model directory (no model_index.json); GenPulse never downloads weights at run time"
            )
        return path
