"""Model providers (Strands ``Model`` factories) selectable by name."""

from activities.providers.bedrock import bedrock_model, bedrock_provider
from activities.providers.echo import EchoModel
from activities.providers.errors import ClassifiedModel, classified, is_retryable, terminal_error
from activities.providers.openai import openai_model, openai_provider
from activities.providers.registry import (
    ProviderFactory,
    model_factories,
    provider_names,
    register_provider,
)

__all__ = [
    "ClassifiedModel",
    "EchoModel",
    "ProviderFactory",
    "bedrock_model",
    "bedrock_provider",
    "classified",
    "is_retryable",
    "model_factories",
    "openai_model",
    "openai_provider",
    "provider_names",
    "register_provider",
    "terminal_error",
]
