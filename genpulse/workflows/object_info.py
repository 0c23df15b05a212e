"""Node facts for the analyzer: a configured ComfyUI server's ``GET /object_info``, else the built-in table.

The servers are the workflow provider's (``workflows.provider``, from config only); the first that answers is
used and its reply is kept ``workflows.object_info_ttl_s``. When one answers, its classes are the truth: a graph
with a class it does not know is refused at upload. When none answers, ``nodes.BUILTIN`` is used and unknown
classes pass (their inputs are simply not exposed unless annotated).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import httpx

from genpulse.workflows.nodes import BUILTIN, NodeSpec, from_object_info


@dataclass(frozen=True)
class Catalog:
    specs: dict[str, NodeSpec]
    from_server: bool

    def unknown(self, classes: set[str]) -> list[str]:
        """Classes the server does not know (none when the facts are the built-in table)."""
        return sorted(c for c in classes if c not in self.specs) if self.from_server else []


BUILTIN_CATALOG = Catalog(BUILTIN, from_server=False)


def parse(reply: Any) -> dict[str, NodeSpec] | None:
    if not isinstance(reply, dict) or not reply:
        return None
    return {str(cls): from_object_info({**info, "name": cls}) for cls, info in reply.items() if isinstance(info, dict)}


class NodeFacts:
    """``catalog()``: the facts to analyze with now (cached per server list)."""

    def __init__(self, servers: list[str], timeout_s: float, ttl_s: float) -> None:
        self.servers, self.timeout_s, self.ttl_s = servers, min(timeout_s, 10.0), ttl_s
        self._cached: tuple[float, Catalog] | None = None

    async def catalog(self) -> Catalog:
        if self._cached is not None and self._cached[0] > time.monotonic():
            return self._cached[1]
        catalog = await self._fetch()
        if catalog.from_server:
            self._cached = (time.monotonic() + self.ttl_s, catalog)
        return catalog

    async def _fetch(self) -> Catalog:
        """Every server asked at once (an upload waits one timeout at most); the first in config order wins."""
        async with httpx.AsyncClient(timeout=self.timeout_s) as client:

            async def ask(server: str) -> dict[str, NodeSpec] | None:
                try:
                    response = await client.get(f"{server}/object_info")
                    return parse(response.json()) if response.is_success else None
                except (httpx.HTTPError, ValueError):
                    return None

            answers = await asyncio.gather(*(ask(s) for s in self.servers))
        specs = next((a for a in answers if a), None)
        return Catalog(specs, from_server=True) if specs else BUILTIN_CATALOG
