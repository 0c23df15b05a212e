"""An API-format graph, checked: every node has a class and inputs, every link points at a node that exists.

API format is ``{node id: {"class_type", "inputs": {name: value or [source id, output index]}, "_meta"?}}``.
``check`` raises ``InvalidRequest`` naming the first bad node (never a 500 on odd input); the helpers below read
a checked graph.
"""

from __future__ import annotations

from typing import Any

from genpulse.core.errors import InvalidRequest

MAX_NODES = 2000

Graph = dict[str, dict[str, Any]]


def is_link(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and isinstance(value[0], str | int) and isinstance(value[1], int)


def _bad(message: str, node: str | None = None) -> InvalidRequest:
    field = f"workflow.{node}" if node is not None else "workflow"
    return InvalidRequest(f"workflow: {message}", details={"field": field})


def check(graph: dict[str, Any]) -> Graph:
    """The graph with string node ids and links, or ``InvalidRequest`` naming what is wrong."""
    if not graph:
        raise _bad("the graph has no nodes")
    if len(graph) > MAX_NODES:
        raise _bad(f"the graph has {len(graph)} nodes; at most {MAX_NODES}")
    out: Graph = {}
    for node_id, node in graph.items():
        if not isinstance(node, dict):
            raise _bad(f"node {node_id!r} is not an object", node_id)
        cls, inputs = node.get("class_type"), node.get("inputs", {})
        if not isinstance(cls, str) or not cls:
            raise _bad(f"node {node_id!r} has no class_type", node_id)
        if not isinstance(inputs, dict):
            raise _bad(f"node {node_id!r}: inputs must be an object", node_id)
        out[str(node_id)] = {**node, "inputs": dict(inputs)}
    for node_id, node in out.items():
        for name, value in node["inputs"].items():
            if is_link(value):
                if str(value[0]) not in out:
                    raise _bad(
                        f"node {node_id!r} input {name!r} links to node {value[0]!r}, which is not there", node_id
                    )
                node["inputs"][name] = [str(value[0]), value[1]]
    return out


def title(node: dict[str, Any]) -> str | None:
    meta = node.get("_meta")
    value = meta.get("title") if isinstance(meta, dict) else None
    return value if isinstance(value, str) and value.strip() else None


def consumers(graph: Graph, node_id: str) -> list[tuple[str, str]]:
    """``(node id, input name)`` of every input linked to an output of ``node_id``."""
    return [
        (other, name)
        for other, node in graph.items()
        for name, value in node["inputs"].items()
        if is_link(value) and value[0] == node_id
    ]


def find(graph: Graph, ref: str) -> str:
    """A node by id or by its (unique) title."""
    if ref in graph:
        return ref
    titled = [k for k, n in graph.items() if title(n) == ref]
    if len(titled) != 1:
        raise InvalidRequest(
            f"node {ref!r}: {'no node' if not titled else 'several nodes'} with that id or title",
            details={"field": "inputs", "node": ref},
        )
    return titled[0]
