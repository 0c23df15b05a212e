"""Provider name -> class. Adding a provider is one module and one line here."""

from __future__ import annotations

from genpulse.config import AppArgs
from genpulse.errors import InvalidRequest
from genpulse.pipelines.provider import PipelineProvider
from genpulse.providers.baidu import BaiduProvider
from genpulse.providers.base import Provider
from genpulse.providers.comfyui import ComfyUIProvider
from genpulse.providers.dashscope import DashScopeProvider
from genpulse.providers.diffusers import DiffusersProvider
from genpulse.providers.kling import KlingProvider
from genpulse.providers.minimax import MiniMaxProvider
from genpulse.providers.openai import OpenAIProvider
from genpulse.providers.tencent import TencentProvider
from genpulse.providers.volcengine import VolcengineProvider

PROVIDERS: dict[str, type[Provider]] = {
    DiffusersProvider.name: DiffusersProvider,
    BaiduProvider.name: BaiduProvider,
    ComfyUIProvider.name: ComfyUIProvider,
    DashScopeProvider.name: DashScopeProvider,
    MiniMaxProvider.name: MiniMaxProvider,
    OpenAIProvider.name: OpenAIProvider,
    KlingProvider.name: KlingProvider,
    PipelineProvider.name: PipelineProvider,
    TencentProvider.name: TencentProvider,
    VolcengineProvider.name: VolcengineProvider,
}


class Registry:
    """The providers enabled by config, instantiated once."""

    def __init__(self, args: AppArgs) -> None:
        self._providers = {name: cls(args) for name, cls in PROVIDERS.items() if args.provider(name).enabled}

    def names(self) -> list[str]:
        return sorted(self._providers)

    def get(self, name: str) -> Provider:
        try:
            return self._providers[name]
        except KeyError:
            raise InvalidRequest(
                f"unknown provider {name!r}", details={"field": "provider", "valid": self.names()}
            ) from None

    def all(self) -> list[Provider]:
        return [self._providers[n] for n in self.names()]
