"""A run's values, filled into a copy of the stored graph: the ``params`` of a ``comfyui`` ``workflow`` task.

Every value is set into each node input its parameter is bound to; image values are not set here but listed
as ``images`` (the comfyui runner uploads each to the chosen server and sets the uploaded name, exactly as for
today's ComfyUI tasks). The task records the workflow's name and version and the values used (a random seed
included), so what ran can be read back, and retried, even after the version is retired.
"""

from __future__ import annotations

import copy
from typing import Any

from genpulse.workflows.models import Workflow


def task_params(workflow: Workflow, values: dict[str, Any]) -> dict[str, Any]:
    graph = copy.deepcopy(workflow.graph)
    images: list[dict[str, str]] = []
    for param in workflow.params:
        if param.name not in values:
            continue
        for target in param.targets:
            if param.type == "image":
                images.append({"node": target.node, "input": target.input, "image": values[param.name]})
            else:
                graph[target.node].setdefault("inputs", {})[target.input] = values[param.name]
    recorded = {k: v for k, v in values.items() if not any(p.name == k and p.type == "image" for p in workflow.params)}
    return {
        "workflow": graph,
        "images": images,
        "workflow_name": workflow.name,
        "workflow_version": workflow.version,
        "values": recorded,
    }
