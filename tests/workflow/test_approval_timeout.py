"""The approval timer on the time-skipping server: a request nobody answers for 24 h is
denied when its deadline passes (not before), the model is told, the turn answers."""

import asyncio
from datetime import timedelta

import pytest
from temporalio.testing import WorkflowEnvironment

from client import SessionClient
from models import SessionConfig
from tests.helpers import new_session_id
from tests.integration.test_approvals import pending
from workflows.tool_calls import kept_tool_calls

pytestmark = pytest.mark.timeskipping


async def test_nobody_answers_for_24h_and_the_call_is_denied(
    ts_env: WorkflowEnvironment, ts_sessions: SessionClient
) -> None:
    session_id = new_session_id("approval-timeout")
    config = SessionConfig(
        agent="guarded",
        model="echo",
        search_attributes=False,
        approval_timeout=timedelta(hours=24),
        idle_timeout=timedelta(hours=48),
    )
    with ts_env.auto_time_skipping_disabled():
        turn = asyncio.create_task(
            ts_sessions.send(session_id, '/tool echo_args {"text": "t"}', config=config)
        )
        (request,) = await pending(ts_sessions, session_id)
    assert request.deadline - request.asked_at == timedelta(hours=24)
    await ts_env.sleep(timedelta(hours=23))
    assert not turn.done()
    assert [r.state for r in await ts_sessions.approvals(session_id)] == ["pending"]
    await ts_env.sleep(timedelta(hours=2))
    reply = await asyncio.wait_for(turn, 30)
    assert "Nobody approved this echo_args call within 24 h" in reply.reply
    (call,) = kept_tool_calls((await ts_sessions.history(session_id))[1])
    assert call.status == "error" and "did not run" in call.result
    status = await ts_sessions.status(session_id)
    assert status.status == "active" and status.approvals == []
