"""OpenAI-compatible routes over GenPulse's tasks: models, images, videos (docs/openai.md)."""

from __future__ import annotations

from fastapi import APIRouter

from genpulse.api.openai import images, models, videos

router = APIRouter()
for _sub in (models.router, images.router, videos.router):
    router.include_router(_sub)
