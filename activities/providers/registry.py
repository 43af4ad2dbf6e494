"""One registry of model providers: name -> factory building a Strands ``Model``.

The worker turns it into ``StrandsPlugin(models=...)``; a session names its provider in
``SessionConfig.model``. New providers plug in with :func:`register_provider`.
"""

from collections.abc import Callable

from strands.models import Model

from activities.providers.bedrock import bedrock_provider
from activities.providers.budget import BudgetedModel
from activities.providers.echo import EchoModel
from activities.providers.local import local_model
from activities.providers.openai import openai_provider
from activities.providers.validation import ValidatedStreamModel
from models.settings import Settings

ProviderFactory = Callable[[Settings], Model]

_PROVIDERS: dict[str, ProviderFactory] = {}


def register_provider(name: str, factory: ProviderFactory) -> None:
    """Register (or replace) the provider called ``name``."""
    _PROVIDERS[name] = factory


def provider_names() -> list[str]:
    """Names of every registered provider, sorted."""
    return sorted(_PROVIDERS)


def model_factories(
    settings: Settings, extra: dict[str, ProviderFactory] | None = None
) -> dict[str, Callable[[], Model]]:
    """Zero-argument factories for ``StrandsPlugin(models=...)``, bound to ``settings``.

    ``extra`` adds providers for this worker only (tests use it for failing providers).
    Factories are called lazily by the plugin, once per worker process.
    """
    providers = {**_PROVIDERS, **(extra or {})}

    def bind(name: str, factory: ProviderFactory) -> Callable[[], Model]:
        every = settings.providers.cancel_check_seconds
        return lambda: ValidatedStreamModel(
            BudgetedModel(factory(settings)), name, heartbeat_every=every
        )

    return {name: bind(name, factory) for name, factory in providers.items()}


register_provider("echo", lambda settings: EchoModel(delay_ms=settings.providers.echo_delay_ms))
register_provider("local", local_model)
register_provider("bedrock", bedrock_provider)  # classified: terminal errors not retried
register_provider("openai", openai_provider)  # classified: terminal errors not retried
