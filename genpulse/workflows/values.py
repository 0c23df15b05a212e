"""A workflow's inputs as JSON Schema, and a run's values checked against them (422s that name the input).

``input_schema`` is what the API shows and the console renders a form from; ``resolve`` is the same contract
enforced: unknown names, wrong types, values out of bounds or not in the enum, and missing required inputs are
each an ``InvalidRequest`` naming ``inputs.<name>``. A seed input takes ``"random"`` (or the run's
``random_seed`` flag); the value drawn is returned like any other, so the task records it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from pydantic import TypeAdapter, ValidationError

from genpulse.core.errors import InvalidRequest
from genpulse.media.inputs import ImageRef
from genpulse.workflows.models import Param

MAX_TEXT = 100_000
RANDOM = "random"
IMAGE_HELP = "An image: an asset id (`ast_...`), an https URL or a data URI; uploaded to the ComfyUI server first."
_IMAGE: TypeAdapter[Any] = TypeAdapter(ImageRef)
_JSON_TYPES = {"integer": "integer", "number": "number", "string": "string", "boolean": "boolean", "image": "string"}


def _problem(field: str, message: str) -> InvalidRequest:
    return InvalidRequest(f"{field}: {message}", details={"field": field})


def _number(x: float) -> str:
    return str(x) if isinstance(x, int) else f"{x:g}"


def check_defaults(params: list[Param]) -> None:
    """At upload: the workflow's own values must be valid inputs too (else every run would be refused)."""
    for p in params:
        if p.default is not None and p.type != "image":
            target = p.targets[0]
            try:
                check_value(p, p.default, field=f"workflow.{target.node}.{target.input}")
            except InvalidRequest as exc:
                raise InvalidRequest(
                    f"{exc.message} (the workflow's own value, the default of input {p.name!r})", details=exc.details
                ) from None


def check_value(param: Param, value: Any, *, field: str) -> Any:
    """``value`` as the node input takes it, or ``InvalidRequest`` naming ``field``."""
    kind = param.type
    if kind == "integer" and isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if kind in ("integer", "number"):
        ok = isinstance(value, int) if kind == "integer" else isinstance(value, int | float)
        if not ok or isinstance(value, bool) or (isinstance(value, float) and not math.isfinite(value)):
            raise _problem(field, f"must be {'an integer' if kind == 'integer' else 'a number'}, not {value!r:.60}")
        if param.minimum is not None and value < param.minimum:
            raise _problem(field, f"{value} is below the minimum {_number(param.minimum)}")
        if param.maximum is not None and value > param.maximum:
            raise _problem(field, f"{value} is above the maximum {_number(param.maximum)}")
    elif kind == "boolean" and not isinstance(value, bool):
        raise _problem(field, f"must be true or false, not {value!r:.60}")
    elif kind in ("string", "image"):
        if not isinstance(value, str):
            raise _problem(field, f"must be a string, not {type(value).__name__}")
        if kind == "string" and len(value) > MAX_TEXT:
            raise _problem(field, f"longer than {MAX_TEXT} characters")
        if kind == "image":
            try:
                _IMAGE.validate_python(value)
            except ValidationError as exc:
                raise _problem(field, str(exc.errors()[0].get("msg", "not an image"))) from None
    if param.enum is not None and value not in param.enum:
        shown = ", ".join(repr(v) for v in param.enum[:20]) + (", ..." if len(param.enum) > 20 else "")
        raise _problem(field, f"{value!r:.60} is not one of {shown}")
    return value


def resolve(
    params: list[Param], inputs: dict[str, Any], *, random_seed: bool, draw: Callable[[Param], int]
) -> dict[str, Any]:
    """Every parameter's value for a run (given, drawn, or the default); all problems in one ``InvalidRequest``."""
    by_name = {p.name: p for p in params}
    problems = [
        _problem(f"inputs.{k}", f"unknown input; this workflow takes {sorted(by_name)}")
        for k in inputs
        if k not in by_name
    ]
    values: dict[str, Any] = {}
    for p in params:
        value = inputs.get(p.name, p.default)
        if p.random and (value == RANDOM or (random_seed and p.name not in inputs)):
            value = draw(p)
        if value is None:
            if p.required:
                problems.append(_problem(f"inputs.{p.name}", "required"))
            continue
        try:
            values[p.name] = check_value(p, value, field=f"inputs.{p.name}")
        except InvalidRequest as exc:
            problems.append(exc)
    if problems:
        details = [{"field": e.details["field"], "message": e.message} for e in problems]
        raise InvalidRequest("invalid workflow inputs: " + "; ".join(e.message for e in problems), details=details)
    return values


def property_schema(p: Param) -> dict[str, Any]:
    base: dict[str, Any] = {"type": _JSON_TYPES[p.type]}
    if p.minimum is not None:
        base["minimum"] = p.minimum
    if p.maximum is not None:
        base["maximum"] = p.maximum
    if p.enum is not None:
        base["enum"] = p.enum
    if p.type == "image":
        base["format"] = "genpulse-image"
    schema: dict[str, Any] = {"anyOf": [base, {"const": RANDOM}]} if p.random else base
    schema["title"] = p.title or p.name.replace("_", " ").capitalize()
    description = p.description or (IMAGE_HELP if p.type == "image" else None)
    if p.random:
        description = (description + " " if description else "") + 'Send "random" for a random seed.'
    if description:
        schema["description"] = description
    if p.default is not None:
        schema["default"] = p.default
    if p.multiline:
        schema["x-multiline"] = True
    return schema


def input_schema(params: list[Param]) -> dict[str, Any]:
    """JSON Schema of a run's ``inputs``."""
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {p.name: property_schema(p) for p in params},
        "required": [p.name for p in params if p.required],
    }
