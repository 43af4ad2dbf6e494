"""Approval of tool calls on a real dev server: the turn pauses durably for a person's answer
(status ``waiting_for_approval``, the requests in ``approvals()``, ``status()``, the stream
and the Temporal UI's details), approve runs the call, deny tells the model why, only the
owner answers, each request once, messages that arrive meanwhile queue behind the turn."""

import asyncio
import contextlib
import json
from typing import Any

import pytest

from client import MessageRejectedError, SessionClient, SessionNotFoundError
from models import ChatReply, Refusal, SessionConfig
from models.approvals import ApprovalRequest
from tests.agents import CALLS
from tests.helpers import assert_well_formed, new_session_id, temporal
from workflows.tool_calls import kept_tool_calls

GUARDED = SessionConfig(agent="guarded", model="echo")


async def pending(
    sessions: SessionClient, session_id: str, count: int = 1, **who: Any
) -> list[ApprovalRequest]:
    """Wait until ``count`` requests are pending; return them."""
    for _ in range(200):
        with contextlib.suppress(SessionNotFoundError):  # not started yet
            requests = await sessions.approvals(session_id, **who)
            waiting = [r for r in requests if r.state == "pending"]
            if len(waiting) >= count:
                return waiting
        await asyncio.sleep(0.05)
    raise AssertionError(f"{count} approval requests never became pending")


def calls_of(key_part: str) -> int:
    return sum(n for key, n in CALLS.items() if key.startswith("echo_args:") and key_part in key)


async def test_an_approved_call_runs_once_and_the_turn_answers(sessions: SessionClient) -> None:
    session_id = new_session_id("approve")
    turn = asyncio.create_task(
        sessions.send(
            session_id,
            '/tool echo_args {"text": "pay", "times": 2}',
            config=GUARDED,
            user_id="ann",
            message_id="m-pay",
        )
    )
    (request,) = await pending(sessions, session_id, user_id="ann")
    assert (request.tool, request.input) == ("echo_args", {"text": "pay", "times": 2})
    assert request.deadline - request.asked_at == GUARDED.approval_timeout
    assert "guarded" in request.reason
    status = await sessions.status(session_id, user_id="ann")
    assert status.status == "waiting_for_approval"
    assert [r.id for r in status.approvals] == [request.id]
    assert "waiting for approval of echo_args" in status.current_step
    assert calls_of(f":{session_id}:") == 0  # nothing ran before the yes

    answered = await sessions.approve(session_id, request.id, user_id="ann")
    assert (answered.state, answered.answered_by) == ("approved", "ann")
    reply = await turn
    assert reply.reply == "echo: pay pay"
    assert calls_of(f":{session_id}:") == 1
    history = await sessions.history(session_id, user_id="ann")
    assert_well_formed(history)
    (call,) = kept_tool_calls(history[1])
    assert (call.name, call.status, call.result) == ("echo_args", "success", "pay pay")
    assert (await sessions.status(session_id)).status == "active"
    assert await sessions.approvals(session_id) == []


async def test_a_denied_call_tells_the_model_the_message(sessions: SessionClient) -> None:
    session_id = new_session_id("deny")
    turn = asyncio.create_task(
        sessions.send(session_id, '/tool echo_args {"text": "wire"}', config=GUARDED, user_id="ann")
    )
    (request,) = await pending(sessions, session_id)
    denied = await sessions.deny(session_id, request.id, message="not today", user_id="ann")
    assert (denied.state, denied.message) == ("denied", "not today")
    reply = await turn
    assert "denied" in reply.reply and "not today" in reply.reply
    assert calls_of(f":{session_id}:") == 0
    (call,) = kept_tool_calls((await sessions.history(session_id))[1])
    assert call.status == "error" and "not today" in call.result


async def test_only_the_owner_answers_and_only_once(sessions: SessionClient) -> None:
    session_id = new_session_id("owner")
    turn = asyncio.create_task(
        sessions.send(session_id, '/tool echo_args {"text": "x"}', config=GUARDED, user_id="ann")
    )
    (request,) = await pending(sessions, session_id)
    with pytest.raises(SessionNotFoundError):
        await sessions.approve(session_id, request.id, user_id="mallory")
    with pytest.raises(SessionNotFoundError):
        await sessions.approvals(session_id, user_id="mallory")
    with pytest.raises(MessageRejectedError) as unknown:
        await sessions.approve(session_id, "not-a-request", user_id="ann")
    assert unknown.value.kind == Refusal.UNKNOWN_APPROVAL
    assert (await pending(sessions, session_id))[0].state == "pending"  # refusals changed nothing
    await sessions.approve(session_id, request.id, user_id="ann")
    with pytest.raises(MessageRejectedError) as again:
        await sessions.deny(session_id, request.id, user_id="ann")
    assert again.value.kind == Refusal.UNKNOWN_APPROVAL
    assert (await turn).reply == "echo: x"


async def test_several_calls_wait_at_once_and_messages_queue_behind(
    sessions: SessionClient,
) -> None:
    session_id = new_session_id("several")
    config = GUARDED.model_copy(update={"require_approval": ["whoami"]})
    turn = asyncio.create_task(
        sessions.send(
            session_id,
            '/tool echo_args {"text": "a"} &\n/tool whoami &\n/tool echo_args {"text": "b"}',
            config=config,
            user_id="ann",
        )
    )
    first, second, third = await pending(sessions, session_id, 3)
    assert [r.tool for r in (first, second, third)] == ["echo_args", "whoami", "echo_args"]
    assert "this session asks" in second.reason
    later = asyncio.create_task(sessions.send(session_id, "after", user_id="ann"))
    await asyncio.sleep(0.3)
    assert not later.done() and (await sessions.status(session_id)).queued == 1
    await sessions.approve(session_id, third.id, user_id="ann")
    await sessions.deny(session_id, second.id, user_id="ann")
    assert not turn.done()  # one still waits
    await sessions.approve(session_id, first.id, user_id="ann")
    reply = await turn
    texts = reply.reply.removeprefix("echo: ").split(" | ")
    assert texts[0] == "a" and "denied" in texts[1] and texts[2] == "b"
    assert (await later).reply == "echo: after"


async def test_a_policy_decides_per_call(sessions: SessionClient) -> None:
    session_id = new_session_id("policy")
    config = SessionConfig(agent="guarded-policy", model="echo")
    free = await sessions.send(
        session_id, '/tool echo_args {"text": "a", "times": 2}', config=config
    )
    assert free.reply == "echo: a a"
    turn = asyncio.create_task(
        sessions.send(session_id, '/tool echo_args {"text": "b", "times": 5}')
    )
    (request,) = await pending(sessions, session_id)
    assert request.reason == "repeating more than three times"
    await sessions.approve(session_id, request.id)  # an operator (no user) may answer
    assert (await turn).reply == "echo: b b b b b"


async def test_a_stream_carries_the_request_and_its_answer(sessions: SessionClient) -> None:
    session_id = new_session_id("stream")
    seen: list[Any] = []

    async def read() -> None:
        async for item in sessions.stream(
            session_id, '/tool echo_args {"text": "s"}', config=GUARDED, user_id="ann"
        ):
            seen.append(item)

    reading = asyncio.create_task(read())
    (request,) = await pending(sessions, session_id)
    await sessions.approve(session_id, request.id, user_id="ann")
    await reading
    kinds = [type(item).__name__ for item in seen]
    assert "ApprovalEvent" in kinds, kinds
    events = [item for item in seen if type(item).__name__ == "ApprovalEvent"]
    assert [(e.kind, e.request.id, e.request.state) for e in events] == [
        ("approval_required", request.id, "pending"),
        ("approval_answered", request.id, "approved"),
    ]
    assert isinstance(seen[-1], ChatReply) and seen[-1].reply == "echo: s"


async def test_bad_approval_config_is_refused_before_anything_runs() -> None:
    with pytest.raises(ValueError, match="approval_timeout"):
        SessionConfig(approval_timeout=0)
    with pytest.raises(ValueError):
        SessionConfig(require_approval=["no spaces allowed"])
    assert json.loads(SessionConfig(require_approval=["a.b"]).model_dump_json())["require_approval"]


async def test_an_operator_answers_from_the_temporal_cli(
    sessions: SessionClient, dev_address: str
) -> None:
    session_id = new_session_id("cli")
    turn = asyncio.create_task(
        sessions.send(session_id, '/tool echo_args {"text": "op"}', config=GUARDED, user_id="ann")
    )
    (request,) = await pending(sessions, session_id)
    workflow_id = sessions.handle(session_id).id
    metadata = await temporal(dev_address, "workflow", "metadata", "--workflow-id", workflow_id)
    details = metadata["queryResult"][0]["currentDetails"]
    assert details.startswith("**waiting_for_approval**")
    assert f"approval {request.id}: echo_args" in details
    listed = await temporal(
        dev_address, "workflow", "query", "--workflow-id", workflow_id, "--name", "approvals"
    )
    assert [r["id"] for r in listed["queryResult"][0]] == [request.id]
    answer = json.dumps({"request_id": request.id, "approved": True})
    updated = await temporal(
        dev_address,
        "workflow", "update", "execute",
        "--workflow-id", workflow_id,
        "--name", "answer_approval",
        "--input", answer,
    )  # fmt: skip
    assert updated["result"]["state"] == "approved"
    assert (await turn).reply == "echo: op"


async def test_cancel_while_waiting_ends_the_turn_and_the_request(
    sessions: SessionClient,
) -> None:
    session_id = new_session_id("cancel-wait")
    turn = asyncio.create_task(
        sessions.send(session_id, '/tool echo_args {"text": "c"}', config=GUARDED, user_id="ann")
    )
    (request,) = await pending(sessions, session_id)
    later = asyncio.create_task(sessions.send(session_id, "next", user_id="ann"))
    result = await sessions.cancel(session_id, user_id="ann")
    assert result.status == "cancelled"
    reply = await turn
    assert reply.stop_reason == "cancelled"
    assert (await later).reply == "echo: next"
    with pytest.raises(MessageRejectedError):  # nothing waits any more
        await sessions.approve(session_id, request.id, user_id="ann")
    assert calls_of(f":{session_id}:") == 0
    assert (await sessions.status(session_id)).approvals == []
