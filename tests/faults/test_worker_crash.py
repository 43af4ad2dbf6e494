"""A worker SIGKILLed in the middle of a model turn: another worker finishes it, once."""

import asyncio
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import PendingActivityState

from client import SessionClient
from models import SessionConfig
from tests.conftest import make_settings
from tests.helpers import assert_well_formed, eventually, new_session_id
from worker.client import connect_client

WorkerProcess = Callable[[], AbstractAsyncContextManager[asyncio.subprocess.Process]]


@pytest.fixture
def worker_process(dev_address: str, tmp_path: Path) -> tuple[WorkerProcess, str]:
    """Start ``convoflow worker`` processes on a private task queue."""
    queue = f"crash-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "CONVOFLOW_TEMPORAL_ADDRESS": dev_address,
        "CONVOFLOW_TASK_QUEUE": queue,
        "CONVOFLOW_DATA_DIR": str(tmp_path),
        "CONVOFLOW_ECHO_DELAY_MS": "100",
    }

    @asynccontextmanager
    async def start() -> AsyncIterator[asyncio.subprocess.Process]:
        log = (tmp_path / f"worker-{uuid.uuid4().hex[:4]}.log").open("wb")
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "cli.main", "worker", env=env, stdout=log, stderr=log
        )
        try:
            yield process
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
                await asyncio.wait_for(process.wait(), 30)
            log.close()

    return start, queue


async def test_worker_killed_during_turn(
    worker_process: tuple[WorkerProcess, str], dev_address: str, tmp_path: Path
) -> None:
    start_worker, queue = worker_process
    settings = make_settings(dev_address, tmp_path, task_queue=queue)
    sessions = SessionClient(await connect_client(settings), settings)
    config = SessionConfig(model_heartbeat_timeout=timedelta(seconds=2))
    session_id = new_session_id("crash")
    text = "please answer with a reply that takes a while to stream out word by word"

    async with start_worker() as first:
        await sessions.send(session_id, "warm up", config=config)
        turn = asyncio.create_task(sessions.send(session_id, text, message_id="crash-1"))
        handle = sessions.handle(session_id)

        async def model_running() -> bool:
            pending = (await handle.describe()).raw_description.pending_activities
            return any(
                p.activity_type.name == "invoke_model"
                and p.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
                for p in pending
            )

        await eventually(model_running, lambda running: running, timeout=30, interval=0.05)
        first.send_signal(signal.SIGKILL)
        await first.wait()
    assert not turn.done()

    async with start_worker():
        reply = await asyncio.wait_for(turn, 90)
        assert reply.reply == f"echo: {text}"
        assert not reply.duplicate
        history = await sessions.history(session_id)
        assert [m.message for m in history if m.role == "user"] == ["warm up", text]
        assert_well_formed(history)
        status = await sessions.status(session_id)
        assert status.turns == 2 and status.issues == []
