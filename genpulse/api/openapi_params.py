"""The OpenAPI document, made as strict as the API: typed `params` per provider and task type, every status.

FastAPI documents `POST /v1/tasks` from ``TaskRequest``, whose ``params`` is a free-form object (each provider
validates it). ``install`` post-processes the generated document, once, when it is first asked for:

- every provider's params model for each task type becomes a component (``<Provider><TaskType>Params``), with
  its nested models prefixed by the provider (``<Provider><Model>``); limits are the default config's, the live
  ones are at ``GET /meta/schemas/{provider}``;
- the submit body becomes a ``oneOf`` of one request schema per (provider, task type)
  (``<Provider><TaskType>Request``: ``provider`` and ``task_type`` are constants, ``params`` is typed), so
  generated clients get a union discriminated by those two fields;
- statuses the routes answer besides their default one are added (``200`` on a finished or replayed submit or
  retry, ``307`` to a presigned URL, ``Retry-After`` on ``429``/``503``). Nothing is removed.

Clients generate their request types from this (``clients/typescript``, ``clients/java``).
"""

from __future__ import annotations

import copy
import json
from typing import Any

from fastapi import FastAPI

Doc = dict[str, Any]
_REF = "#/components/schemas/"
_NESTED = "__genpulse_nested__"


def install(app: FastAPI) -> None:
    """Make ``app.openapi()`` return the typed document (built once, then cached like FastAPI's own)."""
    generate = app.openapi

    def openapi() -> Doc:
        if app.openapi_schema is None:
            doc = generate()
            add_typed_params(doc)
            add_statuses(doc)
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def pascal(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.replace("_", "-").split("-"))


def param_models() -> dict[str, dict[str, Any]]:
    """provider → task type → params model, for every registered provider, with the default config's limits."""
    from genpulse.core.config import AppArgs
    from genpulse.providers.registry import ENTRIES

    args = AppArgs.load({})
    return {name: entry.provider(args).param_models() for name, entry in sorted(ENTRIES.items())}


def add_typed_params(doc: Doc) -> None:
    schemas: Doc = doc["components"]["schemas"]
    generic = schemas["TaskRequest"]
    requests: list[Doc] = []
    for provider, models in param_models().items():
        for task_type, model in sorted(models.items()):
            name = f"{pascal(provider)}{pascal(task_type)}"
            _add_schema(schemas, f"{name}Params", _component(model, provider, schemas), provider, task_type)
            schemas[f"{name}Request"] = _request(generic, provider, task_type, f"{name}Params")
            requests.append({"$ref": f"{_REF}{name}Request"})
    body = doc["paths"]["/v1/tasks"]["post"]["requestBody"]["content"]["application/json"]
    body["schema"] = {"oneOf": requests, "title": "Submit request"}


def _component(model: Any, provider: str, schemas: Doc) -> Doc:
    """The model's JSON Schema with its ``$defs`` hoisted into ``schemas`` under ``<Provider><Def>`` names."""
    schema = model.model_json_schema(ref_template=_NESTED + "{model}")
    prefix = pascal(provider)
    text = json.dumps(schema).replace(f'"{_NESTED}', f'"{_REF}{prefix}')
    schema = json.loads(text)
    for def_name, nested in schema.pop("$defs", {}).items():
        _add_schema(schemas, f"{prefix}{def_name}", nested, provider, None)
    return schema


def _add_schema(schemas: Doc, name: str, schema: Doc, provider: str, task_type: str | None) -> None:
    if name in schemas and schemas[name] != schema:
        raise RuntimeError(f"OpenAPI component {name!r} of provider {provider!r} clashes with another schema")
    if task_type is not None:
        schema = {**schema, "title": name}
        note = f"`params` of provider `{provider}`, task type `{task_type}`."
        schema["description"] = f"{note} {schema['description']}" if schema.get("description") else note
    schemas[name] = schema


def _request(generic: Doc, provider: str, task_type: str, params: str) -> Doc:
    request = copy.deepcopy(generic)
    props = request["properties"]
    props["provider"] = {**props["provider"], "const": provider, "enum": [provider]}
    props["task_type"] = {**props["task_type"], "const": task_type, "enum": [task_type]}
    props["provider"].pop("examples", None)
    props["task_type"].pop("examples", None)
    props["params"] = {"$ref": f"{_REF}{params}"}
    request["required"] = sorted({*request.get("required", []), "provider", "task_type", "params"})
    request["title"] = f"{pascal(provider)}{pascal(task_type)}Request"
    request["description"] = f"Submit a `{task_type}` task to `{provider}`."
    return request


_TASK = {"application/json": {"schema": {"$ref": f"{_REF}TaskPublic"}}}
_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before trying again.", "schema": {"type": "integer"}}}
_EXTRA: dict[tuple[str, str], dict[str, Doc]] = {
    ("post", "/v1/tasks"): {
        "200": {
            "description": "The task had finished (`Prefer: wait=N`), or an idempotent replay (`Idempotent-"
            "Replayed: true`)",
            "content": _TASK,
        }
    },
    ("post", "/v1/tasks/{task_id}/retry"): {
        "200": {"description": "A replay of the same retry (`Idempotent-Replayed: true`)", "content": _TASK}
    },
    ("get", "/v1/assets/{asset_id}/content"): {
        "307": {"description": "Redirect to a short-lived presigned URL (S3 storage)"}
    },
}


def add_statuses(doc: Doc) -> None:
    for (method, path), extra in _EXTRA.items():
        responses = doc["paths"][path][method]["responses"]
        for status, response in extra.items():
            responses.setdefault(status, copy.deepcopy(response))
    for ops in doc["paths"].values():
        for op in ops.values():
            for status in ("429", "503"):
                if status in op.get("responses", {}):
                    op["responses"][status].setdefault("headers", copy.deepcopy(_RETRY_AFTER))
