"""Validation of messages arriving by update or signal, before anything touches state."""

import json
import unicodedata
from typing import Any

from pydantic import ValidationError

from models import ChatMessage, SessionConfig

MAX_METADATA_BYTES = 16_384
_ALLOWED_CONTROL = {"\n", "\r", "\t"}


class InvalidMessageError(ValueError):
    """A message the session refuses; the text says why, for the caller."""


class NotOwnerError(InvalidMessageError):
    """The message names a user who does not own the session (reported as "not found")."""


def describe_validation_error(error: ValidationError) -> str:
    """Pydantic errors as one line: ``field: problem; field: problem``."""
    parts = []
    for item in error.errors(include_url=False, include_input=False):
        where = ".".join(str(p) for p in item["loc"]) or "message"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


def _has_bad_control(text: str) -> bool:
    return any(
        unicodedata.category(ch) in ("Cc", "Cs") and ch not in _ALLOWED_CONTROL for ch in text
    )


def parse_inbound(
    payload: Any, config: SessionConfig, session_id: str, owner: str | None
) -> ChatMessage:
    """Turn a raw update/signal argument into a user ``ChatMessage`` or raise why not.

    Accepts a ``ChatMessage`` or its plain-JSON form (as the ``temporal`` CLI sends).
    """
    if isinstance(payload, ChatMessage):
        payload = payload.model_dump(exclude_unset=True)
    if not isinstance(payload, dict):
        raise InvalidMessageError(
            f'expected a JSON object like {{"message": "hi"}}, got {type(payload).__name__}'
        )
    try:
        message = ChatMessage.model_validate(payload)
    except ValidationError as err:
        raise InvalidMessageError(describe_validation_error(err)) from None
    if message.role != "user":
        raise InvalidMessageError(
            f"role must be 'user' for incoming messages, not {message.role!r}"
        )
    if message.reply_to is not None or message.seq is not None:
        raise InvalidMessageError("reply_to and seq are set by the session, not by clients")
    if not message.message.strip():
        raise InvalidMessageError("message is empty")
    if len(message.message) > config.max_message_chars:
        raise InvalidMessageError(
            f"message has {len(message.message)} characters; this session allows "
            f"{config.max_message_chars}"
        )
    if _has_bad_control(message.message):
        raise InvalidMessageError("message contains control characters")
    if message.session_id is not None and message.session_id != session_id:
        raise InvalidMessageError(
            f"message is for session {message.session_id!r}, not {session_id!r}"
        )
    if owner is not None and message.user_id is not None and message.user_id != owner:
        raise NotOwnerError("no such session")
    if message.metadata is not None:
        try:
            size = len(json.dumps(message.metadata, ensure_ascii=False).encode())
        except (TypeError, ValueError):
            raise InvalidMessageError("metadata is not plain JSON") from None
        if size > MAX_METADATA_BYTES:
            raise InvalidMessageError(f"metadata is {size} bytes; at most {MAX_METADATA_BYTES}")
    return message
