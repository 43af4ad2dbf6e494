"""Steering's pure parts: the model's view without alternatives, regenerate markers, and
how a model activity answers a cancel (in Temporal's activity test environment)."""

import asyncio
import dataclasses
from typing import Any

import pytest
from temporalio import activity
from temporalio.activity import ActivityCancellationDetails
from temporalio.testing import ActivityEnvironment

from activities.providers import EchoModel
from activities.providers.validation import ValidatedStreamModel
from models import ChatMessage
from workflows.session.steering import current_messages, regenerating


def _m(message_id: str, role: Any, text: str, **extra: Any) -> ChatMessage:
    return ChatMessage(message_id=message_id, role=role, message=text, **extra)


def test_current_messages_leave_out_alternatives_and_empty_cancelled_replies() -> None:
    window = [
        _m("u1", "user", "one"),
        _m("a1", "assistant", "old", reply_to="u1", metadata={"alternative": True}),
        _m("a2", "assistant", "new", reply_to="u1", metadata={"replaces": "a1"}),
        _m("u2", "user", "two"),
        _m("a3", "assistant", "", reply_to="u2", metadata={"stop_reason": "cancelled"}),
        _m("u3", "user", "three"),
        _m("a4", "assistant", "from memory, unflagged", reply_to="u3"),
        _m("a5", "assistant", "regenerated", reply_to="u3", metadata={"replaces": "a4"}),
    ]
    assert [m.message_id for m in current_messages(window)] == ["u1", "a2", "u2", "u3", "a5"]


def test_only_queued_copies_with_reply_to_are_regenerate_requests() -> None:
    assert regenerating(_m("r", "user", "again", reply_to="u1"))
    assert not regenerating(_m("u1", "user", "hi"))
    assert not regenerating(_m("a", "assistant", "x", reply_to="u1"))


def _model_activity_env() -> ActivityEnvironment:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, activity_type="invoke_model_streaming")
    return env


async def _stream_for(seconds: float, env: ActivityEnvironment, **details: bool) -> list[Any]:
    model = ValidatedStreamModel(EchoModel(delay_ms=50), "echo", heartbeat_every=0.05)
    messages: Any = [{"role": "user", "content": [{"text": " ".join(["w"] * 100)}]}]

    async def invoke() -> list[Any]:
        return [event async for event in model.stream(messages)]

    async def cancel_later() -> None:
        await asyncio.sleep(seconds)
        env.cancel(cancellation_details=ActivityCancellationDetails(**details))

    canceller = asyncio.create_task(cancel_later())
    try:
        return await env.run(invoke)
    finally:
        await canceller


async def test_a_requested_cancel_ends_the_stream_with_what_it_has() -> None:
    heartbeats: list[Any] = []
    env = _model_activity_env()
    env.on_heartbeat = lambda *details: heartbeats.append(details)
    events = await _stream_for(0.5, env, cancel_requested=True)
    text = "".join(
        e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e
    )
    assert text.startswith("echo: w w") and len(text.split()) < 20
    assert events[-2:] == [{"contentBlockStop": {}}, {"messageStop": {"stopReason": "cancelled"}}]
    assert len(heartbeats) >= 5  # every 25 ms, not only the plugin's 15 s


@pytest.mark.parametrize("reason", ["worker_shutdown", "timed_out", "paused"])
async def test_other_cancels_still_fail_the_attempt(reason: str) -> None:
    with pytest.raises(asyncio.CancelledError):
        await _stream_for(0.3, _model_activity_env(), cancel_requested=True, **{reason: True})


async def test_outside_model_activities_nothing_changes() -> None:
    env = ActivityEnvironment()  # e.g. memory extraction, which also streams a model
    with pytest.raises(asyncio.CancelledError):
        await _stream_for(0.3, env, cancel_requested=True)
    assert activity.in_activity() is False
