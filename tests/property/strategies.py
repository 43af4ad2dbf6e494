"""Hypothesis strategies for hostile input: ids, texts and message payloads.

Payloads are what actually reaches the session: plain JSON values (what the ``temporal``
CLI, the gateway or any SDK can send), message-shaped objects with wrong types, missing
and unknown fields, arbitrary unicode, control characters, huge strings, and ids with
separators.
"""

import json
import string
from typing import Any

from hypothesis import strategies as st

from models import ChatMessage

ID_ALPHABET = string.ascii_letters + string.digits + "._-"
SEPARATORS = [*":/\\ \t\n\r\x00|,;=%#?*@!$&'\"`~<>{}[]", "\u2215", "\uff1a", "\u200b"]
NASTY_CHARS = [
    "\x00",
    "\x01",
    "\x07",
    "\x1b",
    "\x7f",
    "\x85",
    "\u0301",
    "\u200b",
    "\u2028",
    "\u202e",
    "\ufeff",
    "\ufffd",
    "\U0001f600",
    "\U0010ffff",
    "\n",
    "\r",
    "\t",
]
SURROGATES = ["\ud800", "\udcff", "\udfff"]

valid_ids = st.text(alphabet=ID_ALPHABET, min_size=1, max_size=128)
short_ids = st.text(alphabet=ID_ALPHABET, min_size=1, max_size=12)
nasty_ids = st.one_of(
    st.text(max_size=140),
    st.sampled_from(
        [
            "",
            " ",
            "a:b",
            "convoflow:default:x",
            "..",
            "../etc/passwd",
            "a/b",
            "a\\b",
            "a b",
            "a\x00b",
            "a\nb",
            "é",
            "🙂",
            "-",
            "--json",
            "-x",
            "x" * 129,
        ]
    ),
    st.builds(lambda a, sep, b: a + sep + b, short_ids, st.sampled_from(SEPARATORS), short_ids),
    st.integers(129, 400).map(lambda n: "a" * n),
)
any_ids = st.one_of(valid_ids, nasty_ids)

nasty_text = st.text(
    alphabet=st.one_of(st.characters(), st.sampled_from(NASTY_CHARS)), max_size=200
)
huge_text = st.builds(
    lambda unit, count: unit * count,
    st.sampled_from(["a", "é", "🙂", " ", "ab ", "\x00"]),
    st.one_of(st.integers(31_990, 32_010), st.integers(32_001, 200_000)),
)
texts = st.one_of(
    st.text(max_size=200),
    nasty_text,
    st.sampled_from(["", " ", "\n\t ", "\x00", "hello", "ok\r\n"]),
    huge_text,
)
texts_with_surrogates = st.one_of(
    texts,
    st.builds(
        lambda a, s, b: a + s + b,
        st.text(max_size=20),
        st.sampled_from(SURROGATES),
        st.text(max_size=20),
    ),
)

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=50),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5), st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=12,
)

FIELDS = ("message_id", "session_id", "role", "message", "user_id", "timestamp", "metadata")


def _wrong(kind: str) -> st.SearchStrategy[Any]:
    """Values of the wrong type for a field."""
    del kind
    return st.one_of(
        st.integers(),
        st.booleans(),
        st.lists(json_scalars, max_size=3),
        st.dictionaries(st.text(max_size=5), json_scalars, max_size=3),
        st.floats(allow_nan=False, allow_infinity=False),
    )


metadata = st.one_of(
    st.none(),
    st.dictionaries(st.text(max_size=20), json_values, max_size=6),
    st.builds(lambda n: {"blob": "x" * n}, st.integers(16_000, 20_000)),
    json_values,
)


def message_payloads(owner: str | None, session_id: str) -> st.SearchStrategy[dict[str, Any]]:
    """Message-shaped JSON objects: right and wrong types, missing and unknown fields."""
    optional: dict[str, st.SearchStrategy[Any]] = {
        "message_id": st.one_of(any_ids, _wrong("id")),
        "session_id": st.one_of(st.just(session_id), any_ids, _wrong("id")),
        "user_id": st.one_of(st.just(owner) if owner else st.none(), any_ids, _wrong("id")),
        "role": st.one_of(
            st.sampled_from(["user", "assistant", "system", "error", "USER", ""]), _wrong("role")
        ),
        "metadata": metadata,
        "reply_to": st.one_of(st.none(), any_ids),
        "seq": st.one_of(st.none(), st.integers(-5, 10**12)),
        "stream": st.one_of(st.booleans(), _wrong("bool")),
        "timestamp": st.one_of(st.none(), st.just("2024-01-01T00:00:00Z"), st.text(max_size=30)),
    }
    extra = st.dictionaries(
        st.text(max_size=15).filter(lambda key: key not in ChatMessage.model_fields),
        json_values,
        max_size=3,
    )
    base = st.fixed_dictionaries({"message": st.one_of(texts, _wrong("text"))}, optional=optional)
    missing_message = st.fixed_dictionaries({}, optional=optional)
    return st.one_of(
        base,
        missing_message,
        st.builds(lambda body, unknown: {**body, **unknown}, base, extra),
    )


def valid_messages(owner: str | None, session_id: str) -> st.SearchStrategy[dict[str, Any]]:
    """Messages every session must accept."""
    printable = st.text(
        alphabet=st.characters(exclude_categories=("Cc", "Cs")), min_size=1, max_size=200
    ).filter(lambda text: bool(text.strip()))
    return st.fixed_dictionaries(
        {"message": printable},
        optional={
            "message_id": valid_ids,
            "session_id": st.just(session_id),
            "user_id": st.just(owner) if owner else st.none(),
            "role": st.just("user"),
            "metadata": st.dictionaries(st.text(max_size=10), json_scalars, max_size=3),
            "stream": st.just(False),
        },
    )


def payloads(owner: str | None, session_id: str) -> st.SearchStrategy[Any]:
    """Anything a caller could send as the message argument (JSON-transmissible)."""
    return st.one_of(
        json_values,
        message_payloads(owner, session_id),
        valid_messages(owner, session_id),
    )


def json_transmissible(value: Any) -> bool:
    """Whether ``value`` survives being sent as a JSON payload (no lone surrogates)."""
    try:
        json.dumps(value, ensure_ascii=False).encode()
    except (UnicodeEncodeError, ValueError, TypeError):
        return False
    return True
