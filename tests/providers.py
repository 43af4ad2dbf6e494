"""Model providers used only by tests: real Strands ``Model`` subclasses that misbehave.

They run inside the model activity exactly like a production provider would.
"""

from collections.abc import AsyncIterable
from typing import Any

from strands.types.content import Messages
from strands.types.streaming import StreamEvent
from strands.types.tools import ToolSpec

from activities.providers import EchoModel, ProviderFactory
from activities.providers.echo import last_user_text


class ProviderExplodedError(RuntimeError):
    """Raised by :class:`FailingModel`."""


class FailingModel(EchoModel):
    """Raises for any prompt containing ``fail``; echoes otherwise."""

    async def stream(
        self,
        messages: Messages,
        tool_specs: list[ToolSpec] | None = None,
        system_prompt: str | None = None,
        **kwargs: Any,
    ) -> AsyncIterable[StreamEvent]:
        """Fail on ``fail`` prompts, else behave like echo."""
        if "fail" in last_user_text(messages):
            raise ProviderExplodedError("provider exploded on purpose")
        async for event in super().stream(messages, tool_specs, system_prompt, **kwargs):
            yield event


class RecordingModel(EchoModel):
    """Echo that remembers every request it got, so tests can assert on the model's input."""

    requests: list[dict[str, Any]] = []

    async def stream(
        self,
        messages: Messages,
        tool_specs: list[ToolSpec] | None = None,
        system_prompt: str | None = None,
        **kwargs: Any,
    ) -> AsyncIterable[StreamEvent]:
        """Record the request, then echo."""
        RecordingModel.requests.append(
            {"messages": [dict(m) for m in messages], "system_prompt": system_prompt}
        )
        async for event in super().stream(messages, tool_specs, system_prompt, **kwargs):
            yield event


TEST_PROVIDERS: dict[str, ProviderFactory] = {
    "failing": lambda settings: FailingModel(),
    "recording": lambda settings: RecordingModel(),
    "slow-echo": lambda settings: EchoModel(delay_ms=50),
}
