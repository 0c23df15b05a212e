"""OpenAI request fields -> the params of a task, by the names the provider's params model has.

``prompt`` -> ``prompt``; ``n`` -> ``num_images`` or ``n``; ``size`` ("WxH") -> ``width`` and ``height``, or
``size``; ``seconds`` -> ``duration`` or ``seconds``, or ``num_frames`` at the local models' frame rate;
``quality``, ``style`` and ``image`` -> the same names. A set field the model has no place for is a 400
``unsupported_parameter`` naming every such field; the alias's default params go under the request's.

``fingerprint`` is what such a request is for idempotency: the alias and the fields as sent, made before a route is
picked, so a repeat with the same ``Idempotency-Key`` that is routed elsewhere is the same request (its first task).
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from genpulse.api.openai.catalog import Model
from genpulse.api.openai.errors import OpenAIError
from genpulse.core.schemas import TaskRequest

_SIZE = re.compile(r"^(\d{1,5})x(\d{1,5})$")


def parse_size(size: str) -> tuple[int, int]:
    match = _SIZE.match(size)
    if match is None:
        raise OpenAIError(400, f"size must be WIDTHxHEIGHT, e.g. 512x512 (got {size!r})", param="size",
                          code="invalid_value")  # fmt: skip
    return int(match.group(1)), int(match.group(2))


def task_request(
    model: Model, task_type: str, given: dict[str, Any], *, fps: int, metadata: dict[str, Any]
) -> TaskRequest:
    """``given``: the OpenAI fields that were set (None: not set)."""
    fields = model.fields(task_type)
    params: dict[str, Any] = {}
    unsupported: list[str] = []

    def put(name: str, value: Any, *targets: str) -> None:
        target = next((t for t in targets if t in fields), None)
        if target is None:
            unsupported.append(name)
        else:
            params[target] = value

    for name, value in given.items():
        if value is None:
            continue
        if name == "n":
            if value != 1 or {"num_images", "n"} & fields:
                put(name, value, "num_images", "n")
        elif name == "size":
            width, height = parse_size(value)
            if {"width", "height"} <= fields:
                params["width"], params["height"] = width, height
            else:
                put(name, value, "size")
        elif name == "seconds":
            seconds = int(value)
            if "num_frames" in fields and not {"duration", "seconds"} & fields:
                params["num_frames"] = seconds * fps
            else:
                put(name, seconds, "duration", "seconds")
        else:
            put(name, value, name)
    if unsupported:
        raise OpenAIError(400, f"model {model.id!r} does not support: {', '.join(unsupported)}",
                          param=unsupported[0], code="unsupported_parameter")  # fmt: skip
    return TaskRequest(
        provider=model.provider.name,
        task_type=task_type,
        params={**model.alias.params, **params},
        metadata={"openai": {"model": model.id, **{k: v for k, v in metadata.items() if v is not None}}},
    )


def fingerprint(model: Model, task_type: str, given: dict[str, Any], metadata: dict[str, Any]) -> str:
    body = {"model": model.id, "task_type": task_type, "fields": given, "metadata": metadata}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()
