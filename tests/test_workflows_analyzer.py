"""The analyzer on graph shapes the end-to-end tests do not cover: prompts told apart through conditioning nodes,
names disambiguated by title, ``input:`` annotations, primitive nodes, ``/object_info`` parsing, seeds."""

from __future__ import annotations

import copy

import pytest

from genpulse.core.errors import InvalidRequest
from genpulse.workflows.analyzer import derive
from genpulse.workflows.graph import check
from genpulse.workflows.models import Param, Target
from genpulse.workflows.nodes import BUILTIN, from_object_info
from genpulse.workflows.values import input_schema, resolve
from tests.support.workflow_graphs import SD15, node


def names(graph: dict) -> dict[str, list[str]]:
    return {p.name: [f"{t.node}.{t.input}" for t in p.targets] for p in derive(check(graph), BUILTIN)}


def test_prompts_are_told_apart_through_conditioning_nodes() -> None:
    graph = copy.deepcopy(SD15)
    graph["20"] = node("CLIPTextEncode", "Style", text="watercolor", clip=["4", 1])
    graph["21"] = node("ConditioningCombine", "Combine", conditioning_1=["6", 0], conditioning_2=["20", 0])
    graph["22"] = node("ControlNetApplyAdvanced", "ControlNet", strength=1, start_percent=0, end_percent=1,
                       positive=["21", 0], negative=["7", 0])  # fmt: skip
    graph["3"]["inputs"] |= {"positive": ["22", 0], "negative": ["22", 1]}
    found = names(graph)
    assert found["prompt_clip_text_encode_prompt"] == ["6.text"] and found["prompt_style"] == ["20.text"]
    assert found["negative_prompt"] == ["7.text"] and "prompt" not in found


def test_two_of_a_kind_with_one_title_are_named_by_node_id() -> None:
    graph = copy.deepcopy(SD15)
    graph["30"] = node("EmptyLatentImage", "Empty Latent Image", width=768, height=512, batch_size=1)
    found = names(graph)
    assert (
        found["width_5"] == ["5.width"]
        and found["width_30"] == ["30.width"]
        and found["height"] == ["5.height", "30.height"]
    )


def test_annotations_and_primitive_nodes() -> None:
    graph = copy.deepcopy(SD15)
    graph["5"]["_meta"]["title"] = "input:size:width"
    graph["40"] = node("PrimitiveString", "Style Suffix", value="oil painting")
    found = names(graph)
    assert found["size"] == ["5.width"] and "width" not in found and found["style_suffix"] == ["40.value"]
    graph["5"]["_meta"]["title"] = "input:size"  # three literal inputs: which one?
    with pytest.raises(InvalidRequest) as info:
        names(graph)
    assert info.value.details == {"field": "workflow.5"} and "input:<name>:<input>" in info.value.message
    graph["5"]["_meta"]["title"] = "input:size:nope"
    with pytest.raises(InvalidRequest):
        names(graph)


def test_object_info_entries_become_node_specs() -> None:
    spec = from_object_info({
        "name": "Custom",
        "output_node": True,
        "input": {
            "required": {"model": ["MODEL"], "mode": [["a", "b"]], "kind": ["COMBO", {"options": ["x"]}],
                         "seed": ["INT", {"min": 0, "max": 9}], "text": ["STRING", {"multiline": True}]},
            "optional": {"strength": ["FLOAT", {"min": -1.5, "max": 1.5}], "odd": "not a spec"},
        },
    })  # fmt: skip
    assert [w.name for w in spec.widgets] == ["mode", "kind", "seed", "text", "strength"]
    assert spec.widget("mode").options == ("a", "b") and spec.widget("kind").options == ("x",)
    assert spec.widget("seed").control and spec.widget("text").multiline and spec.widget("strength").minimum == -1.5
    assert spec.output == "file"


def test_seeds_are_drawn_within_bounds_and_other_inputs_refuse_random() -> None:
    seed = Param(name="seed", type="integer", targets=[Target(node="3", input="seed")], default=5, minimum=0,
                 maximum=10, random=True)  # fmt: skip
    steps = Param(name="steps", type="integer", targets=[Target(node="3", input="steps")], default=20, minimum=1)
    drawn = resolve([seed, steps], {"seed": "random"}, random_seed=False, draw=lambda p: 7)
    assert drawn == {"seed": 7, "steps": 20}
    assert resolve([seed, steps], {}, random_seed=True, draw=lambda p: 3)["seed"] == 3
    assert resolve([seed, steps], {"seed": 1}, random_seed=True, draw=lambda p: 3)["seed"] == 1  # given wins
    with pytest.raises(InvalidRequest) as info:
        resolve([seed, steps], {"steps": "random", "seed": 11}, random_seed=False, draw=lambda p: 0)
    fields = [d["field"] for d in info.value.details]
    assert fields == ["inputs.seed", "inputs.steps"]  # every problem at once
    schema = input_schema([seed, steps])
    assert schema["properties"]["seed"]["anyOf"][1] == {"const": "random"} and schema["required"] == []


def test_names_never_collide_and_annotations_are_unique() -> None:
    graph = {
        "1": node("CLIPTextEncodeSDXL", "SDXL", text_g="a castle", text_l="stone", width=1024, height=1024, crop_w=0,
                  crop_h=0, target_width=1024, target_height=1024),
        "2": node("PrimitiveString", "input:prompt", value="x"),
        "3": node("SaveImage", "Save", filename_prefix="out", images=["1", 0]),
    }  # fmt: skip
    found = names(graph)
    assert len(found) == len(set(found)) == 3 and found["prompt"] == ["2.value"]
    assert sorted(t for targets in found.values() for t in targets) == ["1.text_g", "1.text_l", "2.value"]
    graph["4"] = node("PrimitiveString", "input:prompt", value="y")
    with pytest.raises(InvalidRequest) as info:
        names(graph)
    assert info.value.details == {"field": "workflow.4"}
