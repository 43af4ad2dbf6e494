"""Durable timers on the time-skipping server: idle expiry, its reset, and age-based trim."""

from datetime import timedelta

import pytest
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from activities.memory import SqliteMemoryStore
from client import SessionClient
from models import SessionConfig, SessionRef, SessionSummary
from tests.helpers import new_session_id

pytestmark = pytest.mark.timeskipping


def _config(**changes: object) -> SessionConfig:
    return SessionConfig(search_attributes=False, **changes)


async def test_idle_session_expires_after_24h_and_archives(
    ts_env: WorkflowEnvironment, ts_sessions: SessionClient
) -> None:
    session_id = new_session_id("expire")
    reply = await ts_sessions.send(session_id, "hello", user_id="u1", config=_config())
    assert reply.reply == "echo: hello"
    handle = ts_sessions.handle(session_id)

    await ts_env.sleep(timedelta(hours=23))
    assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING

    await ts_env.sleep(timedelta(hours=2))
    summary: SessionSummary = await handle.result()
    assert summary.status == "expired"
    assert summary.reason == "idle timeout"
    assert summary.turns == 1 and summary.total_messages == 2
    assert summary.ended_at - summary.created_at >= timedelta(hours=24)

    store = SqliteMemoryStore(ts_sessions.settings.memory.memory_db_path)
    ref = SessionRef(tenant_id="default", session_id=session_id)
    assert await store.session_summary(ref) == summary
    assert [m.message for m in await store.recent_messages(ref, 10)] == ["hello", "echo: hello"]


async def test_message_just_before_expiry_pushes_expiry_back(
    ts_env: WorkflowEnvironment, ts_sessions: SessionClient
) -> None:
    session_id = new_session_id("reset")
    await ts_sessions.send(session_id, "first", config=_config())
    first_expiry = (await ts_sessions.status(session_id)).expires_at

    await ts_env.sleep(timedelta(hours=23, minutes=59))
    await ts_sessions.send(session_id, "just in time")
    status = await ts_sessions.status(session_id)
    assert status.expires_at >= first_expiry + timedelta(hours=23, minutes=59)

    await ts_env.sleep(timedelta(hours=1))  # past the first deadline
    handle = ts_sessions.handle(session_id)
    assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
    assert (await ts_sessions.status(session_id)).turns == 2

    await ts_env.sleep(timedelta(hours=24))
    summary = await handle.result()
    assert summary.status == "expired" and summary.turns == 2


async def test_message_ttl_trims_by_age(
    ts_env: WorkflowEnvironment, ts_sessions: SessionClient
) -> None:
    session_id = new_session_id("ttl")
    config = _config(message_ttl=timedelta(hours=1))
    await ts_sessions.send(session_id, "old news", config=config)
    await ts_env.sleep(timedelta(minutes=40))
    await ts_sessions.send(session_id, "fresh news")
    assert len(await ts_sessions.history(session_id)) == 4

    await ts_env.sleep(timedelta(minutes=30))  # first turn is now 70 minutes old
    history = await ts_sessions.history(session_id)
    assert [m.message for m in history] == ["fresh news", "echo: fresh news"]
    assert history[0].seq == 2
    status = await ts_sessions.status(session_id)
    assert status.trimmed_messages == 2 and status.total_messages == 4

    await ts_env.sleep(timedelta(hours=1))
    assert await ts_sessions.history(session_id) == []
    # Trimmed messages are still in the memory store: nothing is lost.
    store = SqliteMemoryStore(ts_sessions.settings.memory.memory_db_path)
    stored = await store.recent_messages(SessionRef(tenant_id="default", session_id=session_id), 10)
    assert [m.seq for m in stored] == [0, 1, 2, 3]


async def test_close_signal_archives_early(ts_sessions: SessionClient) -> None:
    session_id = new_session_id("close")
    await ts_sessions.send(session_id, "bye soon", config=_config())
    summary = await ts_sessions.close(session_id, reason="user left")
    assert summary is not None
    assert summary.status == "closed" and summary.reason == "user left"
