"""A worker SIGKILLed while a tool activity runs: the tool is retried on the next worker
with the same context and idempotency key, the turn completes once, the client gets one
reply and the history has each tool call once."""

import asyncio
import json
import uuid
from pathlib import Path

from temporalio.api.enums.v1 import PendingActivityState
from temporalio.service import RPCError

from client import SessionClient
from models import ChatReply, SessionConfig
from tests.conftest import make_settings
from tests.faults.procs import WorkerProcess
from tests.helpers import assert_well_formed, eventually, new_session_id
from worker.client import connect_client
from workflows.tool_calls import kept_tool_calls


async def test_worker_killed_during_a_tool_call(dev_address: str, tmp_path: Path) -> None:
    queue = f"tool-crash-{uuid.uuid4().hex[:8]}"
    log = tmp_path / "tools.log"
    worker = WorkerProcess(
        dev_address,
        queue,
        tmp_path / "data",
        tmp_path,
        echo_delay_ms=0,
        extra_env={"CONVOFLOW_AGENTS": "tests.agents", "TESTS_TOOL_LOG": str(log)},
    )
    settings = make_settings(dev_address, tmp_path / "data", task_queue=queue)
    sessions = SessionClient(await connect_client(settings), settings)
    session_id = new_session_id("tool-crash")
    text = '/tool echo_args {"text": "before"}\n/tool slow_step {"seconds": 3, "label": "crash"}'
    await worker.start()
    try:
        turn = asyncio.create_task(
            sessions.send(
                session_id,
                text,
                config=SessionConfig(agent="tester", model="echo"),
                user_id="ann",
                message_id="crash-1",
            )
        )
        handle = sessions.handle(session_id)

        async def tool_running() -> bool:
            try:
                pending = (await handle.describe()).raw_description.pending_activities
            except RPCError:
                return False  # not started yet
            return any(
                p.activity_type.name == "slow_step"
                and p.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
                for p in pending
            )

        await eventually(tool_running, lambda running: running, timeout=60, interval=0.05)
        await worker.kill()
        assert not turn.done()
        await worker.start()
        reply = await asyncio.wait_for(turn, 120)
        await check(sessions, session_id, text, reply, log)
    finally:
        await worker.stop()


async def check(
    sessions: SessionClient, session_id: str, text: str, reply: ChatReply, log: Path
) -> None:
    """One reply, each call once in history, the tool run twice for the same call."""
    assert reply.reply == "echo: before | crash done (attempt 2)"
    assert not reply.duplicate
    history = await sessions.history(session_id)
    assert_well_formed(history)
    assert len(history) == 2
    calls = kept_tool_calls(history[1])
    assert [(c.name, c.status) for c in calls] == [
        ("echo_args", "success"),
        ("slow_step", "success"),
    ]
    runs = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["tool"] for r in runs] == ["echo_args", "slow_step", "slow_step"]
    # The retry acted for the same call: same context, same idempotency key.
    assert (
        runs[1]["key"] == runs[2]["key"] == f"default:{session_id}:crash-1:{calls[1].tool_use_id}"
    )
    status = await sessions.status(session_id)
    assert status.turns == 1 and status.issues == []
    again = await sessions.send(session_id, text, message_id="crash-1", user_id="ann")
    assert again.duplicate and again.reply == reply.reply
