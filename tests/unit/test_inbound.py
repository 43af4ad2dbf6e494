"""Validation of incoming messages (the update validator and signal handler share it)."""

import pytest

from models import ChatMessage, SessionConfig
from workflows.inbound import InvalidMessageError, NotOwnerError, parse_inbound

CONFIG = SessionConfig(max_message_chars=50)


def parse(payload: object, owner: str | None = "alice") -> ChatMessage:
    return parse_inbound(payload, CONFIG, "s1", owner)


def test_accepts_plain_json_and_models() -> None:
    assert parse({"message": "hi", "message_id": "m-1"}).message == "hi"
    assert parse(ChatMessage(message="hi", user_id="alice")).user_id == "alice"


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ("just text", "expected a JSON object"),
        (["hi"], "expected a JSON object"),
        ({}, "message: Field required"),
        ({"message": "   "}, "message is empty"),
        ({"message": "x" * 51}, "51 characters; this session allows 50"),
        ({"message": "hi", "message_id": "has space"}, "message_id: String should match"),
        ({"message": "hi", "message_id": "a" * 129}, "message_id: String should have at most"),
        ({"message": "hi", "message_id": ".."}, "message_id: String should match"),
        ({"message": "hi", "role": "assistant"}, "role must be 'user'"),
        ({"message": "hi", "role": "wizard"}, "role: Input should be"),
        ({"message": "hi", "seq": 3}, "set by the session"),
        ({"message": "hi", "session_id": "other"}, "is for session 'other'"),
        ({"message": "hi", "user_id": "mallory"}, "no such session"),
        ({"message": "hi", "surprise": 1}, "surprise: Extra inputs are not permitted"),
        ({"message": "nul\x00byte"}, "control characters"),
        ({"message": "lone \ud800 surrogate"}, "control characters"),
        ({"message": "hi", "metadata": {"big": "x" * 20_000}}, "metadata is"),
        ({"message": 42}, "message: Input should be a valid string"),
    ],
)
def test_refuses_bad_input_with_a_clear_reason(payload: object, reason: str) -> None:
    with pytest.raises(InvalidMessageError) as info:
        parse(payload)
    assert reason in str(info.value)


def test_allows_newlines_and_tabs() -> None:
    assert parse({"message": "line one\n\tline two"}).message == "line one\n\tline two"


def test_sessions_without_owner_refuse_every_named_user() -> None:
    # A caller naming a user never reaches an ownerless session (it would become theirs).
    with pytest.raises(NotOwnerError):
        parse({"message": "hi", "user_id": "bob"}, owner=None)
    assert parse({"message": "hi"}, owner=None).user_id is None
