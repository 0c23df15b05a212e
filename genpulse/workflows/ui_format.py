"""The UI-format workflow (what ComfyUI saves by default) → API format, without a browser, or a clear 422.

UI format: ``{"nodes": [{id, type, mode, title?, inputs: [{name, link, widget?}], outputs, widgets_values}],
"links": [[id, origin id, origin slot, target id, target slot, type], ...]}`` (links may also be objects). A
node's ``widgets_values`` are positional: their names come from the server's ``/object_info`` when one answers,
else from the node's own widget inputs (recent frontends list them all) or the built-in table; a numeric widget
may be followed by its "control after generate" value (``randomize``, ``fixed``, ...), which is skipped.
Frontend-only nodes go: notes, reroutes (followed), primitive nodes (their value is set into each target),
muted nodes (mode 2) and bypassed ones (mode 4: a consumer is linked to the bypassed node's input of the same type).
Group nodes and subgraphs, and classes nothing here knows, cannot be converted: export with "Save (API)".
"""

from __future__ import annotations

from typing import Any

from genpulse.core.errors import InvalidRequest
from genpulse.workflows.graph import Graph
from genpulse.workflows.nodes import UI_ONLY, NodeSpec
from genpulse.workflows.object_info import Catalog

CONTROL_VALUES = frozenset({"fixed", "increment", "decrement", "randomize"})
MUTED, BYPASSED = 2, 4
_EXPORT = 'export it with "Save (API)" (Workflow > Export (API)) instead'


def is_ui_format(doc: dict[str, Any]) -> bool:
    return isinstance(doc.get("nodes"), list) and "links" in doc


def _refuse(message: str, **details: Any) -> InvalidRequest:
    return InvalidRequest(f"workflow (UI format): {message}", details={"field": "workflow", **details})


def _links(doc: dict[str, Any]) -> dict[Any, tuple[Any, int]]:
    out: dict[Any, tuple[Any, int]] = {}
    for link in doc.get("links") or []:
        if isinstance(link, list) and len(link) >= 3:
            out[link[0]] = (link[1], int(link[2]))
        elif isinstance(link, dict) and "id" in link:
            out[link["id"]] = (link.get("origin_id"), int(link.get("origin_slot") or 0))
    return out


class _Converter:
    def __init__(self, doc: dict[str, Any], catalog: Catalog) -> None:
        self.nodes = {n["id"]: n for n in doc["nodes"] if isinstance(n, dict) and "id" in n and "type" in n}
        if len(self.nodes) != len(doc["nodes"]):
            raise _refuse("every node needs an id and a type")
        self.links, self.catalog = _links(doc), catalog
        subgraphs = (doc.get("definitions") or {}).get("subgraphs") or []
        self.subgraph_ids = {s.get("id") for s in subgraphs if isinstance(s, dict)}

    def source(self, link_id: Any, depth: int = 0) -> tuple[str, Any] | None:
        """``("link", [node id, slot])``, ``("value", v)`` for a primitive node, or None (a muted source)."""
        if link_id is None or link_id not in self.links or depth > 50:
            return None
        origin_id, slot = self.links[link_id]
        origin = self.nodes.get(origin_id)
        if origin is None or origin.get("mode") == MUTED:
            return None
        if origin["type"] == "Reroute" or origin.get("mode") == BYPASSED:
            outputs = origin.get("outputs") or []
            kind = outputs[slot].get("type") if slot < len(outputs) and isinstance(outputs[slot], dict) else None
            inputs = [i for i in origin.get("inputs") or [] if i.get("link") is not None]
            same = [i for i in inputs if origin["type"] == "Reroute" or i.get("type") == kind]
            return self.source(same[0]["link"], depth + 1) if same else None
        if origin["type"] == "PrimitiveNode":
            values = origin.get("widgets_values") or [None]
            return "value", values[0] if isinstance(values, list) else None
        return "link", [str(origin_id), slot]

    def widget_names(self, node: dict[str, Any]) -> list[tuple[str, bool]] | None:
        """``(name, numeric)`` per widget value, in order; None when nothing here knows them."""
        spec: NodeSpec | None = self.catalog.specs.get(node["type"])
        own = [i["widget"]["name"] for i in node.get("inputs") or [] if isinstance(i.get("widget"), dict)]
        if spec is not None and (self.catalog.from_server or not set(w.name for w in spec.widgets) <= set(own)):
            return [(w.name, w.type in ("INT", "FLOAT")) for w in spec.widgets]
        if own:
            types = {i["widget"]["name"]: i.get("type") for i in node["inputs"] if isinstance(i.get("widget"), dict)}
            return [(name, types.get(name) in ("INT", "FLOAT")) for name in own]
        return None

    def node(self, node: dict[str, Any]) -> dict[str, Any] | None:
        values = node.get("widgets_values")
        inputs: dict[str, Any] = {}
        if values:
            names = self.widget_names(node)
            if names is None:
                return None
            if isinstance(values, dict):  # e.g. VHS_VideoCombine keeps its widgets by name
                inputs.update({n: values[n] for n, _ in names if n in values})
            else:
                i = 0
                for name, numeric in names:
                    if i >= len(values):
                        break
                    inputs[name], i = values[i], i + 1
                    if i < len(values) and values[i] in CONTROL_VALUES and (numeric or isinstance(inputs[name], int)):
                        i += 1  # the "control after generate" widget
        for slot in node.get("inputs") or []:
            if not isinstance(slot, dict) or slot.get("link") is None:
                continue
            found = self.source(slot["link"])
            if found is None:
                inputs.pop(slot.get("name"), None)
            else:
                inputs[str(slot.get("name"))] = found[1]
        return {"class_type": node["type"], "inputs": inputs, "_meta": {"title": node.get("title") or node["type"]}}

    def convert(self) -> Graph:
        graph: Graph = {}
        unknown: set[str] = set()
        for node_id, node in self.nodes.items():
            if node["type"] in UI_ONLY or node.get("mode") in (MUTED, BYPASSED):
                continue
            if node["type"] in self.subgraph_ids or str(node["type"]).startswith(("workflow>", "workflow/")):
                raise _refuse(f"node {node_id} is a subgraph or group node, which cannot be converted here; {_EXPORT}")
            converted = self.node(node)
            if converted is None:
                unknown.add(node["type"])
            else:
                graph[str(node_id)] = converted
        if unknown:
            raise _refuse(
                f"cannot name the widget values of {', '.join(sorted(unknown))} without a ComfyUI server that knows "
                f"them; configure one, or {_EXPORT}",
                unknown=sorted(unknown),
            )
        return graph


def convert(doc: dict[str, Any], catalog: Catalog) -> Graph:
    """API format of a UI-format ``doc``, or ``InvalidRequest`` saying why not."""
    try:
        return _Converter(doc, catalog).convert()
    except (TypeError, KeyError, ValueError, AttributeError, IndexError) as exc:
        raise _refuse(f"not a workflow ComfyUI saved ({type(exc).__name__}: {exc}); {_EXPORT}") from None
