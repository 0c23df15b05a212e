"""Non-finite numbers are refused in every JSON body: 422 ``invalid_request``, naming each field, before any route.

Python's JSON parser reads ``NaN``, ``Infinity`` and literals too large for a double (``1e999``, valid JSON) as
non-finite floats; pydantic's float fields accept them and ``Any`` fields (``metadata``, provider params such as
a ComfyUI workflow) keep them, and nothing downstream can write them back as JSON: ``deadline_s: 1e999`` was
stored and dispatched, then answered 500. ``reject_non_finite_numbers`` is an app-wide dependency
(``create_api``): FastAPI has parsed the body (and cached it on the request) when it runs, and no route runs after
it refuses. Each error is pydantic's own ``finite_number`` at ``("body", *path)``, so the client gets the usual
``details`` entry (``{"field": "metadata.scores.0", "type": "finite_number", ...}``). Strings such as ``"inf"``
given to a float field are refused by that field itself (``allow_inf_nan=False`` or its bounds).
"""

from __future__ import annotations

import email.message
import math
from collections.abc import Iterator
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError

Loc = tuple[str | int, ...]


def non_finite(value: Any) -> Iterator[Loc]:
    """The location of every non-finite number in a parsed JSON value (iterative: any nesting depth)."""
    stack: list[tuple[Loc, Any]] = [((), value)]
    while stack:
        loc, item = stack.pop()
        if isinstance(item, float):
            if not math.isfinite(item):
                yield loc
        elif isinstance(item, dict):
            stack.extend(((*loc, k), v) for k, v in reversed(item.items()))
        elif isinstance(item, list):
            stack.extend(((*loc, i), v) for i, v in reversed(list(enumerate(item))))


def _is_json(content_type: str | None) -> bool:
    """FastAPI's rule for parsing a body as JSON: ``application/json`` or ``application/*+json``."""
    if not content_type:
        return False
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (subtype == "json" or subtype.endswith("+json"))


async def reject_non_finite_numbers(request: Request) -> None:
    route = request.scope.get("route")
    if getattr(route, "body_field", None) is None or not _is_json(request.headers.get("content-type")):
        return
    if not await request.body():
        return
    try:
        body = await request.json()  # FastAPI parsed it already: this is the cached result
    except ValueError:  # not reached: FastAPI answers a body that is not JSON before dependencies run
        return
    errors = [
        {"type": "finite_number", "loc": ("body", *loc), "msg": "Input should be a finite number", "input": None}
        for loc in non_finite(body)
    ]
    if errors:
        raise RequestValidationError(errors)
