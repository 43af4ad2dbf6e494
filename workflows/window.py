"""Pure helpers over the kept message window: trimming, deadlines, and the model's view.

Deterministic and free of I/O so the workflow can use them and unit tests can cover them.
"""

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from models import ChatMessage
from workflows.tool_calls import reply_model_messages


def trim_to_count(
    messages: list[ChatMessage], max_messages: int
) -> tuple[list[ChatMessage], list[ChatMessage]]:
    """Split into ``(kept, dropped)`` keeping the newest ``max_messages``."""
    if len(messages) <= max_messages:
        return messages, []
    cut = len(messages) - max_messages
    return messages[cut:], messages[:cut]


def trim_older_than(
    messages: list[ChatMessage], cutoff: datetime
) -> tuple[list[ChatMessage], list[ChatMessage]]:
    """Split into ``(kept, dropped)`` dropping the leading messages stamped before ``cutoff``."""
    cut = 0
    while cut < len(messages):
        stamp = messages[cut].timestamp
        if stamp is None or stamp >= cutoff:
            break
        cut += 1
    return messages[cut:], messages[:cut]


def age_deadline(messages: Sequence[ChatMessage], ttl: timedelta | None) -> datetime | None:
    """When the oldest kept message passes ``ttl``; ``None`` if there is nothing to age out."""
    if ttl is None or not messages or messages[0].timestamp is None:
        return None
    return messages[0].timestamp + ttl


def system_prompt_for(
    system_prompt: str, initial_context: dict[str, Any] | None, memories: str = ""
) -> str:
    """The system prompt the model gets: the configured one, the session's initial context,
    and the recalled-memories block."""
    parts = [system_prompt]
    if initial_context:
        context = json.dumps(initial_context, sort_keys=True, ensure_ascii=False)
        parts.append(f"Session context (JSON): {context}")
    if memories:
        parts.append(memories)
    return "\n\n".join(parts)


def answered_pairs(messages: Iterable[ChatMessage]) -> list[tuple[ChatMessage, ChatMessage]]:
    """(user message, assistant reply) pairs, in order; unanswered and failed turns are left out."""
    pending: dict[str, ChatMessage] = {}
    pairs: list[tuple[ChatMessage, ChatMessage]] = []
    for message in messages:
        if message.role == "user" and message.message_id is not None:
            pending[message.message_id] = message
        elif message.role == "assistant" and message.reply_to in pending:
            pairs.append((pending.pop(message.reply_to), message))
    return pairs


def model_messages(messages: Iterable[ChatMessage], context_messages: int) -> list[dict[str, Any]]:
    """The conversation the model sees before the new prompt, as Strands/Bedrock messages.

    Only answered turns go in, so roles strictly alternate user/assistant (Bedrock rejects
    anything else); at most ``context_messages`` messages, newest kept.
    """
    pairs = answered_pairs(messages)
    keep = context_messages // 2
    window = pairs[-keep:] if keep else []
    result: list[dict[str, Any]] = []
    for user, assistant in window:
        result.append({"role": "user", "content": [{"text": user.message}]})
        result.extend(reply_model_messages(assistant))  # with its tool calls, if any
    return result


def reply_text(message: Mapping[str, Any]) -> str:
    """The text of a model message: its text blocks joined (tool or reasoning blocks skipped)."""
    return "".join(str(block["text"]) for block in message.get("content", []) if "text" in block)


class RecentIds:
    """Insertion-ordered set of the last ``capacity`` message ids, for dedupe.

    Given a list, it keeps its ids in that very list (oldest first), so the list can live
    in carried state and go to the next run as it is.
    """

    def __init__(self, capacity: int, ids: Iterable[str] = ()) -> None:
        """Start with ``ids`` (oldest first), keeping at most ``capacity``."""
        self.capacity = capacity
        self._order: list[str] = ids if isinstance(ids, list) else []
        unique = list(dict.fromkeys(self._order))
        self._order[:] = unique[-capacity:] if capacity else []
        self._members: set[str] = set(self._order)
        if not isinstance(ids, list):
            for message_id in ids:
                self.add(message_id)

    def __contains__(self, message_id: object) -> bool:
        return message_id in self._members

    def __len__(self) -> int:
        return len(self._order)

    @property
    def ids(self) -> list[str]:
        """The list holding the ids, oldest first."""
        return self._order

    def add(self, message_id: str) -> None:
        """Remember ``message_id``, forgetting the oldest past capacity."""
        if message_id in self._members:
            return
        self._order.append(message_id)
        self._members.add(message_id)
        excess = len(self._order) - self.capacity
        if excess > 0:
            for old in self._order[:excess]:
                self._members.discard(old)
            del self._order[:excess]

    def to_list(self) -> list[str]:
        """A copy of the ids, oldest first."""
        return list(self._order)
