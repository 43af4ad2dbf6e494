"""Checking a provider's stream before it leaves the model activity.

The workflow decodes the activity's result as ``list[StreamEvent]``. An event that does not
fit Strands' types (a provider bug, a proxy's HTML error page, a stop reason newer than
Strands knows) would fail that decoding in every workflow task and wedge the session. So
every provider's events are validated here, in the activity, where a bad stream becomes an
ordinary failed turn with a clear message.
"""

from collections.abc import AsyncGenerator, AsyncIterable
from typing import Any, TypeVar, get_args

from pydantic import BaseModel, TypeAdapter, ValidationError
from strands.models import Model
from strands.types.content import Messages
from strands.types.event_loop import StopReason
from strands.types.streaming import StreamEvent
from strands.types.tools import ToolSpec
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.providers.cancellation import answer_cancel

T = TypeVar("T", bound=BaseModel)

_STREAM_EVENT: TypeAdapter[StreamEvent] = TypeAdapter(StreamEvent)
KNOWN_STOP_REASONS = frozenset(get_args(StopReason))


def _describe(error: ValidationError) -> str:
    first = error.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or "event"
    return f"{where}: {first['msg']}"


class ValidatedStreamModel(Model):
    """Wraps a provider so that only well-formed, complete streams come out of it."""

    def __init__(self, inner: Model, provider: str, heartbeat_every: float = 0.0) -> None:
        """Validate the events of ``inner``, naming ``provider`` in errors; in a model
        activity, heartbeat every ``heartbeat_every`` seconds (so a cancel reaches it)."""
        self.inner = inner
        self.provider = provider
        self.heartbeat_every = heartbeat_every

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

    async def stream(
        self,
        messages: Messages,
        tool_specs: list[ToolSpec] | None = None,
        system_prompt: str | None = None,
        **kwargs: Any,
    ) -> AsyncIterable[StreamEvent]:
        """The wrapped stream, validated; in a turn nobody watches live, text deltas are
        joined (the activity's result, which history keeps, then reads as one reply text,
        its stop reason and usage instead of one object per word)."""
        validated = self._validated(messages, tool_specs, system_prompt, **kwargs)
        events = answer_cancel(validated, self.heartbeat_every)
        if _streamed_live():
            async for event in events:
                yield event
            return
        async for event in join_text_deltas(events):
            yield event

    async def _validated(
        self,
        messages: Messages,
        tool_specs: list[ToolSpec] | None,
        system_prompt: str | None,
        **kwargs: Any,
    ) -> AsyncIterable[StreamEvent]:
        """Each event checked against Strands' types; a stream must end its message."""
        finished = False
        async for event in self.inner.stream(messages, tool_specs, system_prompt, **kwargs):
            stop = event.get("messageStop") if isinstance(event, dict) else None
            reason = stop.get("stopReason") if isinstance(stop, dict) else None
            if reason is not None and reason not in KNOWN_STOP_REASONS:
                raise ApplicationError(
                    f"{self.provider} stopped with {reason!r}, which this version cannot handle",
                    type="UnsupportedStopReason",
                    non_retryable=True,
                )
            try:
                checked = _STREAM_EVENT.validate_python(event)
            except ValidationError as err:
                raise ApplicationError(
                    f"{self.provider} returned a malformed stream event ({_describe(err)})",
                    type="MalformedModelStream",
                    non_retryable=True,
                ) from None
            finished = finished or "messageStop" in checked
            yield checked
        if not finished:
            # Most likely a cut connection: worth another attempt.
            raise ApplicationError(
                f"{self.provider} ended its stream without finishing the message",
                type="IncompleteModelStream",
            )


def _streamed_live() -> bool:
    """Whether the events go to subscribers as they come (the plugin's streaming activity),
    or only into the activity's result."""
    return not activity.in_activity() or activity.info().activity_type != "invoke_model"


async def join_text_deltas(events: AsyncIterable[StreamEvent]) -> AsyncIterable[StreamEvent]:
    """``events`` with each run of consecutive text deltas joined into one delta."""
    text: list[str] = []
    async for event in events:
        delta = event.get("contentBlockDelta", {}).get("delta", {})
        if set(delta) == {"text"} and set(event) == {"contentBlockDelta"}:
            text.append(str(delta["text"]))
            continue
        if text:
            yield {"contentBlockDelta": {"delta": {"text": "".join(text)}}}
            text = []
        yield event
    if text:
        yield {"contentBlockDelta": {"delta": {"text": "".join(text)}}}
