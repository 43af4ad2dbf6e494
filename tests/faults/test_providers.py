"""Misbehaving model providers: flaky, hanging, returning garbage.

A model call that fails after its retries becomes an error message in the
session, an entry in ``status().issues`` and an error reply to the waiting client; the
session stays open and the next message works. A provider must never be able to fail a
workflow task (that would wedge the session until someone terminates it).
"""

import time
import uuid
from datetime import timedelta

import pytest
from temporalio.api.enums.v1 import EventType, TimeoutType

from client import SessionClient
from client.errors import TurnFailedError
from models import SessionConfig
from tests.faults import figures
from tests.faults.checks import expect_fixed, outcome_or_wedged, replay_sessions
from tests.helpers import assert_well_formed, new_session_id
from tests.providers import FlakyModel, GarbageModel, HangingModel


def _tag() -> str:
    return uuid.uuid4().hex[:8]


async def _assert_failed_turn_recorded(
    sessions: SessionClient, session_id: str, message_id: str, config: SessionConfig
) -> str:
    """The failed turn left an error message and an issue; the next message works."""
    history = await sessions.history(session_id)
    assert_well_formed(history)
    error = history[-1]
    assert error.role == "error" and error.reply_to == message_id, error
    assert error.message.startswith("Session error: ")
    status = await sessions.status(session_id)
    assert any(f"turn {message_id} failed" in issue for issue in status.issues), status.issues
    assert status.status == "active" and status.queued == 0
    reply = await sessions.send(session_id, "still there?", config=config)
    assert reply.reply == "echo: still there?"
    await replay_sessions(sessions, [session_id])  # and no workflow task failed
    return error.message


async def test_provider_failing_n_times_then_succeeding(sessions: SessionClient) -> None:
    config = SessionConfig(model="flaky", model_max_attempts=4)
    session_id = new_session_id("flaky")
    prompt = f"flaky=2 answer me {_tag()}"
    started = time.monotonic()
    reply = await sessions.send(session_id, prompt, message_id="f-1", config=config)
    took = time.monotonic() - started
    assert reply.reply == f"echo: {prompt}" and not reply.duplicate
    assert FlakyModel.attempts[prompt] == 3  # N failures + the one that worked
    history = await sessions.history(session_id)
    assert_well_formed(history)
    assert [m.role for m in history] == ["user", "assistant"]
    status = await sessions.status(session_id)
    assert status.issues == [] and status.turns == 1
    await replay_sessions(sessions, [session_id])
    # Retries back off (1 s, then 2 s) inside one turn; nothing else is visible to the client.
    assert took >= 2.5, took
    figures.record("provider: fails N times", failures=2, attempts=3, turn_s=round(took, 1))


async def test_provider_failing_more_than_the_attempts(sessions: SessionClient) -> None:
    config = SessionConfig(model="flaky", model_max_attempts=2)
    session_id = new_session_id("flaky")
    await sessions.send(session_id, "hello", config=config)
    prompt = f"flaky=5 never mind {_tag()}"
    with pytest.raises(TurnFailedError, match="transient failure 2 of 5"):
        await sessions.send(session_id, prompt, message_id="f-2", config=config)
    assert FlakyModel.attempts[prompt] == 2  # exactly model_max_attempts, then it gave up
    message = await _assert_failed_turn_recorded(sessions, session_id, "f-2", config)
    assert "transient failure 2 of 5" in message
    # The same message id again gets the same failure, without calling the model again.
    with pytest.raises(TurnFailedError):
        await sessions.send(session_id, prompt, message_id="f-2", config=config)
    assert FlakyModel.attempts[prompt] == 2


async def test_hanging_provider_is_cut_off_by_the_start_to_close_timeout(
    sessions: SessionClient,
) -> None:
    # Heartbeats keep flowing while the provider hangs (the plugin sends them), so only the
    # per-attempt start-to-close timeout can catch a hang; the heartbeat timeout catches a
    # dead worker (tests/faults/test_worker_crash.py).
    config = SessionConfig(
        model="hanging",
        model_timeout=timedelta(seconds=2),
        model_heartbeat_timeout=timedelta(seconds=1),
        model_max_attempts=2,
    )
    session_id = new_session_id("hang")
    await sessions.send(session_id, "hello", config=config)
    prompt = f"hang forever {_tag()}"
    started = time.monotonic()
    with pytest.raises(TurnFailedError) as caught:
        await sessions.send(session_id, prompt, message_id="h-1", config=config)
    took = time.monotonic() - started
    assert "timeout" in str(caught.value).lower(), caught.value
    # Two attempts of 2 s plus a 1 s backoff; generous bounds for a busy machine.
    assert 4.5 <= took < 60, took
    assert HangingModel.started[prompt] == 2
    events = (await sessions.handle(session_id).fetch_history()).events
    timeouts = [
        e.activity_task_timed_out_event_attributes
        for e in events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT
    ]
    assert len(timeouts) == 1  # the last attempt's timeout ends the activity
    assert timeouts[0].failure.timeout_failure_info.timeout_type == (
        TimeoutType.TIMEOUT_TYPE_START_TO_CLOSE
    )
    await _assert_failed_turn_recorded(sessions, session_id, "h-1", config)
    figures.record(
        "provider: hangs", attempts=2, model_timeout_s=2, turn_failed_after_s=round(took, 1)
    )


@pytest.mark.parametrize(
    "kind", ["garbage-types", "garbage-shapes", "garbage-values", "garbage-stop-reason"]
)
async def test_provider_returning_malformed_events(sessions: SessionClient, kind: str) -> None:
    config = SessionConfig(model="garbage", model_max_attempts=2)
    session_id = new_session_id("garbage")
    await sessions.send(session_id, "hello", config=config)
    prompt = f"{kind} {_tag()}"
    outcome = await outcome_or_wedged(
        sessions.handle(session_id),
        sessions.send(session_id, prompt, message_id="g-1", config=config),
    )
    expect_fixed(not isinstance(outcome, list), f"workflow task failed: {outcome}")
    assert isinstance(outcome, TurnFailedError), outcome
    await _assert_failed_turn_recorded(sessions, session_id, "g-1", config)


async def test_provider_returning_unknown_events_does_not_wedge(sessions: SessionClient) -> None:
    # Only events Strands does not know and no messageStop: the stream validator treats it as
    # an incomplete stream (retryable), so the turn fails after its attempts. What must hold:
    # no failed workflow task, a well-formed history, and a working session.
    config = SessionConfig(model="garbage", model_max_attempts=2)
    session_id = new_session_id("garbage")
    await sessions.send(session_id, "hello", config=config)
    prompt = f"garbage-unknown {_tag()}"
    outcome = await outcome_or_wedged(
        sessions.handle(session_id),
        sessions.send(session_id, prompt, message_id="g-2", config=config),
    )
    assert not isinstance(outcome, list), f"workflow task failed: {outcome[0][:300]}"
    assert isinstance(outcome, TurnFailedError), outcome
    assert "without finishing the message" in str(outcome)
    assert GarbageModel.attempts[prompt] == 2
    history = await sessions.history(session_id)
    assert_well_formed(history)
    reply = await sessions.send(session_id, "next", config=config)
    assert reply.reply == "echo: next"
    await replay_sessions(sessions, [session_id])


async def test_provider_returning_an_empty_stream_is_a_failed_turn(
    sessions: SessionClient,
) -> None:
    config = SessionConfig(model="garbage", model_max_attempts=2)
    session_id = new_session_id("garbage")
    await sessions.send(session_id, "hello", config=config)
    prompt = f"garbage-unknown {_tag()}"
    outcome = await outcome_or_wedged(
        sessions.handle(session_id),
        sessions.send(session_id, prompt, message_id="g-3", config=config),
    )
    assert not isinstance(outcome, list), outcome
    expect_fixed(isinstance(outcome, TurnFailedError), f"the turn did not fail: {outcome!r}")
    await _assert_failed_turn_recorded(sessions, session_id, "g-3", config)
