"""Hostile input never wedges a session: what admission takes, every later step can decode,
and a signal nobody can decode is refused visibly (never dropped with a log line)."""

import asyncio
from typing import Any

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.client import WorkflowUpdateFailedError
from temporalio.common import RawValue
from temporalio.exceptions import ApplicationError

from client import SessionClient
from models import Refusal
from tests.helpers import eventually, new_session_id

OWNER = "mallory"


def nested(depth: int) -> dict[str, Any]:
    """``{"a": {"a": ...}}`` ``depth`` levels deep."""
    root: dict[str, Any] = {}
    node = root
    for _ in range(depth - 1):
        node["a"] = {}
        node = node["a"]
    return root


async def _open(sessions: SessionClient, prefix: str) -> str:
    session_id = new_session_id(prefix)
    await sessions.send(session_id, "hello", user_id=OWNER)
    return session_id


async def _still_healthy(sessions: SessionClient, session_id: str) -> None:
    """The session answers, its history reads, and close completes in bounded time."""
    reply = await sessions.send(session_id, "still there?", user_id=OWNER)
    assert reply.reply == "echo: still there?"
    history = await sessions.history(session_id, user_id=OWNER)
    assert all(m.metadata is None or "a" not in m.metadata for m in history)
    summary = await asyncio.wait_for(sessions.close(session_id, reason="bye"), timeout=60)
    assert summary is not None and summary.status == "closed"


@pytest.mark.parametrize("depth", [25, 200, 1000])
async def test_update_refuses_deeply_nested_metadata(sessions: SessionClient, depth: int) -> None:
    session_id = await _open(sessions, "deep-update")
    handle = sessions.handle(session_id)
    # Raw JSON: past ~250 levels no JSON encoder of ours would even produce it.
    metadata = '{"a": ' * (depth - 1) + "{}" + "}" * (depth - 1)
    text = f'{{"message": "deep", "message_id": "deep-{depth}", "metadata": {metadata}}}'
    payload = RawValue(Payload(metadata={"encoding": b"json/plain"}, data=text.encode()))
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update("send_message", payload)
    cause = refused.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == Refusal.INVALID_MESSAGE
    assert "nested more than 20 levels" in cause.message or "decod" in cause.message.lower()
    await _still_healthy(sessions, session_id)


async def test_signal_refuses_deeply_nested_metadata(sessions: SessionClient) -> None:
    session_id = await _open(sessions, "deep-signal")
    handle = sessions.handle(session_id)
    await handle.signal("submit_message", {"message": "deep", "metadata": nested(200)})
    status = await eventually(
        lambda: sessions.status(session_id, user_id=OWNER), lambda s: len(s.issues) == 1
    )
    assert "refused submitted message: metadata is nested more than 20 levels" in status.issues[0]
    await _still_healthy(sessions, session_id)


@pytest.mark.parametrize(
    "payload",
    [
        Payload(metadata={"encoding": b"binary/unheard-of"}, data=b"\x00\x01"),
        Payload(metadata={"encoding": b"json/plain"}, data=b"[" * 1000 + b"]" * 1000),
        Payload(metadata={"encoding": b"json/plain"}, data=b'{"message": '),
    ],
    ids=["unknown-encoding", "nested-1000", "truncated-json"],
)
async def test_undecodable_signal_is_refused_visibly(
    sessions: SessionClient, payload: Payload
) -> None:
    session_id = await _open(sessions, "undecodable")
    handle = sessions.handle(session_id)
    await handle.signal("submit_message", RawValue(payload))
    status = await eventually(
        lambda: sessions.status(session_id, user_id=OWNER), lambda s: len(s.issues) == 1
    )
    assert "refused submitted message: payload cannot be decoded" in status.issues[0]
    await _still_healthy(sessions, session_id)


async def test_unknown_signal_name_is_refused_visibly(sessions: SessionClient) -> None:
    session_id = await _open(sessions, "unknown-signal")
    await sessions.handle(session_id).signal("submit_mesage", {"message": "typo"})
    status = await eventually(
        lambda: sessions.status(session_id, user_id=OWNER), lambda s: len(s.issues) == 1
    )
    assert "refused signal 'submit_mesage'" in status.issues[0]
    await _still_healthy(sessions, session_id)
