"""Streamed items of old turns are truncated, on the time-skipping server."""

from datetime import timedelta

import pytest
from temporalio.contrib.workflow_streams import PollInput, PollResult
from temporalio.testing import WorkflowEnvironment

from client import Delta, SessionClient
from models import SessionConfig
from models.stream import turn_topic
from tests.helpers import new_session_id

pytestmark = pytest.mark.timeskipping


async def _stream(sessions: SessionClient, session_id: str, text: str, message_id: str) -> str:
    parts = []
    async for item in sessions.stream(
        session_id, text, message_id=message_id, config=SessionConfig(search_attributes=False)
    ):
        if isinstance(item, Delta):
            parts.append(str(item))
    return "".join(parts)


async def test_old_turn_items_are_dropped(
    ts_env: WorkflowEnvironment, ts_sessions: SessionClient
) -> None:
    session_id = new_session_id("retain")
    assert await _stream(ts_sessions, session_id, "first turn", "r-1") == "echo: first turn"
    handle = ts_sessions.handle(session_id)

    async def retained(message_id: str) -> int:
        result = await handle.query(
            "__temporal_workflow_stream_poll",
            PollInput(topics=[turn_topic(message_id)], from_offset=0),
            result_type=PollResult,
        )
        return len(result.items)

    assert await retained("r-1") > 0
    await ts_env.sleep(timedelta(minutes=5))
    assert await _stream(ts_sessions, session_id, "second turn", "r-2") == "echo: second turn"
    assert await retained("r-1") == 0
    assert await retained("r-2") > 0
