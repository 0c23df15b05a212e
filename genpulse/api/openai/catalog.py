"""Which models a caller may name: the configured aliases (``models``) and one built-in alias per local diffusers
model (``tiny``: text-to-image, ``tiny-video``: text-to-video), and how an alias turns into a task.

A model is listed, and can be used, when its provider is registered and configured and the caller's key may
submit its task type; any other name is a 404 ``model_not_found``. Config aliases win over built-ins of the same
name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from genpulse.api.openai.errors import OpenAIError
from genpulse.core.aliases import ModelAlias
from genpulse.core.config import AppArgs
from genpulse.diffusion.models import ModelCatalog
from genpulse.providers.provider import Provider
from genpulse.providers.registry import Registry
from genpulse.tenants.auth import Principal

LOCAL = "diffusers"
_FIRST_TASK = {"image": "text-to-image", "video": "text-to-video"}
WITH_IMAGE = {"text-to-image": "image-to-image", "text-to-video": "image-to-video"}  # the same alias, given an image


@dataclass(frozen=True)
class Model:
    id: str
    alias: ModelAlias
    provider: Provider

    @property
    def kind(self) -> str:
        return "video" if self.alias.task_type.endswith("-video") else "image"

    def task_type(self, with_image: bool) -> str:
        """The task type a request runs as; an input image needs the alias's image-to-* counterpart."""
        task_type = self.alias.task_type
        if with_image and task_type.startswith("text-to-"):
            task_type = WITH_IMAGE.get(task_type, task_type)
        if task_type not in self.provider.param_models():
            field = "image" if with_image else "model"
            raise OpenAIError(
                400, f"model {self.id!r} cannot run {task_type}", param=field, code="unsupported_parameter"
            )
        return task_type

    def fields(self, task_type: str) -> set[str]:
        return set(self.provider.param_models()[task_type].model_fields)

    def describe(self) -> dict[str, Any]:
        return {"id": self.id, "object": "model", "created": 0, "owned_by": self.alias.provider}


def aliases(args: AppArgs, registry: Registry) -> dict[str, ModelAlias]:
    builtin: dict[str, ModelAlias] = {}
    if LOCAL in registry.names():
        for name, spec in ModelCatalog(args.diffusion).describe().items():
            kind = str(spec["kind"])
            builtin[name] = ModelAlias(
                provider=LOCAL, task_type=_FIRST_TASK[kind], params={"model": name}, description=f"local {kind}"
            )
    return builtin | args.models


def _usable(alias: ModelAlias, registry: Registry, caller: Principal) -> Provider | None:
    if alias.provider not in registry.names():
        return None
    provider = registry.get(alias.provider)
    if not provider.is_configured() or alias.task_type not in provider.param_models():
        return None
    if caller.key is not None and not caller.key.scopes.allows(alias.provider, alias.task_type):
        return None
    return provider


def usable(args: AppArgs, registry: Registry, caller: Principal) -> list[Model]:
    found = ((name, alias, _usable(alias, registry, caller)) for name, alias in aliases(args, registry).items())
    return [Model(name, alias, provider) for name, alias, provider in sorted(found, key=lambda f: f[0]) if provider]


def resolve(name: str, args: AppArgs, registry: Registry, caller: Principal, kind: str | None = None) -> Model:
    """The model ``name`` for ``caller``; 404 when it is unknown or not theirs, 400 when it makes no ``kind``."""
    alias = aliases(args, registry).get(name)
    provider = _usable(alias, registry, caller) if alias else None
    if alias is None or provider is None:
        raise OpenAIError(404, f"The model {name!r} does not exist or you do not have access to it.",
                          param="model", code="model_not_found")  # fmt: skip
    model = Model(name, alias, provider)
    if kind is not None and model.kind != kind:
        raise OpenAIError(400, f"model {name!r} makes {model.kind}s, not {kind}s", param="model",
                          code="unsupported_model")  # fmt: skip
    return model
