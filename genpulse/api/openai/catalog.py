"""Which models a caller may name: the configured aliases (``models``) and one built-in alias per local diffusers
model (``tiny``: text-to-image, ``tiny-video``: text-to-video), and how an alias turns into a task.

A model is listed, and can be used, when its provider is registered and configured and the caller's key may
submit its task type; any other name is a 404 ``model_not_found``. Config aliases win over built-ins of the same
name.
An alias with ``routes`` picks one per request: the usable routes of the lowest priority, by weight. The other
usable routes, by priority, then weight, are the request's fallbacks (``Model.fallbacks``): where its task fails
over to when its provider surely refuses it (``genpulse.jobs.failover``). Instances marked ``out`` (out of credit,
credentials refused, unreachable: ``genpulse.providers.health``) are passed over while another route is usable,
and come last among the fallbacks; when every usable route is out, the pick is as if none were.
"""

from __future__ import annotations

import random
from collections.abc import Container
from dataclasses import dataclass
from typing import Any

from genpulse.api.openai.errors import OpenAIError
from genpulse.core.aliases import ModelAlias, Route
from genpulse.core.config import AppArgs
from genpulse.diffusion.models import ModelCatalog
from genpulse.providers.provider import Provider
from genpulse.providers.registry import Registry
from genpulse.tenants.auth import Principal

_FIRST_TASK = {"image": "text-to-image", "video": "text-to-video"}
WITH_IMAGE = {"text-to-image": "image-to-image", "text-to-video": "image-to-video"}  # the same alias, given an image


@dataclass(frozen=True)
class Model:
    id: str
    alias: ModelAlias
    provider: Provider
    fallbacks: tuple[str, ...] = ()  # further usable routes' providers, in failover order

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
        return {"id": self.id, "object": "model", "created": 0, "owned_by": self.provider.name}


def aliases(args: AppArgs, registry: Registry) -> dict[str, ModelAlias]:
    builtin: dict[str, ModelAlias] = {}
    local = registry.diffusion_provider()
    if local is not None:
        for name, spec in ModelCatalog(args.diffusion).describe().items():
            kind = str(spec["kind"])
            builtin[name] = ModelAlias(
                provider=local, task_type=_FIRST_TASK[kind], params={"model": name}, description=f"local {kind}"
            )
    return builtin | args.models


def _usable(alias: ModelAlias, route: Route, registry: Registry, caller: Principal) -> Provider | None:
    if route.provider not in registry.names():  # unknown, or disabled (`enabled: false`)
        return None
    provider = registry.get(route.provider)
    if not provider.is_configured() or alias.task_type not in provider.param_models():
        return None
    if caller.key is not None and not caller.key.scopes.allows(route.provider, alias.task_type):
        return None
    return provider


def pick(
    alias: ModelAlias,
    registry: Registry,
    caller: Principal,
    rng: random.Random | None = None,
    out: Container[str] = frozenset(),
) -> Provider | None:
    """A usable route's provider: the lowest priority that has one, then by weight, passing over the instances
    ``out`` while one is not; None when none is usable."""
    usable = [(r, p) for r in alias.targets() if (p := _usable(alias, r, registry, caller)) is not None]
    usable = [(r, p) for r, p in usable if r.provider not in out] or usable
    if not usable:
        return None
    best = min(r.priority for r, _ in usable)
    group = [(r, p) for r, p in usable if r.priority == best]
    return (rng or random.Random()).choices(group, weights=[r.weight for r, _ in group])[0][1]


def fallbacks(
    alias: ModelAlias, picked: Provider, registry: Registry, caller: Principal, out: Container[str] = frozenset()
) -> tuple[str, ...]:
    """The usable routes but ``picked``, in failover order: those not ``out`` first, then by priority, then the
    heavier first."""
    usable = [r for r in alias.targets() if _usable(alias, r, registry, caller) is not None]
    ordered = sorted(usable, key=lambda r: (r.provider in out, r.priority, -r.weight))  # stable among equals
    return tuple(dict.fromkeys(r.provider for r in ordered if r.provider != picked.name))


def usable(args: AppArgs, registry: Registry, caller: Principal) -> list[Model]:
    found = ((name, alias, pick(alias, registry, caller)) for name, alias in aliases(args, registry).items())
    return [Model(name, alias, provider) for name, alias, provider in sorted(found, key=lambda f: f[0]) if provider]


def resolve(
    name: str,
    args: AppArgs,
    registry: Registry,
    caller: Principal,
    kind: str | None = None,
    rng: random.Random | None = None,
    out: Container[str] = frozenset(),
) -> Model:
    """The model ``name`` for ``caller``, on a route picked now (passing over the instances ``out``); 404 when it
    is unknown or not theirs (no usable route), 400 when it makes no ``kind``."""
    alias = aliases(args, registry).get(name)
    provider = pick(alias, registry, caller, rng, out) if alias else None
    if alias is None or provider is None:
        raise OpenAIError(404, f"The model {name!r} does not exist or you do not have access to it.",
                          param="model", code="model_not_found")  # fmt: skip
    model = Model(name, alias, provider, fallbacks(alias, provider, registry, caller, out))
    if kind is not None and model.kind != kind:
        raise OpenAIError(400, f"model {name!r} makes {model.kind}s, not {kind}s", param="model",
                          code="unsupported_model")  # fmt: skip
    return model
