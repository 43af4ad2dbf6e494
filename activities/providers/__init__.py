"""Model providers (Strands ``Model`` factories) selectable by name."""

from activities.providers.echo import EchoModel
from activities.providers.registry import (
    ProviderFactory,
    model_factories,
    provider_names,
    register_provider,
)

__all__ = [
    "EchoModel",
    "ProviderFactory",
    "model_factories",
    "provider_names",
    "register_provider",
]
