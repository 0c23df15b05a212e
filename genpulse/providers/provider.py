"""The provider contract, as the ingress sees it: names, task types and their param schemas.

A provider module subclasses ``Provider`` and registers it in ``genpulse.providers.registry``. ``validate``
turns raw ``params`` into the task type's pydantic model (``InvalidRequest`` naming each bad field, or listing
the valid task types); ``schemas`` gives the JSON Schema per task type for ``GET /meta/schemas/{provider}``.
How a task of the provider is executed is the worker's business (``genpulse.jobs.runners``), not this class's.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from pydantic import BaseModel, ValidationError

from genpulse.core.config import AppArgs
from genpulse.core.errors import InvalidRequest
from genpulse.core.validation import field_errors, summary


class Provider(ABC):
    name: ClassVar[str]
    description: ClassVar[str]
    kind: ClassVar[str] = "cloud"

    def __init__(self, args: AppArgs) -> None:
        self.args = args

    @abstractmethod
    def param_models(self) -> dict[str, type[BaseModel]]:
        """Task type -> params model (built from config, so limits in the schema are the real ones)."""

    def is_configured(self) -> bool:
        return True

    def limits(self) -> dict[str, Any]:
        return {}

    def validate(self, task_type: str, params: dict[str, Any]) -> BaseModel:
        models = self.param_models()
        model = models.get(task_type)
        if model is None:
            raise InvalidRequest(
                f"provider {self.name!r} does not support task type {task_type!r}",
                details={"field": "task_type", "valid": sorted(models)},
            )
        try:
            return model.model_validate(params)
        except ValidationError as exc:
            problems = field_errors(exc.errors(), prefix="params")
            raise InvalidRequest(summary("invalid params", problems, strip="params."), details=problems) from None

    def schemas(self) -> dict[str, Any]:
        return {t: m.model_json_schema() for t, m in sorted(self.param_models().items())}

    def info(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "kind": self.kind,
            "task_types": sorted(self.param_models()),
            "configured": self.is_configured(),
            "limits": self.limits(),
        }
