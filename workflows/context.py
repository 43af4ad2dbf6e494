"""The model's context under a token budget: pure functions over Strands message dicts.

A context is the newest *exchanges* that fit: an exchange starts at a user message that is
not a tool result and runs up to the next one, so a ``toolUse`` always travels with the
``toolResult`` that answers it (dropping one without the other is rejected by every
provider). ``context_messages`` stays an upper bound on the number of messages. An exchange
too big for what is left is never sent whole: when it is the newest one, its text is cut
with :data:`CUT_MARKER`; otherwise it and everything older are left out.

Deterministic and free of I/O: the workflow counts with :func:`estimate_tokens`; the model
activity runs the same functions again with the provider's own counter
(``activities/providers/budget.py``), so the provider's real tokenizer has the last word.
"""

import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

Message = dict[str, Any]
Counter = Callable[[Message], int]

CUT_MARKER = "\n[… cut to fit the model's context: {kept} of {total} characters kept]"
"""Appended to a text block that was cut."""

# Chat templates wrap every message in a few tokens (role, start and end markers).
MESSAGE_OVERHEAD = 4
# Characters per token of the workflow's estimate: below most tokenizers' English average
# (~4) so it errs on the side of sending less; the provider's counter corrects the rest.
CHARS_PER_TOKEN = 3.0
# Below this many tokens a cut message says too little to be worth sending.
MIN_CUT_TOKENS = 32

# Default input budgets per provider (SessionConfig.context_tokens = None): the window minus
# the reply budget. The local model's worker settings (4096 window, 512 reply) are the
# default; its worker caps the budget at its real window again.
PROVIDER_CONTEXT_TOKENS: dict[str, int] = {
    "local": 4096 - 512,
    "bedrock": 200_000 - 2048,
    "openai": 128_000 - 2048,
}
DEFAULT_CONTEXT_TOKENS = 32_000
"""For providers not in the table (echo, test providers, ones registered later)."""

BUDGET_KEY = "convoflow_context_tokens"
"""The ``invocation_state`` entry carrying the session's budget to the model activity."""


def context_budget(model: str, configured: int | None) -> int:
    """The session's input-token budget: as configured, else the provider's default."""
    if configured is not None:
        return configured
    return PROVIDER_CONTEXT_TOKENS.get(model, DEFAULT_CONTEXT_TOKENS)


def estimate_text(text: str) -> int:
    """Estimated tokens of ``text`` (no tokenizer: characters / ``CHARS_PER_TOKEN``)."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def _json_tokens(value: Any, count_text: Callable[[str], int]) -> int:
    try:
        return count_text(json.dumps(value, sort_keys=True, ensure_ascii=False))
    except (TypeError, ValueError):
        return 0


def count_blocks(message: Message, count_text: Callable[[str], int]) -> int:
    """Tokens of one message with ``count_text`` for its text: text, tool use, tool result,
    reasoning blocks, plus the template's per-message overhead."""
    total = MESSAGE_OVERHEAD
    for block in message.get("content", []):
        if "text" in block:
            total += count_text(str(block["text"]))
        if "toolUse" in block:
            use = block["toolUse"]
            total += count_text(str(use.get("name", ""))) + _json_tokens(
                use.get("input", {}), count_text
            )
        if "toolResult" in block:
            for item in block["toolResult"].get("content", []):
                if "text" in item:
                    total += count_text(str(item["text"]))
                if "json" in item:
                    total += _json_tokens(item["json"], count_text)
        if "reasoningContent" in block:
            text = block["reasoningContent"].get("reasoningText", {}).get("text", "")
            total += count_text(str(text))
    return total


def estimate_tokens(message: Message) -> int:
    """The workflow's estimate of one message's tokens."""
    return count_blocks(message, estimate_text)


def _starts_exchange(message: Message) -> bool:
    """A user message that is not (only) tool results: where an exchange begins."""
    if message.get("role") != "user":
        return False
    return not any("toolResult" in block for block in message.get("content", []))


def exchanges(messages: Sequence[Message]) -> list[list[Message]]:
    """``messages`` split into exchanges (a leading fragment that does not start with a
    user message is its own group, so it can be dropped whole)."""
    groups: list[list[Message]] = []
    for message in messages:
        if not groups or _starts_exchange(message):
            groups.append([message])
        else:
            groups[-1].append(message)
    return groups


_MARKER_RE = re.compile(r"\n\[… cut to fit the model's context: \d+ of (\d+) characters kept\]$")


def cut_text(text: str, keep: int) -> str:
    """``text`` cut to its first ``keep`` characters, with the marker (unchanged if short);
    cutting an already cut text again keeps the original length in its marker."""
    total = len(text)
    earlier = _MARKER_RE.search(text)
    if earlier is not None:
        text, total = text[: earlier.start()], int(earlier.group(1))
    if len(text) <= keep:
        return text + ("" if earlier is None else CUT_MARKER.format(kept=len(text), total=total))
    keep = max(keep, 0)
    return text[:keep] + CUT_MARKER.format(kept=keep, total=total)


def _longest_text(group: list[Message]) -> tuple[int, int, str] | None:
    """(message index, block index, path) of the longest text a cut can shorten."""
    best: tuple[int, int, str] | None = None
    best_len = 0
    for i, message in enumerate(group):
        for j, block in enumerate(message.get("content", [])):
            if "text" in block and len(str(block["text"])) > best_len:
                best, best_len = (i, j, "text"), len(str(block["text"]))
            for item in block.get("toolResult", {}).get("content", []):
                if "text" in item and len(str(item["text"])) > best_len:
                    best, best_len = (i, j, "toolResult"), len(str(item["text"]))
    return best


def _with_text(group: list[Message], where: tuple[int, int, str], keep: int) -> list[Message]:
    """A copy of ``group`` whose text at ``where`` is cut to ``keep`` characters."""
    i, j, kind = where
    copy = [dict(message) for message in group]
    blocks = [dict(block) for block in copy[i]["content"]]
    if kind == "text":
        original = str(blocks[j]["text"])
        blocks[j]["text"] = cut_text(original, keep)
    else:
        result = dict(blocks[j]["toolResult"])
        items = [dict(item) for item in result["content"]]
        longest = max(
            (k for k, item in enumerate(items) if "text" in item),
            key=lambda k: len(str(items[k]["text"])),
        )
        items[longest]["text"] = cut_text(str(items[longest]["text"]), keep)
        result["content"] = items
        blocks[j]["toolResult"] = result
    copy[i]["content"] = blocks
    return copy


def cut_to_fit(group: list[Message], budget: int, count: Counter) -> list[Message] | None:
    """``group`` with its longest texts cut (with the marker) until it fits ``budget``;
    ``None`` when even cut it cannot fit in a useful size."""
    if budget < MIN_CUT_TOKENS:
        return None
    current = group
    for _ in range(12):  # each round cuts the longest text in proportion to the overshoot
        size = sum(count(message) for message in current)
        if size <= budget:
            return current
        where = _longest_text(current)
        if where is None:
            return None
        i, j, kind = where
        block = current[i]["content"][j]
        if kind == "text":
            length = len(str(block["text"]))
        else:
            length = max(
                len(str(item["text"])) for item in block["toolResult"]["content"] if "text" in item
            )
        if length == 0:
            return None
        marker = len(CUT_MARKER.format(kept=length, total=length))
        keep = min(int(length * budget / size * 0.9) - marker, length - marker - 1)
        current = _with_text(current, where, max(keep, 0))
    size = sum(count(message) for message in current)
    return current if size <= budget else None


@dataclass(frozen=True)
class Fitted:
    """What fits: the messages to send, how many older ones were left out, whether one was
    cut, and the tokens the messages take by the counter used."""

    messages: list[Message]
    left_out: int
    cut: bool
    tokens: int


def fit_history(
    messages: Sequence[Message], budget: int, count: Counter, max_messages: int | None = None
) -> Fitted:
    """The newest whole exchanges of ``messages`` that fit ``budget`` tokens (and at most
    ``max_messages`` messages); the newest one is cut to fit when it alone is too big."""
    groups = exchanges(messages)
    kept: list[list[Message]] = []
    used, count_messages, cut = 0, 0, False
    for group in reversed(groups):
        if not _starts_exchange(group[0]):
            break  # a fragment without its opening user message is never sent
        if max_messages is not None and count_messages + len(group) > max_messages:
            break
        size = sum(count(message) for message in group)
        if used + size > budget:
            if not kept:
                shortened = cut_to_fit(group, budget - used, count)
                if shortened is not None:
                    kept.append(shortened)
                    used += sum(count(message) for message in shortened)
                    count_messages += len(shortened)
                    cut = True
            break
        kept.append(group)
        used += size
        count_messages += len(group)
    result = [message for group in reversed(kept) for message in group]
    return Fitted(result, len(messages) - count_messages, cut, used)


def fit_prompt(prompt: Message, budget: int, count: Counter) -> Message:
    """The new prompt itself, cut with the marker when it alone is over ``budget``."""
    if count(prompt) <= budget:
        return prompt
    shortened = cut_to_fit([prompt], max(budget, MIN_CUT_TOKENS), count)
    if shortened is not None:
        return shortened[0]
    # Not even a useful cut fits: send the marker and the start of the text.
    return _with_text([prompt], (0, 0, "text"), max(budget, 1) * int(CHARS_PER_TOKEN) // 2)[0]


@dataclass(frozen=True)
class Context:
    """The model's context for one turn."""

    history: list[Message]
    prompt: Message
    left_out: int
    """Messages of the history not sent (they left the context)."""
    tokens: int
    """Estimated input tokens: system prompt, history and prompt."""


def build_context(
    history: Sequence[Message],
    prompt: Message,
    system_prompt: str,
    budget: int,
    max_messages: int,
    count: Counter = estimate_tokens,
) -> Context:
    """The history and prompt to send so that system prompt + history + prompt fit
    ``budget`` tokens. The system prompt (instructions, summary, memories) and the prompt
    come first; the history gets what is left."""
    system = count({"role": "system", "content": [{"text": system_prompt}]}) if system_prompt else 0
    sent_prompt = fit_prompt(prompt, max(budget - system, MIN_CUT_TOKENS), count)
    remaining = budget - system - count(sent_prompt)
    fitted = fit_history(history, max(remaining, 0), count, max_messages)
    if remaining <= 0:
        fitted = Fitted([], len(history), False, 0)
    total = system + count(sent_prompt) + fitted.tokens
    return Context(fitted.messages, sent_prompt, fitted.left_out, total)


# The system prompt's pinned blocks (summary, memories) get at most this share of the budget.
PINNED_SHARE = 0.5


def pinned_blocks(base: str, summary: str, memories: str, budget: int) -> str:
    """The pinned part of the system prompt (summary block, then memories block) within
    ``PINNED_SHARE`` of ``budget`` together with ``base``: the summary is cut with the marker
    when it is too long, and the memories are left out when they no longer fit."""
    room = int(budget * PINNED_SHARE) - estimate_text(base)
    parts: list[str] = []
    if summary:
        block = summary_block(summary)
        over = estimate_text(block) - room
        if over > 0:
            keep = len(summary) - int(over * CHARS_PER_TOKEN) - len(CUT_MARKER) - 16
            block = summary_block(cut_text(summary, keep)) if keep > 0 else ""
        if block:
            parts.append(block)
            room -= estimate_text(block) + 1
    if memories and estimate_text(memories) <= room:
        parts.append(memories)
    return "\n\n".join(parts)


def summary_block(summary: str) -> str:
    """The running summary as a tagged block for the system prompt: notes about what left
    the context, never something the user just said."""
    if not summary:
        return ""
    return (
        "<conversation_summary>\nSummary of the earlier part of this conversation (no longer "
        f"shown in full; the user did not just say it):\n{summary}\n</conversation_summary>"
    )


def user_text(text: str) -> Message:
    """A user message with one text block."""
    return {"role": "user", "content": [{"text": text}]}
