"""Providers: the registry, the base contract and one module per provider."""

from genpulse.providers.base import Provider
from genpulse.providers.registry import PROVIDERS, Registry

__all__ = ["PROVIDERS", "Provider", "Registry"]
