"""The token budget (workflows/context.py): never exceeded, tool pairs never split."""

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from workflows.context import (
    CUT_MARKER,
    MIN_CUT_TOKENS,
    build_context,
    estimate_tokens,
    exchanges,
    fit_history,
)

Message = dict[str, Any]


def _text(size: int, salt: int) -> str:
    return f"word{salt} " * size


@st.composite
def conversations(draw: st.DrawFn) -> list[Message]:
    """Random exchanges: a user text, maybe tool calls with their results, an answer."""
    messages: list[Message] = []
    for turn in range(draw(st.integers(0, 12))):
        question = _text(draw(st.integers(0, 400)), turn)
        messages.append({"role": "user", "content": [{"text": question}]})
        for call in range(draw(st.integers(0, 2))):
            tool_id = f"t{turn}-{call}"
            messages.append(
                {
                    "role": "assistant",
                    "content": [
                        {"toolUse": {"toolUseId": tool_id, "name": "lookup", "input": {"q": turn}}}
                    ],
                }
            )
            result = _text(draw(st.integers(0, 600)), call)
            messages.append(
                {
                    "role": "user",
                    "content": [
                        {
                            "toolResult": {
                                "toolUseId": tool_id,
                                "status": "success",
                                "content": [{"text": result}],
                            }
                        }
                    ],
                }
            )
        reply = _text(draw(st.integers(0, 400)), turn)
        messages.append({"role": "assistant", "content": [{"text": reply}]})
    return messages


def _tool_ids(messages: list[Message], kind: str) -> set[str]:
    return {
        str(block[kind]["toolUseId"])
        for message in messages
        for block in message["content"]
        if kind in block
    }


def _check_pairs(messages: list[Message]) -> None:
    """Every toolUse is answered by the very next message, and nothing answers a stranger."""
    assert _tool_ids(messages, "toolUse") == _tool_ids(messages, "toolResult")
    for index, message in enumerate(messages):
        uses = [b["toolUse"]["toolUseId"] for b in message["content"] if "toolUse" in b]
        if uses:
            following = messages[index + 1]
            answered = [
                b["toolResult"]["toolUseId"] for b in following["content"] if "toolResult" in b
            ]
            assert answered == uses


@settings(max_examples=300, deadline=None)
@given(conversations(), st.integers(0, 3000), st.one_of(st.none(), st.integers(0, 40)))
def test_history_never_exceeds_budget_and_keeps_tool_pairs(
    messages: list[Message], budget: int, max_messages: int | None
) -> None:
    fitted = fit_history(messages, budget, estimate_tokens, max_messages)
    sent = fitted.messages
    assert sum(estimate_tokens(m) for m in sent) <= budget
    assert fitted.tokens == sum(estimate_tokens(m) for m in sent)
    if max_messages is not None:
        assert len(sent) <= max_messages
    _check_pairs(sent)
    if sent:
        assert sent[0]["role"] == "user" and "text" in sent[0]["content"][0]
    # The newest messages, in order: what is sent (cuts aside) is a suffix of the history.
    uncut = [m for m in sent if CUT_MARKER.split("{")[0] not in str(m)]
    if not fitted.cut:
        assert sent == messages[len(messages) - len(sent) :]
    assert len(uncut) + fitted.left_out <= len(messages)
    # Nothing fitting was left out: the next older exchange would not have fit.
    groups = exchanges(messages)
    kept_groups = exchanges(sent)
    if not fitted.cut and len(kept_groups) < len(groups) and max_messages is None:
        older = groups[len(groups) - len(kept_groups) - 1]
        assert fitted.tokens + sum(estimate_tokens(m) for m in older) > budget


@settings(max_examples=300, deadline=None)
@given(
    conversations(),
    st.integers(0, 20_000),
    st.integers(0, 4000),
    st.integers(MIN_CUT_TOKENS * 4, 4000),
)
def test_context_never_exceeds_budget(
    messages: list[Message], prompt_size: int, system_size: int, budget: int
) -> None:
    """System prompt + history + prompt fit, whatever their sizes (an oversized prompt or
    newest exchange is cut with the marker, never sent whole)."""
    prompt = {"role": "user", "content": [{"text": _text(prompt_size, 99)}]}
    system = _text(system_size // 4, 7)
    if estimate_tokens({"role": "system", "content": [{"text": system}]}) > budget // 2:
        system = system[: budget // 2]  # the pinned part is bounded by the caller
    context = build_context(messages, prompt, system, budget, 1_000)
    system_tokens = estimate_tokens({"role": "system", "content": [{"text": system}]})
    system_tokens = system_tokens if system else 0
    total = system_tokens + estimate_tokens(context.prompt)
    total += sum(estimate_tokens(m) for m in context.history)
    assert total <= budget
    assert context.tokens == total
    _check_pairs(context.history)
    if estimate_tokens(prompt) + system_tokens > budget:
        assert "characters kept]" in context.prompt["content"][0]["text"]


def test_a_single_oversized_message_is_cut_with_a_marker() -> None:
    huge: Message = {"role": "user", "content": [{"text": "x" * 30_000}]}
    answer: Message = {"role": "assistant", "content": [{"text": "ok"}]}
    fitted = fit_history([huge, answer], 500, estimate_tokens)
    assert fitted.cut and len(fitted.messages) == 2
    text = fitted.messages[0]["content"][0]["text"]
    assert text.endswith("of 30000 characters kept]") and len(text) < 30_000
    assert fitted.tokens <= 500
    assert huge["content"][0]["text"] == "x" * 30_000  # the original is never changed
