"""The OpenAPI document types `params` per provider and task type and lists the statuses routes answer."""

from __future__ import annotations

from typing import Any

from genpulse.api.app import create_api
from genpulse.api.openapi_params import param_models, pascal


def _doc() -> dict[str, Any]:
    return create_api().openapi()


def test_submit_body_is_one_typed_request_per_provider_and_task_type() -> None:
    doc = _doc()
    schemas = doc["components"]["schemas"]
    body = doc["paths"]["/v1/tasks"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    refs = {ref["$ref"].rsplit("/", 1)[1] for ref in body["oneOf"]}
    expected = {(p, t) for p, models in param_models().items() for t in models}
    assert len(refs) == len(expected) and ("kling", "text-to-video") in expected
    for provider, task_type in expected:
        name = f"{pascal(provider)}{pascal(task_type)}"
        request = schemas[f"{name}Request"]
        assert f"{name}Request" in refs
        assert request["properties"]["provider"]["const"] == provider
        assert request["properties"]["task_type"]["const"] == task_type
        assert request["properties"]["params"] == {"$ref": f"#/components/schemas/{name}Params"}
        assert request["additionalProperties"] is False and "params" in request["required"]
    width = schemas["DiffusersTextToImageParams"]["properties"]["width"]
    assert (width["minimum"], width["multipleOf"], width["description"]) == (
        64,
        8,
        "Image width in pixels, a multiple of 8.",
    )


def test_nested_models_are_components_and_every_ref_resolves() -> None:
    doc = _doc()
    schemas = doc["components"]["schemas"]

    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
            return own + [r for v in node.values() for r in refs(v)]
        return [r for v in node for r in refs(v)] if isinstance(node, list) else []

    found = refs(doc)
    assert found and all(r.startswith("#/components/schemas/") and r.rsplit("/", 1)[1] in schemas for r in found)
    assert "ComfyuiNodeInput" in schemas and "$defs" not in str(doc)


def test_every_status_a_route_answers_is_documented() -> None:
    paths = _doc()["paths"]
    assert {"200", "202", "409", "422", "503"} <= set(paths["/v1/tasks"]["post"]["responses"])
    assert {"200", "202"} <= set(paths["/v1/tasks/{task_id}/retry"]["post"]["responses"])
    assert "307" in paths["/v1/assets/{asset_id}/content"]["get"]["responses"]
    assert "Retry-After" in paths["/v1/tasks/{task_id}"]["get"]["responses"]["503"]["headers"]
