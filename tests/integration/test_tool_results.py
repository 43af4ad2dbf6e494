"""Long tool results on a real dev server: the history keeps a bounded part and says the rest
is stored; the worker kept the whole text in the memory store, readable by the session's
owner only (tenant and user), and no activity carried it there."""

import json
from collections.abc import AsyncIterator

import pytest

from activities.memory import SqliteMemoryStore
from client import SessionClient
from models import ChatMessage, SessionConfig, SessionRef
from models.tools import MAX_TOOL_RESULT_CHARS, ToolCall
from tests.helpers import new_session_id
from tests.integration.test_tools import scheduled
from workflows.tool_calls import kept_tool_calls

TESTER = SessionConfig(agent="tester", model="echo")


@pytest.fixture
async def store(sessions: SessionClient) -> AsyncIterator[SqliteMemoryStore]:
    """The worker's memory store, opened beside it (SQLite, WAL: safe to share)."""
    opened = SqliteMemoryStore(sessions.settings.memory.memory_db_path)
    yield opened
    await opened.close()


async def only_call(sessions: SessionClient, session_id: str, tenant: str) -> tuple[ToolCall, str]:
    """The one tool call of the session's first reply, and the message id it answers."""
    history = await sessions.history(session_id, tenant_id=tenant)
    reply: ChatMessage = history[-1]
    (call,) = kept_tool_calls(reply)
    assert reply.reply_to is not None
    return call, reply.reply_to


async def test_a_long_result_is_bounded_in_history_and_whole_in_the_store(
    sessions: SessionClient, store: SqliteMemoryStore
) -> None:
    session_id = new_session_id("long-result")
    reply = await sessions.send(
        session_id,
        '/tool big_result {"chars": 10000}',
        config=TESTER,
        user_id="ann",
        tenant_id="acme",
    )
    assert reply.reply == "echo: " + "x" * 10000  # the model saw all of it
    call, message_id = await only_call(sessions, session_id, "acme")
    assert call.status == "success" and call.result_chars == 10000
    assert len(call.result) <= MAX_TOOL_RESULT_CHARS and call.result.endswith("(truncated)")
    assert call.full_result_stored
    owner = SessionRef(tenant_id="acme", session_id=session_id, user_id="ann")
    assert await store.tool_result(owner, message_id, call.tool_use_id) == "x" * 10000
    for stranger in (
        SessionRef(tenant_id="acme", session_id=session_id, user_id="bob"),
        SessionRef(tenant_id="acme", session_id=session_id),
        SessionRef(tenant_id="other", session_id=session_id, user_id="ann"),
    ):
        assert await store.tool_result(stranger, message_id, call.tool_use_id) is None
    # Kept where the tool ran: the workflow scheduled no activity to carry the text again.
    activities = [name for name, _ in await scheduled(sessions.handle(session_id, "acme"))]
    assert activities == ["invoke_model", "big_result", "invoke_model"]


async def test_short_results_and_errors_are_not_stored(
    sessions: SessionClient, store: SqliteMemoryStore
) -> None:
    session_id = new_session_id("short-result")
    owner = SessionRef(tenant_id="default", session_id=session_id, user_id="ann")
    await sessions.send(
        session_id, '/tool big_result {"chars": 2000}', config=TESTER, user_id="ann"
    )
    call, message_id = await only_call(sessions, session_id, "default")
    assert (call.result_chars, call.full_result_stored) == (2000, False)
    assert await store.tool_result(owner, message_id, call.tool_use_id) is None
    # A long error message is bounded like any result, and it is no result to keep.
    reason = "y" * 5000
    await sessions.send(session_id, f'/tool always_fails {{"reason": "{reason}"}}', user_id="ann")
    call, message_id = await only_call(sessions, session_id, "default")
    assert call.status == "error" and call.result_chars >= 5000
    assert not call.full_result_stored
    assert await store.tool_result(owner, message_id, call.tool_use_id) is None


async def test_local_and_mcp_tools_keep_their_long_results_too(
    sessions: SessionClient, store: SqliteMemoryStore
) -> None:
    local_session = new_session_id("long-local")
    note = "n" * 4000
    await sessions.send(
        local_session, f'/tool local_whoami {{"note": "{note}"}}', config=TESTER, user_id="ann"
    )
    call, message_id = await only_call(sessions, local_session, "default")
    assert call.full_result_stored
    owner = SessionRef(tenant_id="default", session_id=local_session, user_id="ann")
    kept = await store.tool_result(owner, message_id, call.tool_use_id)
    assert kept is not None and len(kept) == call.result_chars
    assert json.loads(kept)["note"] == note

    mcp_session = new_session_id("long-mcp")
    await sessions.send(
        mcp_session,
        '/tool shout {"text": "' + "quiet " * 700 + '"}',
        config=SessionConfig(agent="mcp-stdio", model="echo"),
        user_id="ann",
    )
    call, message_id = await only_call(sessions, mcp_session, "default")
    assert call.full_result_stored and call.result_chars > MAX_TOOL_RESULT_CHARS
    owner = SessionRef(tenant_id="default", session_id=mcp_session, user_id="ann")
    assert await store.tool_result(owner, message_id, call.tool_use_id) == "QUIET " * 700
