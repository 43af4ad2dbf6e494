"""The Temporal dev server (SQLite file) SIGKILLed mid-conversation and started again.

The worker and the client stay up across the outage; when the server is back (same file,
same port), the sessions carry on: nothing written before the kill is lost, the turns that
were in flight get exactly one reply when their senders retry with the same message id, new
turns work, and the memory store ends up with every message.
"""

import asyncio
import contextlib
import signal
import time
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType, PendingActivityState

from activities.memory import SqliteMemoryStore
from client import SessionClient
from models import ChatMessage, ChatReply, SessionConfig, SessionRef
from tests.conftest import make_settings
from tests.faults import figures
from tests.faults.checks import replay_sessions
from tests.faults.procs import free_ports
from tests.helpers import assert_well_formed, eventually, new_session_id
from tests.providers import TEST_PROVIDERS
from worker.client import connect_client
from worker.dev_server import dev_server
from worker.run import running_worker

SESSIONS = 3
TURNS_BEFORE = 3
TURNS_AFTER = 2
IN_FLIGHT = "in flight while the server dies with a long answer"


async def _send_retrying(
    sessions: SessionClient, session_id: str, text: str, message_id: str, config: SessionConfig
) -> tuple[ChatReply, int]:
    """Send until answered, always with the same message id; return the reply and attempts."""
    deadline = time.monotonic() + 180
    attempts = 0
    while True:
        attempts += 1
        try:
            reply = await asyncio.wait_for(
                sessions.send(session_id, text, message_id=message_id, config=config), 60
            )
            return reply, attempts
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


async def _check_session(
    sessions: SessionClient, memory_db: Path, session_id: str, before: list[ChatMessage]
) -> None:
    """Everything from before the kill is still there, in order, once; the store caught up."""
    history = await sessions.history(session_id)
    assert history[: len(before)] == before
    assert_well_formed(history)
    assert [m.message for m in history if m.role == "user"] == [
        *(f"before {t}" for t in range(TURNS_BEFORE)),
        IN_FLIGHT,
        *(f"after {t}" for t in range(TURNS_AFTER)),
    ]
    assert all(m.role == "user" or m.role == "assistant" for m in history), history
    status = await sessions.status(session_id)
    assert status.turns == TURNS_BEFORE + 1 + TURNS_AFTER and status.queued == 0
    events = (await sessions.handle(session_id).fetch_history()).events
    assert not [e for e in events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED]
    wanted = [m.message_id for m in history]
    store = SqliteMemoryStore(memory_db)
    ref = SessionRef(tenant_id="default", session_id=session_id)
    try:

        async def stored() -> list[str | None]:
            return [m.message_id for m in await store.list_messages(ref, after_seq=-1, limit=1000)]

        await eventually(stored, lambda ids: ids == wanted, timeout=120, interval=0.25)
    finally:
        await store.close()


@pytest.mark.timeout(600)
async def test_dev_server_killed_and_restarted(tmp_path: Path) -> None:
    port, ui_port = free_ports(2)
    server_dir = tmp_path / "server"
    settings = make_settings(f"127.0.0.1:{port}", tmp_path / "data", echo_delay_ms=150)
    config = SessionConfig(model="echo", model_heartbeat_timeout=None)
    session_ids = [new_session_id("srv") for _ in range(SESSIONS)]
    before: dict[str, list[ChatMessage]] = {}
    in_flight: dict[str, asyncio.Task[tuple[ChatReply, int]]] = {}

    # The servers outlive the worker: it is stopped while the second server still runs.
    async with contextlib.AsyncExitStack() as servers:
        server = await servers.enter_async_context(
            dev_server(server_dir, port=port, ui_port=ui_port)
        )
        client = await connect_client(settings, TEST_PROVIDERS)
        sessions = SessionClient(client, settings)
        async with running_worker(client, settings, TEST_PROVIDERS):
            for session_id in session_ids:
                for turn in range(TURNS_BEFORE):
                    await sessions.send(
                        session_id,
                        f"before {turn}",
                        message_id=f"{session_id}-b{turn}",
                        config=config,
                    )
                before[session_id] = await sessions.history(session_id)
            # One more turn per session, still running when the server dies.
            for session_id in session_ids:
                in_flight[session_id] = asyncio.create_task(
                    _send_retrying(
                        sessions,
                        session_id,
                        IN_FLIGHT,
                        f"{session_id}-flight",
                        config,
                    )
                )

            async def model_running() -> bool:
                pending = (
                    await sessions.handle(session_ids[-1]).describe()
                ).raw_description.pending_activities
                return any(
                    p.activity_type.name == "invoke_model"
                    and p.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
                    for p in pending
                )

            await eventually(model_running, bool, timeout=60, interval=0.05)
            server.process.send_signal(signal.SIGKILL)
            await server.process.wait()
            killed_at = time.monotonic()
            await asyncio.sleep(2.0)  # the worker and the senders see the server gone

            await servers.enter_async_context(dev_server(server_dir, port=port, ui_port=ui_port))
            down_for = time.monotonic() - killed_at
            flights = {sid: await asyncio.wait_for(task, 240) for sid, task in in_flight.items()}
            recovered_at = time.monotonic()
            for session_id, (reply, _attempts) in flights.items():
                assert reply.message_id == f"{session_id}-flight"
                assert reply.reply == f"echo: {IN_FLIGHT}"
            for session_id in session_ids:
                for turn in range(TURNS_AFTER):
                    reply = await sessions.send(
                        session_id,
                        f"after {turn}",
                        message_id=f"{session_id}-a{turn}",
                        config=config,
                    )
                    assert reply.reply == f"echo: after {turn}" and not reply.duplicate
            for session_id in session_ids:
                await _check_session(
                    sessions, settings.memory.memory_db_path, session_id, before[session_id]
                )
            _runs, replayed = await replay_sessions(sessions, session_ids)

    figures.record(
        "dev server kill",
        sessions=SESSIONS,
        turns=SESSIONS * (TURNS_BEFORE + 1 + TURNS_AFTER),
        server_kills=1,
        server_down_s=round(down_for, 1),
        in_flight_recovered_s=round(recovered_at - killed_at, 1),
        lost_messages=0,
        duplicate_replies=0,
        histories_replayed=replayed,
        send_attempts_in_flight=[attempts for _reply, attempts in flights.values()],
    )
