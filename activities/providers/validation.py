"""Checking a provider's stream before it leaves the model activity.

The workflow decodes the activity's result as ``list[StreamEvent]``. An event that does not
fit Strands' types (a provider bug, a proxy's HTML error page, a stop reason newer than
Strands knows) would fail that decoding in every workflow task and wedge the session. So
every provider's events are validated here, in the activity, where a bad stream becomes an
ordinary failed turn with a clear message.
"""

from collections.abc import AsyncIterable
from typing import Any, TypeVar, cast, get_args

from pydantic import BaseModel, TypeAdapter, ValidationError
from strands.models import Model
from strands.types.content import Messages
from strands.types.event_loop import StopReason
from strands.types.streaming import StreamEvent
from strands.types.tools import ToolSpec
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.providers.base import DelegatingModel
from activities.providers.cancellation import answer_cancel

T = TypeVar("T", bound=BaseModel)

_STREAM_EVENT: TypeAdapter[StreamEvent] = TypeAdapter(StreamEvent)
KNOWN_STOP_REASONS = frozenset(get_args(StopReason))


def _describe(error: ValidationError) -> str:
    first = error.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or "event"
    return f"{where}: {first['msg']}"


class ValidatedStreamModel(DelegatingModel):
    """Wraps a provider so that only well-formed, complete streams come out of it."""

    def __init__(self, inner: Model, provider: str, heartbeat_every: float = 0.0) -> None:
        """Validate the events of ``inner``, naming ``provider`` in errors; in a model
        activity, heartbeat every ``heartbeat_every`` seconds (so a cancel reaches it)."""
        super().__init__(inner)
        self.provider = provider
        self.heartbeat_every = heartbeat_every

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


def _joinable(event: StreamEvent) -> tuple[str, Any] | None:
    """``("text" | "toolUse", block index)`` for a delta that only adds text or tool input."""
    if set(event) != {"contentBlockDelta"}:
        return None
    block = event["contentBlockDelta"]
    delta: dict[str, Any] = dict(block.get("delta", {}))
    index = block.get("contentBlockIndex")
    if set(delta) == {"text"}:
        return "text", index
    if set(delta) == {"toolUse"} and set(delta["toolUse"]) == {"input"}:
        return "toolUse", index
    return None


def _joined(kind: str, index: Any, parts: list[str]) -> StreamEvent:
    text = "".join(parts)
    delta: dict[str, Any] = {"text": text} if kind == "text" else {"toolUse": {"input": text}}
    block: dict[str, Any] = {"delta": delta}
    if index is not None:
        block["contentBlockIndex"] = index
    return cast(StreamEvent, {"contentBlockDelta": block})


async def join_text_deltas(events: AsyncIterable[StreamEvent]) -> AsyncIterable[StreamEvent]:
    """``events`` with each run of consecutive text deltas joined into one delta, and each
    run of a tool call's input deltas too (Strands concatenates them the same way)."""
    run: tuple[str, Any] | None = None
    parts: list[str] = []
    async for event in events:
        key = _joinable(event)
        if key is not None and key == run:
            parts.append(_delta_text(event))
            continue
        if run is not None:
            yield _joined(*run, parts)
        if key is not None:
            run, parts = key, [_delta_text(event)]
            continue
        run, parts = None, []
        yield event
    if run is not None:
        yield _joined(*run, parts)


def _delta_text(event: StreamEvent) -> str:
    delta: dict[str, Any] = dict(event["contentBlockDelta"]["delta"])
    return str(delta["text"] if "text" in delta else delta["toolUse"]["input"])
