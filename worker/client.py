"""Building the Temporal client every Convoflow process uses (worker, CLI, gateway, tests)."""

from collections.abc import Callable

from strands.models import Model
from temporalio.client import Client
from temporalio.strands_agents import StrandsPlugin

from activities.providers import ProviderFactory, model_factories
from models.settings import Settings


def strands_plugin(
    settings: Settings, extra_providers: dict[str, ProviderFactory] | None = None
) -> StrandsPlugin:
    """The Strands plugin with every registered provider bound to ``settings``.

    It also installs the pydantic payload converter and Strands' failure converter, which
    is why no ``data_converter`` is passed anywhere (DESIGN §6.1).
    """
    models: dict[str, Callable[[], Model]] = model_factories(settings, extra_providers)
    return StrandsPlugin(models=models)


async def connect_client(
    settings: Settings, extra_providers: dict[str, ProviderFactory] | None = None
) -> Client:
    """Connect to Temporal with the Strands plugin on the client (workers inherit it)."""
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.namespace,
        plugins=[strands_plugin(settings, extra_providers)],
    )
