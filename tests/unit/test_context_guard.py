"""The budget enforced in the model activity with the provider's own count
(activities/providers/budget.py), and the local model's tokenizer-based count."""

from collections.abc import AsyncIterable
from typing import Any

import pytest
from strands.types.content import Messages
from strands.types.streaming import StreamEvent
from strands.types.tools import ToolSpec

from activities.providers.base import ConfiguredModel
from activities.providers.budget import BudgetedModel, fit_request, window_budget
from workflows.context import BUDGET_KEY, user_text


class CharCountingModel(ConfiguredModel):
    """Counts one token per character (three times the workflow's estimate) and records
    what it was sent."""

    def __init__(self, **config: Any) -> None:
        self.config = dict(config)
        self.sent: list[Messages] = []

    async def count_tokens(
        self,
        messages: Messages,
        tool_specs: list[ToolSpec] | None = None,
        system_prompt: str | None = None,
        system_prompt_content: Any = None,
    ) -> int:
        total = len(system_prompt or "")
        for message in messages:
            for block in message["content"]:
                total += len(str(block.get("text", "")))
                if "toolResult" in block:
                    items = block["toolResult"]["content"]
                    total += sum(len(str(i.get("text", ""))) for i in items)
        return total

    async def stream(
        self,
        messages: Messages,
        tool_specs: list[ToolSpec] | None = None,
        system_prompt: str | None = None,
        **kwargs: Any,
    ) -> AsyncIterable[StreamEvent]:
        self.sent.append(messages)
        yield {"messageStop": {"stopReason": "end_turn"}}


def _conversation(turns: int, size: int) -> Messages:
    messages: list[dict[str, Any]] = []
    for turn in range(turns):
        messages.append(user_text(f"{turn} " + "q" * size))
        messages.append({"role": "assistant", "content": [{"text": f"{turn} " + "a" * size}]})
    messages.append(user_text("the question"))
    return messages  # type: ignore[return-value]


async def _send(model: BudgetedModel, messages: Messages, budget: int | None) -> None:
    state = {BUDGET_KEY: budget} if budget else {}
    async for _ in model.stream(messages, None, "system", invocation_state=state):
        pass


async def test_requests_over_the_budget_are_fitted_by_the_providers_count() -> None:
    inner = CharCountingModel()
    model = BudgetedModel(inner)
    messages = _conversation(20, 100)
    await _send(model, messages, 1000)
    sent = inner.sent[-1]
    assert await inner.count_tokens(sent, None, "system") <= 1000
    assert sent[-1] == messages[-1] and sent[0]["role"] == "user"
    assert len(sent) < len(messages) and len(sent) % 2 == 1
    # Under the budget, the request goes through untouched.
    await _send(model, messages[-3:], 1000)
    assert inner.sent[-1] == messages[-3:]


async def test_the_models_window_caps_any_requested_budget() -> None:
    inner = CharCountingModel(context_tokens=1500, max_tokens=500)
    assert window_budget(inner) == 1000
    model = BudgetedModel(inner)
    await _send(model, _conversation(20, 100), 100_000)
    assert await inner.count_tokens(inner.sent[-1], None, "system") <= 1000
    # No budget sent (memory extraction, summaries): the window still applies.
    await _send(model, [user_text("x" * 5000)], None)  # type: ignore[list-item]
    only = inner.sent[-1]
    assert len(only) == 1 and "characters kept]" in only[0]["content"][0]["text"]
    assert await inner.count_tokens(only, None, "system") <= 1000


async def test_a_tool_exchange_is_never_split() -> None:
    inner = CharCountingModel()
    messages: list[dict[str, Any]] = [
        user_text("old " * 50),
        {"role": "assistant", "content": [{"text": "old answer " * 20}]},
        user_text("look it up"),
        {
            "role": "assistant",
            "content": [{"toolUse": {"toolUseId": "t1", "name": "f", "input": {}}}],
        },
        {
            "role": "user",
            "content": [{"toolResult": {"toolUseId": "t1", "content": [{"text": "r" * 300}]}}],
        },
        {"role": "assistant", "content": [{"text": "found it"}]},
        user_text("thanks"),
    ]
    await _send(BudgetedModel(inner), messages, 420)  # type: ignore[arg-type]
    sent = inner.sent[-1]
    uses = [b for m in sent for b in m["content"] if "toolUse" in b]
    results = [b for m in sent for b in m["content"] if "toolResult" in b]
    assert len(uses) == len(results)
    assert sent[0]["role"] == "user" and "text" in sent[0]["content"][0]


@pytest.mark.local_model
async def test_local_count_matches_what_llama_reads() -> None:
    """The local provider counts with llama.cpp's tokenizer and its chat template: the
    count equals the prompt tokens the model reports after reading the request."""
    from activities.providers.local import LocalLlamaModel

    model = LocalLlamaModel(max_tokens=1, threads=1)
    messages: Messages = [
        user_text("My name is Alice and I live in Lisbon."),  # type: ignore[list-item]
        {"role": "assistant", "content": [{"text": "Nice to meet you, Alice!"}]},
        user_text("Where do I live? My order is 58213-XK."),  # type: ignore[list-item]
    ]
    counted = await model.count_tokens(messages, None, "Answer briefly.")
    events = [event async for event in model.stream(messages, None, "Answer briefly.")]
    usage = events[-1]["metadata"]["usage"]
    assert abs(usage["inputTokens"] - counted) <= 2


@pytest.mark.local_model
async def test_a_long_local_conversation_never_exceeds_the_window() -> None:
    """200 turns of digits and prose (about 2.4 characters per token for the digits, below
    the workflow's estimate of 3): the request the local model gets fits its window minus
    its reply, by its own tokenizer."""
    from activities.providers.local import LocalLlamaModel

    inner = LocalLlamaModel(max_tokens=512, context_tokens=4096, threads=1)
    messages: list[dict[str, Any]] = []
    for turn in range(200):
        messages.append(
            user_text(f"order {turn}: " + " ".join(str(turn * 7919 + i) for i in range(30)))
        )
        messages.append({"role": "assistant", "content": [{"text": "Noted, thanks. " * 5}]})
    messages.append(user_text("which orders did I give?"))
    fitted = await fit_request(inner, messages, 3584, None, "Be brief.")  # type: ignore[arg-type]
    assert await inner.count_tokens(fitted, None, "Be brief.") <= 3584
    assert fitted[-1] == messages[-1] and len(fitted) > 10
