"""Short-term events: grouping messages into events, and encoding/decoding their payloads.

Wire format (payload items, metadata keys) is described in the package docstring.
"""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bedrock_agentcore.memory.constants import BlobMessage, ConversationalMessage
from bedrock_agentcore.memory.models import StringValue

from activities.memory.agentcore._constants import (
    BLOB_VERSION,
    EVENT_KEY,
    KIND_KEY,
    KIND_MESSAGES,
    KIND_SUMMARY,
    KIND_TOOL_RESULT,
    REPLY_TO_KEY,
    ROLES,
    TOOL_CALL_KEY,
)
from activities.memory.agentcore._ids import digest, fits_metadata, meta
from models import ChatMessage, SessionSummary


def seq(message: ChatMessage) -> int:
    """A stored message's ``seq``."""
    assert message.seq is not None  # record_messages refuses messages without one
    return message.seq


def message_id(message: ChatMessage) -> str:
    """A stored message's ``message_id``."""
    assert message.message_id is not None  # record_messages refuses messages without one
    return message.message_id


def group_turns(messages: Sequence[ChatMessage]) -> list[list[ChatMessage]]:
    """A user message and the reply right after it share an event; the rest go alone."""
    groups: list[list[ChatMessage]] = []
    index = 0
    while index < len(messages):
        message = messages[index]
        following = messages[index + 1] if index + 1 < len(messages) else None
        if (
            following is not None
            and message.role == "user"
            and message.reply_to is None
            and following.reply_to == message.message_id
        ):
            groups.append([message, following])
            index += 2
        else:
            groups.append([message])
            index += 1
    return groups


@dataclass
class Event:
    """One CreateEvent call: what ``add_turns`` gets, and the event's idempotency key."""

    key: str
    payload: list[ConversationalMessage | BlobMessage]
    metadata: dict[str, StringValue]
    timestamp: datetime


def message_event(memory_id: str, actor: str, session: str, group: list[ChatMessage]) -> Event:
    """The event holding ``group`` (one of ``group_turns``' groups)."""
    ids = [message_id(message) for message in group]
    key = digest(memory_id, actor, session, "messages", *ids)
    payload: list[ConversationalMessage | BlobMessage] = []
    entries: list[dict[str, Any]] = []
    metadata: dict[str, StringValue] = {KIND_KEY: meta(KIND_MESSAGES), EVENT_KEY: meta(key)}
    for position, message in enumerate(group):
        entry = message.model_dump(mode="json", exclude_none=True)
        role = ROLES.get(message.role)
        if role is not None and message.message:
            payload.append(ConversationalMessage(message.message, role))
            del entry["message"]  # the conversational item carries the text
        entries.append(entry)
        metadata[f"message.{position}.id"] = meta(ids[position])
        metadata[f"message.{position}.seq"] = meta(str(seq(message)))
        metadata[f"message.{position}.role"] = meta(message.role)
        if message.reply_to is not None and fits_metadata(message.reply_to):
            metadata[REPLY_TO_KEY] = meta(message.reply_to)
    blob = {"convoflow": BLOB_VERSION, "messages": entries}
    payload.append(BlobMessage(json.dumps(blob, separators=(",", ":"), ensure_ascii=False)))
    timestamp = group[0].timestamp or datetime.now(UTC)
    return Event(key=key, payload=payload, metadata=metadata, timestamp=timestamp)


def summary_event(memory_id: str, actor: str, session: str, summary: SessionSummary) -> Event:
    """The blob-only event (``convoflow.kind=summary``) archiving ``summary``."""
    body = summary.model_dump(mode="json")
    key = digest(memory_id, actor, session, "summary", json.dumps(body, sort_keys=True))
    return Event(
        key=key,
        payload=[
            BlobMessage(
                json.dumps({"convoflow": BLOB_VERSION, "summary": body}, separators=(",", ":"))
            )
        ],
        metadata={KIND_KEY: meta(KIND_SUMMARY), EVENT_KEY: meta(key)},
        timestamp=datetime.now(UTC),
    )


def tool_call_key(message_id: str, tool_use_id: str) -> str:
    """The ``convoflow.tool_call`` metadata value of one tool call's result event (any ids
    fit: model-written tool-use ids need not match the metadata pattern)."""
    return digest(message_id, tool_use_id)


def tool_result_event(
    memory_id: str, actor: str, session: str, call: tuple[str, str], text: str
) -> Event:
    """The blob-only event (``convoflow.kind=tool_result``) holding the whole result ``text``
    of ``call`` (message id, tool-use id). Its key covers the text: saving the same result
    again writes nothing, a different one (a retried call) writes a newer event."""
    message_id, tool_use_id = call
    text_digest = digest(text)
    key = digest(memory_id, actor, session, "tool_result", message_id, tool_use_id, text_digest)
    body = {"message_id": message_id, "tool_use_id": tool_use_id, "text": text}
    return Event(
        key=key,
        payload=[
            BlobMessage(
                json.dumps(
                    {"convoflow": BLOB_VERSION, "tool_result": body},
                    separators=(",", ":"),
                    ensure_ascii=False,
                )
            )
        ],
        metadata={
            KIND_KEY: meta(KIND_TOOL_RESULT),
            EVENT_KEY: meta(key),
            TOOL_CALL_KEY: meta(tool_call_key(message_id, tool_use_id)),
        },
        timestamp=datetime.now(UTC),
    )


def decode_tool_result(event: Mapping[str, Any], call: tuple[str, str]) -> str | None:
    """The result text of ``call`` in one of our tool-result events (None for anything else)."""
    document = _blob(event)
    body = None if document is None else document.get("tool_result")
    if not isinstance(body, dict) or (body.get("message_id"), body.get("tool_use_id")) != call:
        return None
    text = body.get("text")
    return text if isinstance(text, str) else None


def _blob(event: Mapping[str, Any]) -> dict[str, Any] | None:
    for item in event.get("payload") or []:
        if "blob" in item:
            data = item["blob"]
            try:
                document = json.loads(data) if isinstance(data, str) else data
            except ValueError:
                return None
            if isinstance(document, dict) and document.get("convoflow") == BLOB_VERSION:
                return document
    return None


def decode_messages(event: Mapping[str, Any]) -> list[ChatMessage]:
    """The messages of one of our message events (none for anything else)."""
    document = _blob(event)
    if document is None or "messages" not in document:
        return []
    texts = iter(
        item["conversational"]["content"].get("text", "")
        for item in event.get("payload") or []
        if "conversational" in item
    )
    messages = []
    for entry in document["messages"]:
        data = dict(entry)
        if "message" not in data:
            data["message"] = next(texts, "")
        messages.append(ChatMessage.model_validate(data))
    return messages


def decode_summary(event: Mapping[str, Any]) -> SessionSummary | None:
    """The summary of one of our summary events (``None`` for anything else)."""
    document = _blob(event)
    if document is None or "summary" not in document:
        return None
    return SessionSummary.model_validate(document["summary"])


def inject_client_token(params: dict[str, Any], **_: Any) -> None:
    """``provide-client-params`` hook: our event key becomes CreateEvent's ``clientToken``."""
    key = (params.get("metadata") or {}).get(EVENT_KEY, {}).get("stringValue")
    if key and "clientToken" not in params:
        params["clientToken"] = key
