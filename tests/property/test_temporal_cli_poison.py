"""No poisoned sessions: malformed signals sent with Temporal's own CLI.

Anyone with access to the namespace can signal a session with ``temporal workflow signal``.
Whatever they send, the session must not fail a workflow task (that would wedge it until
someone terminates it): a payload the SDK cannot even decode reaches the handler raw and is
refused like any other, a decoded but invalid one too; each with a warning and listed in
``status().issues``, and the next message works.
"""

import asyncio
import logging
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType

from client import SessionClient
from tests.conftest import TEMPORAL_CLI
from tests.faults.checks import expect_fixed, terminate_wedged
from tests.helpers import eventually, new_session_id


async def temporal(address: str, *args: str) -> tuple[int, str]:
    """Run ``temporal <args> --address A``; return its exit code and output."""
    process = await asyncio.create_subprocess_exec(
        str(TEMPORAL_CLI),
        *args,
        "--address",
        address,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await process.communicate()
    return process.returncode or 0, out.decode(errors="replace")


async def _signal(address: str, workflow_id: str, name: str, *input_args: str) -> None:
    code, out = await temporal(
        address, "workflow", "signal", "--workflow-id", workflow_id, "--name", name, *input_args
    )
    assert code == 0, out  # the CLI says it worked whatever the session does with it


async def _task_failures(sessions: SessionClient, session_id: str) -> list[str]:
    events = (await sessions.handle(session_id).fetch_history()).events
    return [
        e.workflow_task_failed_event_attributes.failure.message
        for e in events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED
    ]


async def _handled(sessions: SessionClient, session_id: str, signals: int) -> None:
    """Wait until ``signals`` signals are in the history and a workflow task ran after the
    last one (completed or failed)."""

    async def progress() -> tuple[int, bool]:
        events = (await sessions.handle(session_id).fetch_history()).events
        signalled = [
            i
            for i, e in enumerate(events)
            if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
        ]
        after = events[signalled[-1] + 1 :] if signalled else []
        ran = any(
            e.event_type
            in (
                EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
                EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED,
            )
            for e in after
        )
        return len(signalled), ran

    await eventually(progress, lambda p: p[0] >= signals and p[1], timeout=60, interval=0.2)


async def test_undecodable_and_invalid_signals_are_refused_visibly_and_the_session_keeps_working(
    sessions: SessionClient, dev_address: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    session_id = new_session_id("poison")
    await sessions.send(session_id, "before")
    workflow_id = sessions.handle(session_id).id
    huge = tmp_path / "huge.json"
    huge.write_text('{"message": "' + "x" * 100_000 + '"}')
    cases: list[tuple[str, ...]] = [
        # Not decodable at all: an encoding no converter knows. The session receives the
        # raw payload and refuses it like any other bad input (the SDK used to drop it).
        ("--input-meta", "encoding=binary/garbage", "--input", '"x"'),
        ("--input-meta", "encoding=json/protobuf", "--input", '{"nope": 1}'),
        # Decodable, but not a message: refused by the handler, listed in issues.
        ("--input-meta", "encoding=binary/plain", "--input", '"raw bytes"'),
        ("--input", "null"),
        ("--input", "[1, 2, 3]"),
        ("--input", '{"message": 42}'),
        ("--input", '{"message": "hi", "role": "assistant"}'),
        ("--input", '{"message": "hi", "surprise": true}'),
        ("--input", '{"message": "\\u0000\\u001b[31m red"}'),
        ("--input", '{"message": "hi", "message_id": "a/b:c"}'),
        ("--input", '{"message": "hi", "session_id": "someone-else"}'),
        ("--input-file", str(huge)),
    ]
    for args in cases:
        await _signal(dev_address, workflow_id, "submit_message", *args)
    await _handled(sessions, session_id, len(cases))

    assert await _task_failures(sessions, session_id) == []
    status = await eventually(
        lambda: sessions.status(session_id), lambda s: len(s.issues) == len(cases)
    )
    assert all("refused submitted message" in issue for issue in status.issues)
    assert sum("payload cannot be decoded" in issue for issue in status.issues) == 2
    assert status.turns == 1 and status.queued == 0
    # Every refusal left a warning in the worker's log; nothing was dropped by the SDK.
    dropped = [r for r in caplog.records if "dropping the signal" in r.getMessage()]
    refused = [r for r in caplog.records if "refused submitted message" in r.getMessage()]
    assert dropped == [] and len(refused) == len(cases)
    assert all(r.levelno >= logging.WARNING for r in refused)

    reply = await sessions.send(session_id, "after")
    assert reply.reply == "echo: after"
    history = await sessions.history(session_id)
    assert [m.message for m in history] == ["before", "echo: before", "after", "echo: after"]


WEDGING_SIGNALS: list[tuple[str, tuple[str, ...]]] = [
    ("submit_message", ()),  # no input at all
    ("submit_message", ("--input", '{"message": "a"}', "--input", '{"message": "b"}')),
    ("close", ("--input", '"a"', "--input", '"b"')),
]


@pytest.mark.parametrize(
    ("name", "args"), WEDGING_SIGNALS, ids=["no-input", "two-inputs", "close-two"]
)
async def test_signal_with_wrong_argument_count_does_not_wedge_the_session(
    sessions: SessionClient, dev_address: str, name: str, args: tuple[str, ...]
) -> None:
    session_id = new_session_id("wedge")
    await sessions.send(session_id, "before")
    handle = sessions.handle(session_id)
    await _signal(dev_address, handle.id, name, *args)
    await _handled(sessions, session_id, 1)
    failures = await _task_failures(sessions, session_id)
    if failures:
        await terminate_wedged(handle)
    expect_fixed(failures == [], f"workflow task failed: {failures[0] if failures else ''}")
    reply = await asyncio.wait_for(sessions.send(session_id, "after"), 30)
    assert reply.reply == "echo: after"
