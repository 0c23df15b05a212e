"""Pydantic validation errors → our wording, in one place (API bodies, provider params, handles, config).

``field_errors`` turns pydantic's error list into ``[{"field", "message", "type"}]`` (the ``details`` of an
``InvalidRequest``); ``summary`` joins them into one line for the error message.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def field_errors(
    errors: Iterable[Mapping[str, Any]], *, prefix: str = "", drop: tuple[str, ...] = ()
) -> list[dict[str, Any]]:
    """One entry per error: ``field`` is the dotted location (after ``prefix``, without the parts in ``drop``)."""
    problems = []
    for error in errors:
        parts = [str(p) for p in error.get("loc", ()) if p not in drop]
        problems.append(
            {
                "field": ".".join([prefix, *parts]) if prefix else ".".join(parts),
                "message": error.get("msg"),
                "type": error.get("type"),
            }
        )
    return problems


def summary(label: str, problems: list[dict[str, Any]], *, strip: str = "", root: str = "<root>") -> str:
    """``"{label}: field: message; ..."``; ``strip`` removes a prefix from each field, ``root`` names an empty one."""
    lines = []
    for p in problems:
        name = p["field"][len(strip) :] if strip and p["field"].startswith(strip) else p["field"]
        lines.append(f"{name or root}: {p['message']}")
    return f"{label}: " + "; ".join(lines)
