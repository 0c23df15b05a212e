"""`GET /v1/models` and `GET /v1/models/{id}`: the aliases the caller may use, in OpenAI's list shape."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel

from genpulse.api.caller import Caller
from genpulse.api.openai import catalog
from genpulse.api.openai.errors import OpenAIRoute
from genpulse.api.routes import service_of

router = APIRouter(tags=["openai"], route_class=OpenAIRoute)


class ModelObject(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelObject]


@router.get("/v1/models", response_model=ModelList)
async def list_models(request: Request, caller: Caller) -> ModelList:
    """Model aliases this key may use (`owned_by`: the provider)."""
    svc = service_of(request)
    return ModelList(data=[ModelObject(**m.describe()) for m in catalog.usable(svc.args, svc.registry, caller)])


@router.get("/v1/models/{model_id}", response_model=ModelObject)
async def get_model(model_id: str, request: Request, caller: Caller) -> ModelObject:
    """One alias; `404` `model_not_found` when it is unknown or not this key's."""
    svc = service_of(request)
    return ModelObject(**catalog.resolve(model_id, svc.args, svc.registry, caller).describe())
