"""A worker SIGKILLed while a turn waits for approval: nothing is lost. The request is still
pending on the next worker, the approval completes the turn once, the tool ran once, the
client gets one reply."""

import asyncio
import json
import uuid
from pathlib import Path

from client import SessionClient
from models import SessionConfig
from tests.conftest import make_settings
from tests.faults.procs import WorkerProcess
from tests.helpers import assert_well_formed, new_session_id
from tests.integration.test_approvals import pending
from worker.client import connect_client
from workflows.tool_calls import kept_tool_calls


async def test_worker_killed_while_waiting_for_approval(dev_address: str, tmp_path: Path) -> None:
    queue = f"approval-crash-{uuid.uuid4().hex[:8]}"
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
    session_id = new_session_id("approval-crash")
    config = SessionConfig(agent="guarded", model="echo")
    await worker.start()
    try:
        turn = asyncio.create_task(
            sessions.send(
                session_id, '/tool echo_args {"text": "kept"}', config=config, user_id="ann"
            )
        )
        (before,) = await pending(sessions, session_id, user_id="ann")
        await worker.kill()
        queued = asyncio.create_task(sessions.send(session_id, "meanwhile", user_id="ann"))
        await worker.start()  # a new worker (a deploy or a restart) replays the paused turn
        (after,) = await pending(sessions, session_id, user_id="ann")
        assert after == before  # the same request, the same deadline
        assert not turn.done()
        await sessions.approve(session_id, after.id, user_id="ann")
        reply = await asyncio.wait_for(turn, 60)
        assert reply.reply == "echo: kept" and not reply.duplicate
        assert (await asyncio.wait_for(queued, 60)).reply == "echo: meanwhile"
        history = await sessions.history(session_id)
        assert_well_formed(history)
        assert [m.role for m in history] == ["user", "assistant", "user", "assistant"]
        (call,) = kept_tool_calls(history[1])
        assert (call.name, call.status, call.result) == ("echo_args", "success", "kept")
        runs = [json.loads(line) for line in log.read_text().splitlines()]
        assert [r["tool"] for r in runs] == ["echo_args"]  # once, after the approval
        status = await sessions.status(session_id)
        assert status.turns == 2 and status.issues == [] and status.approvals == []
    finally:
        await worker.stop()
