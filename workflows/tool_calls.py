"""Pure helpers over a turn's tool calls: what the history keeps of them, and how they go
back into the model's context on later turns (every ``toolUse`` with its ``toolResult``).

A reply that used tools carries ``metadata["tool_calls"]``: one :class:`models.tools.ToolCall`
per call, in order, with the model round that asked for it and a bounded result. A successful
result longer than the bound is kept whole in the memory store by the worker that ran the tool
(``agents/results.py``); the call says so (``full_result_stored``), behind patch
``FULL_RESULTS_PATCH`` (workers before it kept nothing).
"""

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import ValidationError
from temporalio import workflow

from models import ChatMessage
from models.tools import MAX_TOOL_INPUT_CHARS, MAX_TOOL_RESULT_CHARS, ToolCall

TOOL_CALLS = "tool_calls"
TRUNCATED = " … (truncated)"
FULL_RESULTS_PATCH = "tool-results-stored"


def bounded_text(text: str, limit: int = MAX_TOOL_RESULT_CHARS) -> str:
    """``text``, cut to ``limit`` characters (marked) when longer."""
    return text if len(text) <= limit else text[: max(0, limit - len(TRUNCATED))] + TRUNCATED


def bounded_input(value: Any) -> dict[str, Any]:
    """A tool call's input as kept: the object itself when small, else its JSON cut short."""
    if not isinstance(value, dict):
        value = {"value": value}
    try:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return {"unreadable": True}
    if len(text) <= MAX_TOOL_INPUT_CHARS:
        return dict(json.loads(text))
    return {"truncated": bounded_text(text, MAX_TOOL_INPUT_CHARS)}


def result_text(result: Mapping[str, Any]) -> str:
    """The text of a Strands ``toolResult``: its text blocks, and JSON blocks as JSON."""
    parts: list[str] = []
    for block in result.get("content") or []:
        if not isinstance(block, Mapping):
            continue
        if "text" in block:
            parts.append(str(block["text"]))
        elif "json" in block:
            parts.append(json.dumps(block["json"], ensure_ascii=False, default=str))
        else:
            parts.append(f"[{next(iter(block), 'content')}]")
    return "\n".join(parts)


def tool_calls_of(messages: Sequence[Mapping[str, Any]]) -> list[ToolCall]:
    """The tool calls in a turn's new Strands messages, each with its result, in order.

    A ``toolUse`` whose result never came (the turn stopped first) is left out, so what is
    kept can always be given back to a model as complete pairs.
    """
    asked: dict[str, tuple[str, Any, int]] = {}
    order: list[str] = []
    results: dict[str, Mapping[str, Any]] = {}
    round_index = -1
    for message in messages:
        blocks = [b for b in message.get("content") or [] if isinstance(b, Mapping)]
        if message.get("role") == "assistant":
            uses = [b["toolUse"] for b in blocks if isinstance(b.get("toolUse"), Mapping)]
            if uses:
                round_index += 1
            for use in uses:
                use_id = str(use.get("toolUseId", ""))
                if use_id and use_id not in asked:
                    asked[use_id] = (str(use.get("name", "")), use.get("input"), round_index)
                    order.append(use_id)
        elif message.get("role") == "user":
            for block in blocks:
                result = block.get("toolResult")
                if isinstance(result, Mapping):
                    results.setdefault(str(result.get("toolUseId", "")), result)
    calls = []
    for use_id in order:
        result = results.get(use_id)
        if result is None:
            continue
        name, tool_input, round_number = asked[use_id]
        text = result_text(result)
        success = result.get("status") == "success"
        calls.append(
            ToolCall(
                tool_use_id=use_id,
                name=name,
                input=bounded_input(tool_input),
                status="success" if success else "error",
                result=bounded_text(text),
                result_chars=len(text),
                round=round_number,
                # The worker's rule (agents/results.py): a success longer than the bound.
                full_result_stored=success
                and len(text) > MAX_TOOL_RESULT_CHARS
                and _results_stored(),
            )
        )
    return calls


def _results_stored() -> bool:
    """Whether workers keep long results (always, outside a workflow). Asked only for a long
    result, so a history gets the patch marker only when it has one."""
    return not workflow.in_workflow() or workflow.patched(FULL_RESULTS_PATCH)


def kept_tool_calls(reply: ChatMessage) -> list[ToolCall]:
    """The tool calls a kept reply carries (unreadable entries skipped)."""
    raw = (reply.metadata or {}).get(TOOL_CALLS)
    if not isinstance(raw, list):
        return []
    calls = []
    for entry in raw:
        try:
            calls.append(ToolCall.model_validate(entry))
        except ValidationError:
            continue
    return calls


def reply_model_messages(reply: ChatMessage) -> list[dict[str, Any]]:
    """A kept reply as the model saw it: each round's ``toolUse`` blocks, their
    ``toolResult`` blocks, then the reply's text (just the text when it used no tool)."""
    rounds: dict[int, list[ToolCall]] = {}
    for call in kept_tool_calls(reply):
        rounds.setdefault(call.round, []).append(call)
    messages: list[dict[str, Any]] = []
    for _, calls in sorted(rounds.items()):
        messages.append(
            {
                "role": "assistant",
                "content": [
                    {"toolUse": {"toolUseId": c.tool_use_id, "name": c.name, "input": c.input}}
                    for c in calls
                ],
            }
        )
        messages.append(
            {
                "role": "user",
                "content": [
                    {
                        "toolResult": {
                            "toolUseId": c.tool_use_id,
                            "status": c.status,
                            "content": [{"text": c.result or "(no output)"}],
                        }
                    }
                    for c in calls
                ],
            }
        )
    messages.append({"role": "assistant", "content": [{"text": reply.message}]})
    return messages


def tool_names(calls: Iterable[ToolCall]) -> list[str]:
    """The names of ``calls``, in order."""
    return [call.name for call in calls]
