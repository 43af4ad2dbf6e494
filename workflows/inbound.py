"""Validation of messages arriving by update or signal, before anything touches state."""

import unicodedata
from typing import Any

from pydantic import ValidationError
from temporalio.common import RawValue
from temporalio.converter import PayloadConverter

from models import ChatMessage, SessionConfig
from models.limits import MAX_FREE_JSON_BYTES, check_free_json

MAX_METADATA_BYTES = MAX_FREE_JSON_BYTES
_ALLOWED_CONTROL = {"\n", "\r", "\t"}


SEND_MESSAGE = "send_message"
"""Name of the request/response update (its argument is received raw and decoded here)."""
SUBMIT_MESSAGE = "submit_message"
"""Name of the fire-and-forget signal (received raw by the session's dynamic handler)."""


def decode_raw(raw: RawValue, converter: PayloadConverter) -> Any:
    """The plain-JSON value of a raw signal argument, or why it cannot be had."""
    try:
        return converter.from_payload(raw.payload)
    except Exception as err:  # any decoding failure is the sender's, never the session's
        reason = str(err).splitlines()[0][:200] if str(err) else type(err).__name__
        raise InvalidMessageError(f"payload cannot be decoded ({reason})") from None


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
    if message.user_id is not None and message.user_id != owner:
        # A caller who names a user reaches only that user's sessions: never another's, and
        # never an ownerless one (it would become theirs in every later step).
        raise NotOwnerError("no such session")
    if message.metadata is not None:
        # Whatever is admitted must decode again in every later step (models/limits.py).
        try:
            check_free_json(message.metadata, "metadata")
        except ValueError as err:
            raise InvalidMessageError(str(err)) from None
    return message
