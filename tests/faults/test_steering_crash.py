"""Steering across a SIGKILLed worker: a cancel sent while the worker is dead, and a
regenerate whose turn loses its worker, each settle once when a worker comes back."""

import asyncio
import time
import uuid
from datetime import timedelta
from pathlib import Path

from temporalio.api.enums.v1 import PendingActivityState

from client import SessionClient
from models import SessionConfig
from tests.conftest import make_settings
from tests.faults.procs import WorkerProcess
from tests.helpers import eventually, new_session_id
from worker.client import connect_client

WORDS = " ".join(f"w{i}" for i in range(60))  # 6 s at 100 ms a word


async def _setup(dev_address: str, tmp_path: Path) -> tuple[WorkerProcess, SessionClient]:
    queue = f"steer-crash-{uuid.uuid4().hex[:8]}"
    worker = WorkerProcess(dev_address, queue, tmp_path / "data", tmp_path, echo_delay_ms=100)
    settings = make_settings(dev_address, tmp_path / "data", task_queue=queue)
    return worker, SessionClient(await connect_client(settings), settings)


async def _model_running(sessions: SessionClient, session_id: str) -> None:
    handle = sessions.handle(session_id)

    async def running() -> bool:
        pending = (await handle.describe()).raw_description.pending_activities
        return any(
            p.activity_type.name == "invoke_model"
            and p.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
            for p in pending
        )

    await eventually(running, lambda yes: yes, timeout=30, interval=0.05)


async def test_cancel_sent_while_the_worker_is_dead(dev_address: str, tmp_path: Path) -> None:
    worker, sessions = await _setup(dev_address, tmp_path)
    config = SessionConfig(model="echo", model_heartbeat_timeout=timedelta(seconds=2))
    session_id = new_session_id("cancel-crash")
    await worker.start()
    try:
        await sessions.send(session_id, "warm up", user_id="kim", config=config)
        turn = asyncio.create_task(sessions.send(session_id, WORDS, user_id="kim"))
        await _model_running(sessions, session_id)
        await worker.kill()
        cancel = asyncio.create_task(sessions.cancel(session_id, user_id="kim"))
        await asyncio.sleep(1.0)
        assert not cancel.done()  # nobody can run the session's task yet
        await worker.start()
        result = await asyncio.wait_for(cancel, timeout=60)
        reply = await asyncio.wait_for(turn, timeout=60)
        # The turn's model call is retried on the new worker (heartbeat timeout) while the
        # session's own task may still wait on the dead worker's sticky queue (up to 10 s):
        # either the cancel lands, or the turn finishes first and the cancel says so.
        # What must hold either way: one answer, the same one for both callers.
        assert result.status in ("cancelled", "finished"), result
        expected = "cancelled" if result.status == "cancelled" else "end_turn"
        assert reply.stop_reason == expected and result.reply == reply
        after = await sessions.send(session_id, "after", user_id="kim")
        assert after.reply == "echo: after"
        history = await sessions.history(session_id, user_id="kim")
        assert [m.role for m in history] == ["user", "assistant"] * 3
        assert (await sessions.status(session_id)).turns == 3
    finally:
        await worker.stop()


async def test_regenerate_whose_worker_is_killed_completes_once(
    dev_address: str, tmp_path: Path
) -> None:
    worker, sessions = await _setup(dev_address, tmp_path)
    config = SessionConfig(model="echo", model_heartbeat_timeout=timedelta(seconds=2))
    session_id = new_session_id("regen-crash")
    await worker.start()
    try:
        first = await sessions.send(session_id, WORDS, user_id="kim", config=config)
        regenerate = asyncio.create_task(sessions.regenerate(session_id, user_id="kim"))
        await _model_running(sessions, session_id)
        await worker.kill()
        started = time.monotonic()
        await worker.start()
        again = await asyncio.wait_for(regenerate, timeout=90)
        assert again.reply == first.reply and again.reply_message_id != first.reply_message_id
        assert time.monotonic() - started < 60
        history = await sessions.history(session_id, user_id="kim")
        assert [m.role for m in history] == ["user", "assistant", "assistant"]
        assert (history[1].metadata or {}).get("alternative") is True
        assert (history[2].metadata or {}).get("replaces") == history[1].message_id
    finally:
        await worker.stop()
