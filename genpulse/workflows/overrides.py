"""The ``inputs`` annotations of an upload, applied to the derived parameters: expose, rename, hide, describe, bound.

A key naming a derived parameter changes it (``hidden``, ``name``, ``title``, ``description``, ``minimum``,
``maximum``, ``enum``, ``default``, ``required``); any other key needs ``node`` and ``input`` and exposes that
literal node input under the key (taking it from a derived parameter that had it). Each problem is an
``InvalidRequest`` naming ``inputs.<key>``.
"""

from __future__ import annotations

from collections.abc import Mapping

from genpulse.core.errors import InvalidRequest
from genpulse.workflows.analyzer import PARAM_NAME, make_param
from genpulse.workflows.graph import Graph, find, is_link
from genpulse.workflows.models import InputOverride, Param
from genpulse.workflows.nodes import NodeSpec
from genpulse.workflows.values import check_value


def _bad(key: str, message: str) -> InvalidRequest:
    return InvalidRequest(f"inputs.{key}: {message}", details={"field": f"inputs.{key}"})


def _exposed(graph: Graph, specs: Mapping[str, NodeSpec], key: str, ov: InputOverride) -> Param:
    if not ov.node or not ov.input:
        raise _bad(key, "no derived input has that name; give `node` and `input` to expose a node input")
    try:
        node_id = find(graph, ov.node)
    except InvalidRequest as exc:
        raise _bad(key, exc.message) from None
    value = graph[node_id]["inputs"].get(ov.input)
    if ov.input not in graph[node_id]["inputs"] or is_link(value):
        raise _bad(key, f"node {node_id!r} has no literal input {ov.input!r}")
    return make_param(key, graph, node_id, ov.input, specs.get(graph[node_id]["class_type"]))


def _changed(param: Param, key: str, ov: InputOverride) -> Param:
    update = {k: getattr(ov, k) for k in ("title", "description", "minimum", "maximum", "enum", "required")}
    update = {k: v for k, v in update.items() if v is not None}
    if ov.name is not None:
        if not PARAM_NAME.match(ov.name):
            raise _bad(key, f"name {ov.name!r}: letters, digits and _, not starting with a digit")
        update["name"] = ov.name
    changed = param.model_copy(update=update)
    lo, hi = changed.minimum, changed.maximum
    if (lo is not None or hi is not None) and changed.type not in ("integer", "number"):
        raise _bad(key, f"minimum and maximum apply to numbers; this input is a {changed.type}")
    if lo is not None and hi is not None and lo > hi:
        raise _bad(key, f"minimum {lo} is above maximum {hi}")
    if ov.default is not None:
        changed.default = check_value(changed, ov.default, field=f"inputs.{key}.default")
    elif changed.default is not None and changed.type != "image":
        changed.default = check_value(changed, changed.default, field=f"inputs.{key}.default")
    return changed


def apply(
    graph: Graph, specs: Mapping[str, NodeSpec], params: list[Param], overrides: dict[str, InputOverride]
) -> list[Param]:
    by_name = {p.name: p for p in params}
    for key, ov in overrides.items():
        if key not in by_name:
            if not PARAM_NAME.match(key):
                raise _bad(key, "a parameter name is letters, digits and _, not starting with a digit")
            new = _exposed(graph, specs, key, ov)
            target = new.targets[0]
            for name, p in list(by_name.items()):  # the explicit binding wins over a derived one
                rest = [t for t in p.targets if t != target]
                if len(rest) != len(p.targets):
                    by_name[name] = p.model_copy(update={"targets": rest})
            by_name = {n: p for n, p in by_name.items() if p.targets}
            by_name[key] = new
        if ov.hidden:
            del by_name[key]
            continue
        changed = _changed(by_name[key], key, ov)
        del by_name[key]
        if changed.name in by_name:
            raise _bad(key, f"another input is already named {changed.name!r}")
        by_name[changed.name] = changed
    return list(by_name.values())
