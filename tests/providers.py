"""Model providers used only by tests: real Strands ``Model`` subclasses that misbehave.

They run inside the model activity exactly like a production provider would.
"""

import asyncio
import re
from collections.abc import AsyncIterable
from typing import Any

from strands.types.content import Messages
from strands.types.streaming import StreamEvent
from strands.types.tools import ToolSpec

from activities.memory.extract import EXTRACTION_PROMPT
from activities.memory.summary import SUMMARY_PROMPT
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


class FlakyModel(EchoModel):
    """Fails the first N attempts at a prompt containing ``flaky=N``, then echoes.

    Attempts are counted per prompt text in :attr:`attempts` (class level, so every
    instance in the worker process shares it).
    """

    attempts: dict[str, int] = {}

    async def stream(
        self,
        messages: Messages,
        tool_specs: list[ToolSpec] | None = None,
        system_prompt: str | None = None,
        **kwargs: Any,
    ) -> AsyncIterable[StreamEvent]:
        """Count the attempt; fail while it is one of the first N."""
        prompt = last_user_text(messages)
        count = FlakyModel.attempts[prompt] = FlakyModel.attempts.get(prompt, 0) + 1
        wanted = re.search(r"flaky=(\d+)", prompt)
        if wanted is not None and count <= int(wanted.group(1)):
            raise ProviderExplodedError(f"transient failure {count} of {wanted.group(1)}")
        async for event in super().stream(messages, tool_specs, system_prompt, **kwargs):
            yield event


class HangingModel(EchoModel):
    """Never answers a prompt containing ``hang`` (within any sane model timeout); echoes
    otherwise. The activity still heartbeats (the plugin does it), so only the
    start-to-close timeout can catch it."""

    HANG_SECONDS = 300.0
    started: dict[str, int] = {}

    async def stream(
        self,
        messages: Messages,
        tool_specs: list[ToolSpec] | None = None,
        system_prompt: str | None = None,
        **kwargs: Any,
    ) -> AsyncIterable[StreamEvent]:
        """Hang on ``hang`` prompts (after starting a message), else echo."""
        prompt = last_user_text(messages)
        if "hang" in prompt:
            HangingModel.started[prompt] = HangingModel.started.get(prompt, 0) + 1
            yield {"messageStart": {"role": "assistant"}}
            await asyncio.sleep(self.HANG_SECONDS)
        async for event in super().stream(messages, tool_specs, system_prompt, **kwargs):
            yield event


class ExtractionHangingModel(EchoModel):
    """Echoes chat turns, but never finishes a memory-extraction prompt: the model behind
    memory extraction being slower than any sane timeout."""

    HANG_SECONDS = 3600.0
    extractions: int = 0

    async def stream(
        self,
        messages: Messages,
        tool_specs: list[ToolSpec] | None = None,
        system_prompt: str | None = None,
        **kwargs: Any,
    ) -> AsyncIterable[StreamEvent]:
        """Hang on the extraction prompt, else echo."""
        if last_user_text(messages).startswith(EXTRACTION_PROMPT):
            ExtractionHangingModel.extractions += 1
            yield {"messageStart": {"role": "assistant"}}
            await asyncio.sleep(self.HANG_SECONDS)
        async for event in super().stream(messages, tool_specs, system_prompt, **kwargs):
            yield event


# What GarbageModel streams for a prompt containing each key (checked in this order).
GARBAGE_STREAMS: dict[str, list[Any]] = {
    # Not a stream event at all: a bare string, a number, a list.
    "garbage-types": ["<html>502 Bad Gateway</html>", 42, ["messageStart"]],
    # Event-shaped, but the payloads have the wrong types.
    "garbage-shapes": [
        {"messageStart": {"role": "assistant"}},
        {"contentBlockDelta": 7},
        {"messageStop": {"stopReason": "end_turn"}},
    ],
    # Only events Strands does not know, and no messageStop.
    "garbage-unknown": [{"vendorPing": {"n": 1}}, {"somethingElse": None}],
    # A text delta that is not text.
    "garbage-values": [
        {"messageStart": {"role": "assistant"}},
        {"contentBlockStart": {"start": {}}},
        {"contentBlockDelta": {"delta": {"text": {"not": "a string"}}}},
        {"contentBlockStop": {}},
        {"messageStop": {"stopReason": "end_turn"}},
    ],
    # A well-formed answer with a stop reason Strands does not list (Bedrock's Converse API
    # has reasons newer than Strands' StopReason literal, e.g. this one).
    "garbage-stop-reason": [
        {"messageStart": {"role": "assistant"}},
        {"contentBlockStart": {"start": {}}},
        {"contentBlockDelta": {"delta": {"text": "a fine answer"}}},
        {"contentBlockStop": {}},
        {"messageStop": {"stopReason": "model_context_window_exceeded"}},
    ],
}


class GarbageModel(EchoModel):
    """Streams malformed events for prompts naming a :data:`GARBAGE_STREAMS` key; echoes
    otherwise. Counts attempts per prompt in :attr:`attempts`."""

    attempts: dict[str, int] = {}

    async def stream(
        self,
        messages: Messages,
        tool_specs: list[ToolSpec] | None = None,
        system_prompt: str | None = None,
        **kwargs: Any,
    ) -> AsyncIterable[StreamEvent]:
        """Yield the garbage for this prompt, or echo."""
        prompt = last_user_text(messages)
        for key, events in GARBAGE_STREAMS.items():
            if key in prompt:
                GarbageModel.attempts[prompt] = GarbageModel.attempts.get(prompt, 0) + 1
                for event in events:
                    yield event
                return
        async for event in super().stream(messages, tool_specs, system_prompt, **kwargs):
            yield event


class SummaryModel(EchoModel):
    """Echo for turns; for a summary request, a short numbered summary naming the last
    message it was given, or a failure while :attr:`failing` is set."""

    failing = False
    written = 0

    async def stream(
        self,
        messages: Messages,
        tool_specs: list[ToolSpec] | None = None,
        system_prompt: str | None = None,
        **kwargs: Any,
    ) -> AsyncIterable[StreamEvent]:
        """Summarise (or fail) summary requests; echo everything else."""
        prompt = last_user_text(messages)
        if not prompt.startswith(SUMMARY_PROMPT):
            async for event in super().stream(messages, tool_specs, system_prompt, **kwargs):
                yield event
            return
        if SummaryModel.failing:
            raise ProviderExplodedError("summary provider exploded on purpose")
        SummaryModel.written += 1
        new = prompt.split("New messages:\n", 1)[-1].split("\n\nUpdated summary:")[0]
        text = f"- summary {SummaryModel.written}, last: {new.splitlines()[-1][:60]}"
        yield {"messageStart": {"role": "assistant"}}
        yield {"contentBlockDelta": {"delta": {"text": text}}}
        yield {"messageStop": {"stopReason": "end_turn"}}


TEST_PROVIDERS: dict[str, ProviderFactory] = {
    "failing": lambda settings: FailingModel(),
    "recording": lambda settings: RecordingModel(),
    "slow-echo": lambda settings: EchoModel(delay_ms=50),
    "flaky": lambda settings: FlakyModel(),
    "hanging": lambda settings: HangingModel(),
    "garbage": lambda settings: GarbageModel(),
    "extraction-hangs": lambda settings: ExtractionHangingModel(),
    "summary-model": lambda settings: SummaryModel(),
}
