"""The ``echo`` model: a real Strands provider that answers ``echo: <last user text>``.

Deterministic and free, it streams word by word with an optional per-token delay, so tests,
crash drills and the zero-latency benchmark exercise the full model path.

Tool mode, for tests and demos: a message made of lines ``/tool NAME {json}`` makes echo
call those tools, one per model round, each a real Strands ``toolUse`` (input ``{}`` when no
JSON is given); a line ending in `` &`` asks for its call in the same round as the next
line's (several ``toolUse`` blocks in one reply, as real models do). Once every result is
back it answers ``echo: <tool result text>`` (several results joined by `` | ``). A message
not starting with ``/tool `` is echoed as always.
"""

import asyncio
import hashlib
import json
from collections.abc import AsyncIterable, Mapping
from typing import Any

from strands.types.content import Messages
from strands.types.streaming import StreamEvent
from strands.types.tools import ToolSpec

from activities.providers.base import ConfiguredModel

ECHO_PREFIX = "echo: "
TOOL_COMMAND = "/tool "
SAME_ROUND = " &"
RESULT_SEPARATOR = " | "


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


def tool_commands(text: str) -> list[tuple[str, Any]] | str:
    """The ``(name, input)`` of each ``/tool NAME {json}`` line of ``text``, or why the
    lines cannot be read (the JSON is not an object)."""
    rounds = tool_rounds(text)
    return rounds if isinstance(rounds, str) else [call for batch in rounds for call in batch]


def tool_rounds(text: str) -> list[list[tuple[str, Any]]] | str:
    """The calls of ``text`` by model round: a line ending in `` &`` shares the next one's."""
    rounds: list[list[tuple[str, Any]]] = []
    joined = False
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if not line.startswith(TOOL_COMMAND):
            return f"not a tool command: {line[:80]!r}"
        same = line.endswith(SAME_ROUND)
        if same:
            line = line[: -len(SAME_ROUND)]
        command = _tool_command(line)
        if isinstance(command, str):
            return command
        if joined:
            rounds[-1].append(command)
        else:
            rounds.append([command])
        joined = same
    return rounds


def _tool_command(line: str) -> tuple[str, Any] | str:
    name, _, raw = line[len(TOOL_COMMAND) :].strip().partition(" ")
    try:
        arguments = json.loads(raw) if raw.strip() else {}
    except json.JSONDecodeError as err:
        return f"tool input for {name!r} is not JSON: {err.msg}"
    return name, arguments


def _turn_messages(messages: Messages) -> tuple[str, list[Mapping[str, Any]]]:
    """The turn's prompt (the last user text) and the tool results given back since."""
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        blocks = list(message.get("content", []))
        if message.get("role") == "user" and any("text" in block for block in blocks):
            prompt = "".join(str(block["text"]) for block in blocks if "text" in block)
            results: list[Mapping[str, Any]] = [
                block["toolResult"]
                for later in messages[index + 1 :]
                if later.get("role") == "user"
                for block in later.get("content", [])
                if "toolResult" in block
            ]
            return prompt, results
    return "", []


def _result_text(result: Mapping[str, Any]) -> str:
    parts = []
    for block in result.get("content", []):
        if "text" in block:
            parts.append(str(block["text"]))
        elif "json" in block:
            parts.append(json.dumps(block["json"], ensure_ascii=False))
    return "".join(parts)


def _next_round(rounds: list[list[tuple[str, Any]]], answered: int) -> list[tuple[str, Any]] | None:
    """The calls still to ask for once ``answered`` results are back (None: all are)."""
    for batch in rounds:
        if answered < len(batch):
            return batch[answered:]
        answered -= len(batch)
    return None


def tool_use_id(messages: Messages, name: str, arguments: Any, index: int = 0) -> str:
    """A deterministic id: the same conversation asks for the same call with the same id."""
    parts: list[Any] = [len(messages), name, arguments] + ([index] if index else [])
    seed = json.dumps(parts, sort_keys=True, default=str)
    return "tooluse_" + hashlib.sha256(seed.encode()).hexdigest()[:20]


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
        turn_prompt, results = _turn_messages(messages)
        if turn_prompt.startswith(TOOL_COMMAND):
            rounds = tool_rounds(turn_prompt)
            if isinstance(rounds, str):
                prompt = rounds
            elif (batch := _next_round(rounds, len(results))) is not None:
                async for event in self._tool_use(messages, batch, system_prompt):
                    yield event
                return
            else:
                prompt = RESULT_SEPARATOR.join(_result_text(result) for result in results)
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

    async def _tool_use(
        self, messages: Messages, batch: list[tuple[str, Any]], system_prompt: str | None
    ) -> AsyncIterable[StreamEvent]:
        """Ask for one round's tool calls, as a provider streams them."""
        yield {"messageStart": {"role": "assistant"}}
        for index, (name, arguments) in enumerate(batch):
            use_id = tool_use_id(messages, name, arguments, index)
            yield {"contentBlockStart": {"start": {"toolUse": {"toolUseId": use_id, "name": name}}}}
            yield {"contentBlockDelta": {"delta": {"toolUse": {"input": json.dumps(arguments)}}}}
            yield {"contentBlockStop": {}}
        yield {"messageStop": {"stopReason": "tool_use"}}
        input_tokens = _word_count(messages) + len((system_prompt or "").split())
        yield {
            "metadata": {
                "usage": {
                    "inputTokens": input_tokens,
                    "outputTokens": 1,
                    "totalTokens": input_tokens + 1,
                },
                "metrics": {"latencyMs": 0},
            }
        }
