"""parse_inbound, the one validator behind the update validator and the signal handler.

For any input it returns a valid user ``ChatMessage`` or raises ``InvalidMessageError`` with
a short message a person can act on; nothing else, ever.
"""

import json
import re
import unicodedata
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models import ChatMessage, SessionConfig
from models.ids import ID_MAX_LENGTH, ID_PATTERN
from tests.faults import figures
from tests.property import strategies as s
from workflows.inbound import MAX_METADATA_BYTES, InvalidMessageError, parse_inbound

SESSION = "prop-session"
OWNER = "owner-1"
CONFIG = SessionConfig(model="echo", max_message_chars=32_000)
MAX_ERROR_CHARS = 2_000
EXAMPLES = 2_000
_ID = re.compile(ID_PATTERN)
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _check_accepted(message: ChatMessage, owner: str | None) -> None:
    assert message.role == "user"
    assert message.message.strip()
    assert len(message.message) <= CONFIG.max_message_chars
    assert not any(
        unicodedata.category(ch) in ("Cc", "Cs") and ch not in "\n\r\t" for ch in message.message
    )
    for value in (message.message_id, message.session_id, message.user_id):
        assert value is None or (_ID.fullmatch(value) and len(value) <= ID_MAX_LENGTH)
    assert message.session_id in (None, SESSION)
    if owner is not None:
        assert message.user_id in (None, owner)
    assert message.reply_to is None and message.seq is None
    if message.metadata is not None:
        assert len(json.dumps(message.metadata, ensure_ascii=False).encode()) <= MAX_METADATA_BYTES


def _check(payload: Any, owner: str | None) -> bool:
    """Validate ``payload``; return whether it was accepted."""
    figures.count("hypothesis: parse_inbound (update validator + signal handler core)", "examples")
    try:
        message = parse_inbound(payload, CONFIG, SESSION, owner)
    except InvalidMessageError as err:
        text = str(err)
        assert text and len(text) <= MAX_ERROR_CHARS, text[:300]
        return False
    _check_accepted(message, owner)
    return True


@SETTINGS
@given(
    payload=st.one_of(
        s.payloads(OWNER, SESSION),
        st.fixed_dictionaries({"message": s.texts_with_surrogates}),
        st.binary(max_size=50),
        st.builds(
            ChatMessage, message=st.text(max_size=50), role=st.sampled_from(["user", "error"])
        ),
    ),
    owned=st.booleans(),
)
def test_parse_inbound_accepts_only_valid_messages(payload: Any, owned: bool) -> None:
    _check(payload, OWNER if owned else None)


@settings(max_examples=500, deadline=None, database=None)
@given(payload=s.valid_messages(OWNER, SESSION))
def test_parse_inbound_accepts_every_valid_message(payload: dict[str, Any]) -> None:
    assert _check(payload, OWNER)


@settings(max_examples=300, deadline=None, database=None)
@given(text=s.huge_text, extra=s.json_values)
def test_errors_stay_short_whatever_the_input(text: str, extra: Any) -> None:
    # A refusal must not echo the (possibly huge or hostile) input back.
    for payload in ({"message": text}, {"message": text, "junk": extra}, {"message": [text]}):
        try:
            parse_inbound(payload, CONFIG, SESSION, OWNER)
        except InvalidMessageError as err:
            assert len(str(err)) <= MAX_ERROR_CHARS
            assert text[:1000] not in str(err) or len(text) < 50
