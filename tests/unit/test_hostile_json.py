"""Hostile input found by the attacker review: JSON, numbers, ids, token claims, file modes."""

import logging
import os
import stat
import time
from pathlib import Path
from typing import Any

import jwt
import pytest

from activities.memory import SqliteMemoryStore
from gateway.auth import AuthError, TokenVerifier
from models import ChatMessage, SessionRef
from models.ids import InvalidIdError, validate_id
from models.limits import (
    MAX_JSON_DEPTH,
    InvalidJsonError,
    loads_strict,
    parse_count,
    text_json_depth,
    too_long,
)
from models.storage import private_dir, private_file, warn_if_shared

SECRET = "unit-test-secret-0123456789abcdefghijklmnopqrstuvwxyz"


def test_deep_json_is_refused_before_the_recursive_parser() -> None:
    # 100,000 levels would blow Python's recursion limit inside json.loads.
    for text in ("[" * 100_000 + "]" * 100_000, '{"a":' * 5_000 + "1" + "}" * 5_000):
        with pytest.raises(InvalidJsonError, match="nested more than"):
            loads_strict(text)
    assert loads_strict("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH) is not None


def test_brackets_inside_strings_are_not_nesting() -> None:
    text = '{"prompt": "[[[[{{{{ \\" ]]]] \\\\", "x": [1]}'
    assert text_json_depth(text) == 2
    assert loads_strict(text)["prompt"].startswith("[[[[")


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ('{"prompt": "a", "prompt": "b"}', "appears twice"),
        ('{"x": {"k": 1, "k": 2}}', "appears twice"),
        ('{"n": NaN}', "not a JSON number"),
        ('{"n": -Infinity}', "not a JSON number"),
        ("{'single': 1}", "property name"),
        (b"\xff\xfe", "not UTF-8"),
    ],
)
def test_ambiguous_or_broken_json_is_refused(text: str | bytes, why: str) -> None:
    with pytest.raises(InvalidJsonError, match=why):
        loads_strict(text)


@pytest.mark.parametrize("raw", ["²", "\u0661\u0662", "1_000", "-1", " 1", "1e3", "", "9" * 10])
def test_numbers_are_ascii_digits_only(raw: str) -> None:
    # "²" and Arabic-Indic digits pass str.isdigit(), and int() then fails on "²": a 500.
    with pytest.raises(ValueError, match="digits 0-9"):
        parse_count(raw)
    assert not too_long(raw, 10)  # a header that is not a number announces nothing


def test_counts_parse() -> None:
    assert parse_count("0") == 0 and parse_count("250") == 250
    assert too_long("11", 10) and not too_long("10", 10) and not too_long(None, 10)


@pytest.mark.parametrize("value", [".", "..", "...", "." * 128])
def test_ids_of_only_dots_are_refused(value: str) -> None:
    with pytest.raises(InvalidIdError, match="not only dots"):
        validate_id("session id", value)


def test_ids_with_dots_and_other_characters_are_fine() -> None:
    for value in ("a.b", ".hidden", "v1.", "a" * 128):
        assert validate_id("session id", value) == value
    with pytest.raises(InvalidIdError):
        validate_id("session id", "a" * 129)


def _token(**claims: Any) -> str:
    base: dict[str, Any] = {
        "sub": "alice",
        "tenant": "acme",
        "exp": int(time.time()) + 600,
        "iss": "convoflow",
        "aud": "convoflow",
    }
    base.update(claims)
    return jwt.encode(base, SECRET, algorithm="HS256")


@pytest.mark.parametrize(
    "claims",
    [
        {"tenant": 123},
        {"tenant": True},
        {"sub": 42},
        {"sub": ["alice"]},
        {"exp": str(int(time.time()) + 600)},
        {"iat": "yesterday"},
        {"nbf": True},
    ],
)
def test_claims_must_have_their_json_types(claims: dict[str, Any]) -> None:
    verifier = TokenVerifier(secret=SECRET)
    assert verifier.verify(_token()).tenant_id == "acme"
    with pytest.raises(AuthError, match="invalid token"):
        verifier.verify(_token(**claims))


def test_data_files_are_private_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o000)
    try:
        data = tmp_path / "data" / "nested"
        db = private_file(data / "memory.db")
    finally:
        os.umask(old)
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    os.chmod(shared, 0o755)
    private_dir(shared)  # an existing directory is the user's: left alone
    assert stat.S_IMODE(shared.stat().st_mode) == 0o755


async def test_the_memory_store_and_its_wal_are_private(tmp_path: Path) -> None:
    old = os.umask(0o000)
    try:
        store = SqliteMemoryStore(tmp_path / "data" / "memory.db")
        ref = SessionRef(tenant_id="acme", session_id="s1", user_id="alice")
        message = ChatMessage(role="user", message="secret", message_id="m1", seq=1)
        assert await store.record_messages(ref, [message]) == 1
    finally:
        os.umask(old)
    files = sorted((tmp_path / "data").iterdir())
    assert {f.name for f in files} >= {"memory.db", "memory.db-wal"}
    for file in files:
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file.name
    assert stat.S_IMODE((tmp_path / "data").stat().st_mode) == 0o700
    await store.close()


def test_a_shared_key_file_is_reported(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "keys.json"
    path.write_text("{}")
    os.chmod(path, 0o644)
    with caplog.at_level(logging.WARNING, "convoflow.storage"):
        assert warn_if_shared(path, "codec key file")
    assert "chmod 600" in caplog.text and "0644" in caplog.text
    os.chmod(path, 0o600)
    assert not warn_if_shared(path, "codec key file")
