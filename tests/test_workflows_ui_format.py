"""UI-format workflows (what ComfyUI saves by default) → API format without a browser, or a 422 saying why not."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from genpulse.core.errors import InvalidRequest
from genpulse.workflows.object_info import BUILTIN_CATALOG, Catalog, parse
from genpulse.workflows.ui_format import convert, is_ui_format
from tests.support.workflow_graphs import SD15, SD15_UI
from tests.vendors.comfyui_object_info import object_info

SERVER = Catalog(parse(object_info(["v1-5-pruned-emaonly.safetensors"], ["example.png"])) or {}, from_server=True)
EXPECTED = copy.deepcopy(SD15)
EXPECTED["3"]["inputs"]["steps"] = 12  # from the primitive node
for node_id, title in {"3": "KSampler", "4": "CheckpointLoaderSimple", "5": "EmptyLatentImage", "6": "Positive",
                       "7": "Negative", "8": "VAEDecode", "9": "SaveImage"}.items():  # fmt: skip
    EXPECTED[node_id]["_meta"]["title"] = title


def ui_node(id_: int, cls: str, widgets: Any, inputs: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"id": id_, "type": cls, "mode": 0, "inputs": inputs, "outputs": [], "widgets_values": widgets, **extra}


@pytest.mark.parametrize("catalog", [BUILTIN_CATALOG, SERVER], ids=["builtin", "object_info"])
def test_the_default_graph_converts_as_save_api_would(catalog: Catalog) -> None:
    assert is_ui_format(SD15_UI) and not is_ui_format(SD15)
    assert convert(SD15_UI, catalog) == EXPECTED


def test_widgets_listed_as_inputs_name_the_values_of_a_class_nothing_else_knows() -> None:
    doc = copy.deepcopy(SD15_UI)
    widgets = [
        {"name": n, "type": t, "link": None, "widget": {"name": n}} for n, t in (("scale", "FLOAT"), ("mode", "COMBO"))
    ]
    doc["nodes"].append(ui_node(20, "MyUpscale", [1.5, "lanczos"], widgets))
    assert convert(doc, BUILTIN_CATALOG)["20"]["inputs"] == {"scale": 1.5, "mode": "lanczos"}
    doc["nodes"][-1]["inputs"] = []  # an older frontend: nothing names them
    with pytest.raises(InvalidRequest) as info:
        convert(doc, BUILTIN_CATALOG)
    assert "MyUpscale" in info.value.message and "Save (API)" in info.value.message
    assert info.value.details == {"field": "workflow", "unknown": ["MyUpscale"]}


def test_muted_and_bypassed_nodes() -> None:
    doc = copy.deepcopy(SD15_UI)
    lora = ui_node(13, "LoraLoader", ["detail.safetensors", 0.8, 0.8],
                   [{"name": "model", "type": "MODEL", "link": 20}, {"name": "clip", "type": "CLIP", "link": 21}],
                   mode=4, outputs=[{"name": "MODEL", "type": "MODEL"}, {"name": "CLIP", "type": "CLIP"}])  # fmt: skip
    doc["nodes"].append(lora)
    doc["nodes"].append(ui_node(14, "PreviewImage", [], [{"name": "images", "type": "IMAGE", "link": 23}], mode=2))
    doc["links"] = [link for link in doc["links"] if link[0] != 1]
    doc["links"] += [[20, 4, 0, 13, 0, "MODEL"], [21, 4, 1, 13, 1, "CLIP"], [22, 13, 0, 3, 0, "MODEL"],
                     [23, 8, 0, 14, 0, "IMAGE"]]  # fmt: skip
    doc["nodes"][0]["inputs"][0]["link"] = 22  # KSampler.model comes through the bypassed LoRA
    graph = convert(doc, BUILTIN_CATALOG)
    assert "13" not in graph and "14" not in graph
    assert graph["3"]["inputs"]["model"] == ["4", 0]


def test_dict_widget_values_are_taken_by_name() -> None:
    doc = copy.deepcopy(SD15_UI)
    values = {"frame_rate": 12, "loop_count": 0, "filename_prefix": "clip", "format": "video/h264-mp4",
              "pingpong": False, "save_output": True, "videopreview": {"hidden": False}}  # fmt: skip
    doc["nodes"].append(ui_node(30, "VHS_VideoCombine", values, [{"name": "images", "type": "IMAGE", "link": 9}]))
    inputs = convert(doc, BUILTIN_CATALOG)["30"]["inputs"]
    assert inputs["frame_rate"] == 12 and inputs["images"] == ["8", 0] and "videopreview" not in inputs


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda d: d.update(definitions={"subgraphs": [{"id": "sub-1"}]}) or d["nodes"].append(
            ui_node(40, "sub-1", [], [])), "subgraph"),
        (lambda d: d["nodes"].append(ui_node(41, "workflow>Upscale", [], [])), "group node"),
        (lambda d: d.update(nodes=[1, 2]), "every node needs an id and a type"),
        (lambda d: d["nodes"][0].update(widgets_values=7), "not a workflow ComfyUI saved"),
    ],
)  # fmt: skip
def test_what_cannot_be_converted_is_a_422(change: Any, words: str) -> None:
    doc = copy.deepcopy(SD15_UI)
    change(doc)
    with pytest.raises(InvalidRequest) as info:
        convert(doc, BUILTIN_CATALOG)
    assert info.value.status_code == 422 and words in info.value.message
