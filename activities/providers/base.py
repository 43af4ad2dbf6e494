"""What our own providers (echo, local) share: settings in a dict, no structured output."""

from collections.abc import AsyncGenerator
from typing import Any, TypeVar

from pydantic import BaseModel
from strands.models import Model
from strands.types.content import Messages

T = TypeVar("T", bound=BaseModel)


class ConfiguredModel(Model):
    """A Strands provider whose settings live in ``self.config``; subclasses add ``stream``."""

    config: dict[str, Any]

    def update_config(self, **model_config: Any) -> None:
        """Update settings."""
        self.config.update(model_config)

    def get_config(self) -> dict[str, Any]:
        """The provider's settings."""
        return self.config

    def structured_output(
        self,
        output_model: type[T],
        prompt: Messages,
        system_prompt: str | None = None,
        **kwargs: Any,
    ) -> AsyncGenerator[dict[str, T | Any], None]:
        """Not supported: these providers produce text only."""
        raise NotImplementedError(f"{type(self).__name__} does not produce structured output")


class DelegatingModel(Model):
    """A wrapper around another provider: configuration and structured output go to it
    unchanged; subclasses add what they wrap (validation, budgets) around ``stream``."""

    def __init__(self, inner: Model) -> None:
        """Wrap ``inner``."""
        self.inner = inner

    def update_config(self, **model_config: Any) -> None:
        """Configure the wrapped provider."""
        self.inner.update_config(**model_config)

    def get_config(self) -> Any:
        """The wrapped provider's configuration."""
        return self.inner.get_config()

    def structured_output(
        self,
        output_model: type[T],
        prompt: Messages,
        system_prompt: str | None = None,
        **kwargs: Any,
    ) -> AsyncGenerator[dict[str, T | Any], None]:
        """Delegated unchanged."""
        return self.inner.structured_output(output_model, prompt, system_prompt, **kwargs)
