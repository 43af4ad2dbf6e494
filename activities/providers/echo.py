"""The ``echo`` model: a real Strands provider that answers ``echo: <last user text>``.

Deterministic and free, it streams word by word with an optional per-token delay, so tests,
crash drills and the zero-latency benchmark exercise the full model path.
"""

import asyncio
from collections.abc import AsyncIterable
from typing import Any

from strands.types.content import Messages
from strands.types.streaming import StreamEvent
from strands.types.tools import ToolSpec

from activities.providers.base import ConfiguredModel

ECHO_PREFIX = "echo: "


def last_user_text(messages: Messages) -> str:
    """Return the text of the last user message (all its text blocks joined)."""
    for message in reversed(messages):
        if message.get("role") == "user":
            return "".join(
                str(block["text"]) for block in message.get("content", []) if "text" in block
            )
    return ""


def echo_tokens(text: str) -> list[str]:
    """Split the echo reply into the deltas it streams: words with their following space."""
    reply = ECHO_PREFIX + text
    words = reply.split(" ")
    return [word + " " for word in words[:-1]] + [words[-1]]


def _word_count(messages: Messages) -> int:
    """Whitespace-separated words in every text block: echo's stand-in for input tokens."""
    return sum(
        len(str(block["text"]).split())
        for message in messages
        for block in message.get("content", [])
        if "text" in block
    )


class EchoModel(ConfiguredModel):
    """Streams ``echo: <last user text>`` with ``delay_ms`` between tokens."""

    def __init__(self, delay_ms: float = 0.0) -> None:
        """Create the model; ``delay_ms`` pauses before each streamed token."""
        self.config: dict[str, Any] = {"model_id": "echo", "delay_ms": delay_ms}

    async def stream(
        self,
        messages: Messages,
        tool_specs: list[ToolSpec] | None = None,
        system_prompt: str | None = None,
        **kwargs: Any,
    ) -> AsyncIterable[StreamEvent]:
        """Stream the echo reply as Bedrock-shaped Converse stream events."""
        delay = float(self.config.get("delay_ms", 0.0)) / 1000.0
        prompt = last_user_text(messages)
        tokens = echo_tokens(prompt)
        yield {"messageStart": {"role": "assistant"}}
        yield {"contentBlockStart": {"start": {}}}
        for token in tokens:
            if delay:
                await asyncio.sleep(delay)
            yield {"contentBlockDelta": {"delta": {"text": token}}}
        yield {"contentBlockStop": {}}
        yield {"messageStop": {"stopReason": "end_turn"}}
        input_tokens = _word_count(messages) + len((system_prompt or "").split())
        yield {
            "metadata": {
                "usage": {
                    "inputTokens": input_tokens,
                    "outputTokens": len(tokens),
                    "totalTokens": input_tokens + len(tokens),
                },
                "metrics": {"latencyMs": int(delay * 1000 * len(tokens))},
            }
        }
