"""The ``convoflow`` CLI with hostile arguments, run in-process against the dev server.

Each example builds an argv (ids with separators, arbitrary unicode, control characters,
huge strings, odd numbers), parses it with the real parser and runs the real command
(``cli.main.run_command``) with ``--json``. What must hold:

- argparse refusals exit 2; otherwise the command returns 0, 1 or 2 and never raises;
- with ``--json`` the output is exactly one JSON document, errors included;
- bad ids or a bad message exit 2 with an error naming what is wrong; good input exits 0
  (``send``: the echo reply) or 1 (``status``/``history`` of a session that does not exist).
"""

import asyncio
import contextlib
import io
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cli.main import run_command
from cli.parser import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, build_parser
from client import SessionClient
from models import InvalidIdError, SessionConfig, validate_id
from models.settings import Settings
from tests.faults import figures
from tests.faults.checks import expect_fixed
from tests.property import strategies as s
from workflows.inbound import InvalidMessageError, parse_inbound

EXAMPLES = 1_200
MAX_ERROR_CHARS = 4_000
BAD_INPUT_TYPES = {"InvalidIdError", "ValidationError", "InvalidMessage", "UsageError"}
CLI_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

maybe_ids = st.one_of(st.none(), s.any_ids)
limits = st.one_of(st.none(), st.integers(-3, 10**6).map(str), st.sampled_from(["x", "1.5", ""]))


@dataclass
class Outcome:
    """What one CLI run did."""

    code: int | str
    stdout: str
    stderr: str


def _valid_id(value: str | None) -> bool:
    if value is None or value == "":
        return True  # not given (an empty flag is ignored, like an unset variable)
    try:
        validate_id("id", value)
    except InvalidIdError:
        return False
    return True


def _unique(session_id: str) -> str:
    """Make a valid session id unique to this example (so examples never share a session)."""
    if not _valid_id(session_id) or not session_id:
        return session_id
    return f"{session_id[:110]}-{uuid.uuid4().hex[:8]}"


async def _run(argv: list[str]) -> Outcome:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            args = build_parser().parse_args(argv)
        except SystemExit as exit_:
            return Outcome(f"argparse:{exit_.code}", out.getvalue(), err.getvalue())
        code = await asyncio.wait_for(run_command(args), 120)
    return Outcome(code, out.getvalue(), err.getvalue())


def _connection(dev_settings: Settings) -> list[str]:
    return [
        "--address",
        dev_settings.connection.temporal_address,
        "--task-queue",
        dev_settings.connection.task_queue,
        "--data-dir",
        str(dev_settings.memory.data_dir),
        "--model",
        "echo",
    ]


def _options(session: str, tenant: str | None, user: str | None) -> list[str]:
    argv = ["--json", "--session", session]
    if tenant is not None:
        argv += ["--tenant", tenant]
    if user is not None:
        argv += ["--user", user]
    return argv


def _one_document(outcome: Outcome) -> dict[str, Any] | list[Any]:
    lines = outcome.stdout.splitlines()
    assert len(lines) == 1, outcome
    document: dict[str, Any] | list[Any] = json.loads(lines[0])
    return document


def _check_bad_input(outcome: Outcome) -> None:
    if isinstance(outcome.code, str):  # argparse said no, on stderr, with the usage line
        assert outcome.code == "argparse:2" and "error:" in outcome.stderr, outcome
        return
    assert outcome.code == EXIT_BAD_INPUT, outcome
    document = _one_document(outcome)
    assert isinstance(document, dict)
    error = document["error"]
    assert error["type"] in BAD_INPUT_TYPES and error["message"], error
    assert len(error["message"]) <= MAX_ERROR_CHARS


def _text_ok(text: str) -> bool:
    try:
        parse_inbound({"message": text}, SessionConfig(), "s", None)
    except InvalidMessageError:
        return False
    return True


@CLI_SETTINGS
@given(
    command=st.sampled_from(["send", "send", "status", "history"]),
    session=s.any_ids,
    tenant=maybe_ids,
    user=maybe_ids,
    message_id=maybe_ids,
    text=s.texts,
    limit=limits,
)
async def test_cli_classifies_every_input(
    sessions: SessionClient,
    dev_settings: Settings,
    command: str,
    session: str,
    tenant: str | None,
    user: str | None,
    message_id: str | None,
    text: str,
    limit: str | None,
) -> None:
    started = time.monotonic()
    session = _unique(session)
    argv = [command, *_connection(dev_settings), *_options(session, tenant, user)]
    # Every command checks --user (status and history answer only the owner).
    checked = (session, tenant, user)
    ids_ok = all(_valid_id(value) for value in checked) and session != ""
    if command == "send":
        if message_id is not None:
            argv += ["--message-id", message_id]
        argv.append(text)
        good = ids_ok and _valid_id(message_id) and _text_ok(text)
    else:
        if command == "history" and limit is not None:
            argv += ["--limit", limit]
            good = ids_ok and limit.isdigit()
        else:
            good = ids_ok
    outcome = await _run(argv)

    figures.count("hypothesis: convoflow CLI args (in-process, dev server)", "examples")
    figures.count(
        "hypothesis: convoflow CLI args (in-process, dev server)",
        "ms",
        int((time.monotonic() - started) * 1000),
    )
    if not good:
        _check_bad_input(outcome)
        return
    if isinstance(outcome.code, str):
        # argparse reads a value starting with "-" as an option: still bad input, exit 2.
        _check_bad_input(outcome)
        assert any(
            part.startswith("-")
            for part in (session, tenant, user, message_id, text, limit)
            if part
        )
        return
    document = _one_document(outcome)
    if command == "send":
        assert outcome.code == EXIT_OK, outcome
        assert isinstance(document, dict)
        assert document["reply"] == f"echo: {text}" and document["duplicate"] is False
        if message_id:
            assert document["message_id"] == message_id
        figures.count("hypothesis: convoflow CLI args (in-process, dev server)", "turns")
    else:
        assert outcome.code == EXIT_FAILED, outcome
        assert isinstance(document, dict)
        assert document["error"]["type"] == "SessionNotFoundError"


SURROGATE_TEXTS = ["a\udcffb", "\udc80", "caf\udce9"]  # invalid UTF-8 bytes in argv


@pytest.mark.parametrize("text", SURROGATE_TEXTS)
async def test_cli_send_rejects_undecodable_text(
    sessions: SessionClient, dev_settings: Settings, text: str
) -> None:
    session = f"cli-{uuid.uuid4().hex[:8]}"
    argv = ["send", *_connection(dev_settings), *_options(session, None, None), text]
    outcome: Outcome | None = None
    crash: Exception | None = None
    try:
        outcome = await _run(argv)
    except Exception as err:
        crash = err
    expect_fixed(crash is None, f"convoflow send raised {type(crash).__name__}: {crash}")
    assert outcome is not None
    expect_fixed(outcome.code == EXIT_BAD_INPUT, f"exit {outcome.code}: {outcome.stdout}")
    _check_bad_input(outcome)


@pytest.mark.parametrize("text", ["", "   ", "bell\x07", "x" * 40_000])
async def test_cli_submit_rejects_invalid_text(
    sessions: SessionClient, dev_settings: Settings, text: str
) -> None:
    session = f"cli-{uuid.uuid4().hex[:8]}"
    argv = ["submit", *_connection(dev_settings), *_options(session, None, None), text]
    outcome = await _run(argv)
    expect_fixed(outcome.code == EXIT_BAD_INPUT, f"exit {outcome.code}: {outcome.stdout}")
    _check_bad_input(outcome)


printable = st.text(
    alphabet=st.characters(exclude_categories=("Cc", "Cs")), min_size=1, max_size=300
).filter(lambda text: bool(text.strip()) and not text.startswith("-"))
plain_ids = st.one_of(st.none(), s.valid_ids.filter(lambda value: not value.startswith("-")))


@settings(max_examples=150, deadline=None, database=None)
@given(tenant=plain_ids, user=plain_ids, message_id=plain_ids, text=printable)
async def test_cli_send_answers_every_valid_input(
    sessions: SessionClient,
    dev_settings: Settings,
    tenant: str | None,
    user: str | None,
    message_id: str | None,
    text: str,
) -> None:
    session = f"cli-{uuid.uuid4().hex[:8]}"
    argv = ["send", *_connection(dev_settings), *_options(session, tenant, user)]
    if message_id is not None:
        argv += ["--message-id", message_id]
    outcome = await _run([*argv, text])
    assert outcome.code == EXIT_OK, outcome
    document = _one_document(outcome)
    assert isinstance(document, dict)
    assert document["reply"] == f"echo: {text}"
    assert document["session_id"] == session and document["tenant_id"] == (tenant or "default")
    if message_id is not None:
        assert document["message_id"] == message_id
    figures.count("hypothesis: convoflow CLI args (in-process, dev server)", "examples")
    figures.count("hypothesis: convoflow CLI args (in-process, dev server)", "turns")
