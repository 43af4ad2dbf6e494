"""Hostile payloads against a real session on the dev server: the update and the signal.

Each hypothesis example is a batch of raw payloads (plain JSON values, as the ``temporal``
CLI or any SDK can send them) fired at fresh sessions. The pure validator
(``parse_inbound``) is the oracle:

- ``send_message`` (update): an invalid payload is rejected by the validator with the
  validator's own words (``InvalidMessage``, or ``SessionNotFound`` for another user's id)
  and leaves no event in the history; a valid one is answered.
- ``submit_message`` (signal): an invalid payload is refused and listed in
  ``status().issues`` (Temporal itself records every signal's input as an event; what must
  hold is that nothing invalid enters the conversation); a valid one becomes a turn.

And always: no workflow task fails, the conversation stays well-formed, the session keeps
working. Examples per run: ``CONVOFLOW_PROPERTY_BATCHES`` (default 40 update batches of 30
payloads and 20 signal batches of 3 x 20 payloads).
"""

import asyncio
import json
import os
import time
import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from client import SessionClient
from client.errors import MessageRejectedError, SessionNotFoundError, error_from_update
from models import ChatMessage, ChatReply, SessionConfig
from tests.faults import figures
from tests.helpers import assert_well_formed, eventually, new_session_id
from tests.property import strategies as s
from workflows.inbound import InvalidMessageError, NotOwnerError, parse_inbound

OWNER = "owner-1"
SESSION_PLACEHOLDER = "the-session"  # payload strategies use it; replaced per session
CONFIG = SessionConfig(model="echo")
OPEN_ID = f"open-{uuid.uuid4().hex}"
BATCHES = int(os.environ.get("CONVOFLOW_PROPERTY_BATCHES", "40"))
UPDATE_BATCH = 30
MAX_IN_FLIGHT_UPDATES = 8
UPDATE_FIGURES = "hypothesis: send_message update (dev server)"
SIGNAL_SESSIONS = 3
SIGNAL_BATCH = 20  # <= 20: status().issues keeps the last 20, so every refusal is visible
PROPERTY_SETTINGS: dict[str, Any] = {
    "deadline": None,
    "database": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}

# Mostly hostile, sometimes valid: valid payloads cost a real model turn.
hostile = st.one_of(
    s.json_values,
    s.message_payloads(OWNER, SESSION_PLACEHOLDER),
    s.message_payloads(OWNER, SESSION_PLACEHOLDER),
    s.valid_messages(OWNER, SESSION_PLACEHOLDER),
).filter(s.json_transmissible)


def _for_session(payload: Any, session_id: str) -> Any:
    if isinstance(payload, dict) and payload.get("session_id") == SESSION_PLACEHOLDER:
        return {**payload, "session_id": session_id}
    return payload


def _oracle(payload: Any, session_id: str) -> ChatMessage | InvalidMessageError:
    try:
        return parse_inbound(payload, CONFIG, session_id, OWNER)
    except InvalidMessageError as err:
        return err


async def _open(sessions: SessionClient) -> tuple[str, WorkflowHandle[Any, Any]]:
    session_id = new_session_id("prop")
    await sessions.send(session_id, "open", user_id=OWNER, message_id=OPEN_ID, config=CONFIG)
    return session_id, sessions.handle(session_id)


async def _task_failures(handle: WorkflowHandle[Any, Any]) -> list[Any]:
    events = (await handle.fetch_history()).events
    return [e for e in events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED]


async def _raw_update(
    handle: WorkflowHandle[Any, Any], payload: Any, in_flight: asyncio.Semaphore
) -> ChatReply | ApplicationError:
    try:
        for attempt in range(50):
            try:
                async with in_flight:
                    result: ChatReply = await asyncio.wait_for(
                        handle.execute_update("send_message", payload, result_type=ChatReply),
                        120,
                    )
                return result
            except RPCError as err:
                # Over the server's in-flight update limit: not admitted, so safe to resend.
                if err.status != RPCStatusCode.RESOURCE_EXHAUSTED or attempt == 49:
                    raise
                figures.count(UPDATE_FIGURES, "server_throttled_resends")
                await asyncio.sleep(0.1)
        raise AssertionError("unreachable")
    except WorkflowUpdateFailedError as err:
        assert isinstance(err.cause, ApplicationError), err.cause
        # The Python client turns it into an error a caller can act on.
        translated = error_from_update(err)
        assert isinstance(translated, MessageRejectedError | SessionNotFoundError), translated
        return err.cause


async def _still_works(sessions: SessionClient, session_id: str) -> None:
    reply = await sessions.send(session_id, "still working?", user_id=OWNER, config=CONFIG)
    assert reply.reply == "echo: still working?"


@settings(max_examples=BATCHES, **PROPERTY_SETTINGS)
@given(batch=st.lists(hostile, min_size=UPDATE_BATCH, max_size=UPDATE_BATCH))
async def test_send_message_update_rejects_bad_input_before_history(
    sessions: SessionClient, batch: list[Any]
) -> None:
    started = time.monotonic()
    session_id, handle = await _open(sessions)
    payloads = [_for_session(p, session_id) for p in batch]
    # The server admits 10 in-flight updates per workflow (history.maxInFlightUpdates).
    in_flight = asyncio.Semaphore(MAX_IN_FLIGHT_UPDATES)
    outcomes = await asyncio.gather(*(_raw_update(handle, p, in_flight) for p in payloads))

    accepted: dict[str, set[str]] = {}  # message id -> reply message ids
    for payload, outcome in zip(payloads, outcomes, strict=True):
        expected = _oracle(payload, session_id)
        if isinstance(expected, InvalidMessageError):
            assert isinstance(outcome, ApplicationError), (payload, outcome)
            kind = "SessionNotFound" if isinstance(expected, NotOwnerError) else "InvalidMessage"
            assert outcome.type == kind and outcome.non_retryable
            assert outcome.message == str(expected)
            continue
        assert isinstance(outcome, ChatReply), (payload, outcome)
        if expected.message_id is not None:
            assert outcome.message_id == expected.message_id
        accepted.setdefault(outcome.message_id, set()).add(outcome.reply_message_id)
        texts = {
            m.message
            for p in payloads
            if not isinstance(m := _oracle(p, session_id), InvalidMessageError)
            and (m.message_id or outcome.message_id) == outcome.message_id
        }
        assert outcome.reply in {f"echo: {text}" for text in texts}, outcome
    # A repeated id is answered once: every answer to it is the same reply.
    assert all(len(replies) == 1 for replies in accepted.values()), accepted

    history = await sessions.history(session_id, user_id=OWNER)
    assert_well_formed(history)
    users = [m for m in history if m.role == "user"][1:]
    assert {m.message_id for m in users} == set(accepted)
    for message in users:
        assert not isinstance(
            _oracle(message.model_dump(include={"message", "metadata"}), session_id),
            InvalidMessageError,
        )

    # Rejected updates left nothing; each accepted one exactly one "accepted" event.
    events = (await handle.fetch_history()).events
    update_events = [
        e for e in events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
    ]
    n_accepted = sum(1 for o in outcomes if isinstance(o, ChatReply))
    assert len(update_events) == 1 + n_accepted
    for event in update_events[1:]:
        raw = event.workflow_execution_update_accepted_event_attributes.accepted_request.input.args
        sent = json.loads(raw.payloads[0].data)
        assert not isinstance(_oracle(sent, session_id), InvalidMessageError), sent
    assert not [e for e in events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED]
    status = await sessions.status(session_id, user_id=OWNER)
    assert status.issues == [] and status.turns == 1 + len(accepted)
    await _still_works(sessions, session_id)
    figures.count(UPDATE_FIGURES, "payloads", len(payloads))
    figures.count(UPDATE_FIGURES, "examples")
    figures.count(UPDATE_FIGURES, "accepted_payloads", n_accepted)
    figures.count(
        UPDATE_FIGURES,
        "ms",
        int((time.monotonic() - started) * 1000),
    )


async def _signal_batch(sessions: SessionClient, batch: list[Any]) -> int:
    """Signal ``batch`` in order to a fresh session; check what it did; return accepted."""
    session_id, handle = await _open(sessions)
    payloads = [_for_session(p, session_id) for p in batch]
    for payload in payloads:
        await handle.signal("submit_message", payload)

    seen = {OPEN_ID}
    accepted: list[ChatMessage] = []
    refusals: list[str] = []
    for payload in payloads:
        expected = _oracle(payload, session_id)
        if isinstance(expected, InvalidMessageError):
            refusals.append(f"refused submitted message: {expected}")
        elif expected.message_id is None or expected.message_id not in seen:
            accepted.append(expected)
            if expected.message_id is not None:
                seen.add(expected.message_id)

    status = await eventually(
        lambda: sessions.status(session_id, user_id=OWNER),
        lambda got: (
            got.turns == 1 + len(accepted) and len(got.issues) >= len(refusals) and got.queued == 0
        ),
        timeout=120,
        interval=0.1,
    )
    issues = [issue.split(" ", 1)[1] for issue in status.issues]
    assert issues == refusals

    history = await sessions.history(session_id, user_id=OWNER)
    assert_well_formed(history)
    users = [m for m in history if m.role == "user"][1:]
    assert [m.message for m in users] == [m.message for m in accepted]
    for message, wanted in zip(users, accepted, strict=True):
        if wanted.message_id is not None:
            assert message.message_id == wanted.message_id
    assert not await _task_failures(handle)
    await _still_works(sessions, session_id)
    return len(accepted)


@settings(max_examples=max(1, BATCHES // 2), **PROPERTY_SETTINGS)
@given(
    batches=st.lists(
        st.lists(hostile, min_size=SIGNAL_BATCH, max_size=SIGNAL_BATCH),
        min_size=SIGNAL_SESSIONS,
        max_size=SIGNAL_SESSIONS,
    )
)
async def test_submit_message_signal_refuses_bad_input_and_keeps_working(
    sessions: SessionClient, batches: list[list[Any]]
) -> None:
    started = time.monotonic()
    accepted = await asyncio.gather(*(_signal_batch(sessions, batch) for batch in batches))
    name = "hypothesis: submit_message signal (dev server)"
    figures.count(name, "payloads", sum(len(batch) for batch in batches))
    figures.count(name, "examples")
    figures.count(name, "accepted_payloads", sum(accepted))
    figures.count(name, "ms", int((time.monotonic() - started) * 1000))
