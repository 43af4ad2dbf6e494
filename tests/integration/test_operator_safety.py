"""What operators found: cancelling from the UI/CLI must end a session like a close, failures
must be findable from the list, and a flood of refused input must not end a session."""

import asyncio
import base64
import json
import uuid
from datetime import timedelta
from typing import Any

import pytest

from activities.memory import SqliteMemoryStore
from client import SessionClient, TurnFailedError
from models import SessionConfig, SessionRef, SessionSummary
from tests.helpers import eventually, new_session_id, temporal


def decoded(payload: dict[str, Any]) -> Any:
    """The JSON value inside a ``json/plain`` payload as the CLI prints it."""
    return json.loads(base64.b64decode(payload["data"]))


async def _attributes(dev_address: str, workflow_id: str) -> dict[str, Any]:
    described = await temporal(dev_address, "workflow", "describe", "--workflow-id", workflow_id)
    fields = described["workflowExecutionInfo"]["searchAttributes"]["indexedFields"]
    return {name: decoded(value) for name, value in fields.items()}


async def test_cancel_from_the_temporal_cli_closes_like_close(
    sessions: SessionClient, dev_address: str
) -> None:
    tenant = f"cancel-{uuid.uuid4().hex[:6]}"
    session_id = new_session_id("cancel")
    config = SessionConfig(record_delay=timedelta(seconds=30))  # nothing recorded yet
    await sessions.send(session_id, "one", tenant_id=tenant, user_id="cora", config=config)
    await sessions.send(session_id, "two", tenant_id=tenant, user_id="cora")
    handle = sessions.handle(session_id, tenant)

    await temporal(dev_address, "workflow", "cancel", "--workflow-id", handle.id)
    summary: SessionSummary = await asyncio.wait_for(handle.result(), timeout=30)
    assert summary.status == "closed" and summary.reason == "cancelled"
    assert summary.turns == 2 and summary.total_messages == 4

    # Recorded and archived: the conversation is all in the store.
    store = SqliteMemoryStore(sessions.settings.memory.memory_db_path)
    try:
        ref = SessionRef(tenant_id=tenant, session_id=session_id, user_id="cora")
        stored = [m.message for m in await store.recent_messages(ref, 10)]
        assert stored == ["one", "echo: one", "two", "echo: two"]
        assert await store.session_summary(ref) == summary
    finally:
        await store.close()

    # Final search attributes, not a stale "active".
    attributes = await eventually(
        lambda: _attributes(dev_address, handle.id),
        lambda a: a.get("ConvoflowStatus") == "closed",
    )
    assert attributes["ConvoflowMessageCount"] == 4

    # The next message starts a new run that has the conversation back.
    await sessions.send(session_id, "three", tenant_id=tenant, user_id="cora")
    history = await sessions.history(session_id, tenant_id=tenant, user_id="cora")
    assert [m.message for m in history][:4] == ["one", "echo: one", "two", "echo: two"]


async def test_cancel_during_a_slow_turn_answers_it_and_ends_in_bounded_time(
    sessions: SessionClient, dev_address: str
) -> None:
    session_id = new_session_id("cancel-slow")
    await sessions.send(session_id, "warm", user_id="cora", config=SessionConfig(model="hanging"))
    handle = sessions.handle(session_id)
    waiting = asyncio.create_task(sessions.send(session_id, "please hang", user_id="cora"))
    await eventually(lambda: sessions.status(session_id), lambda s: s.status == "processing")
    await temporal(dev_address, "workflow", "cancel", "--workflow-id", handle.id)
    summary: SessionSummary = await asyncio.wait_for(handle.result(), timeout=30)
    assert summary.reason == "cancelled" and summary.turns == 2
    # The waiting client gets the turn's failure, not silence and not a reply.
    with pytest.raises(TurnFailedError, match="cancelled"):
        await asyncio.wait_for(waiting, timeout=30)


async def test_issues_are_searchable_and_in_current_details(
    sessions: SessionClient, dev_address: str
) -> None:
    tenant = f"issues-{uuid.uuid4().hex[:6]}"
    session_id = new_session_id("issues")
    config = SessionConfig(model="failing", model_max_attempts=1)
    await sessions.send(session_id, "fine", tenant_id=tenant, user_id="ivy", config=config)
    handle = sessions.handle(session_id, tenant)
    await handle.signal("submit_message", {"message": 42})
    with pytest.raises(TurnFailedError):
        await sessions.send(session_id, "please fail", tenant_id=tenant, user_id="ivy")

    query = f'ConvoflowTenant="{tenant}" AND ConvoflowIssueCount > 0'

    async def troubled() -> list[str]:
        rows = await temporal(dev_address, "workflow", "list", "--query", query)
        return [row["execution"]["workflowId"] for row in rows or []]

    assert await eventually(troubled, lambda ids: handle.id in ids) == [handle.id]
    attributes = await _attributes(dev_address, handle.id)
    assert attributes["ConvoflowIssueCount"] == 2
    assert "ConvoflowLastIssueAt" in attributes
    metadata = await temporal(dev_address, "workflow", "metadata", "--workflow-id", handle.id)
    details = metadata["queryResult"][0]["currentDetails"]
    assert "- issues: 2, last at " in details and "failed" in details
    assert (await sessions.status(session_id, tenant_id=tenant)).issue_count == 2


async def test_flood_of_refused_signals_continues_as_new_before_the_server_limit(
    sessions: SessionClient,
) -> None:
    session_id = new_session_id("flood")
    await sessions.send(session_id, "before", user_id="fay")
    handle = sessions.handle(session_id)
    huge = {"message": "x" * 1_900_000}  # refused (too long), but Temporal records it
    # 30 x 1.9 MB = 57 MB: past the server's 50 MB history limit, which terminates a run.
    # Paced like a script of `temporal workflow signal` calls (each its own process).
    for _ in range(30):
        await handle.signal("submit_message", huge)
        await asyncio.sleep(0.2)
    status = await eventually(
        lambda: sessions.status(session_id, user_id="fay"),
        lambda s: s.issue_count == 30,
        timeout=120,
    )
    assert status.run >= 3  # carried over several runs, ~8 MB each
    reply = await sessions.send(session_id, "after", user_id="fay")
    assert reply.reply == "echo: after"
    history = await sessions.history(session_id, user_id="fay")
    assert [m.message for m in history] == ["before", "echo: before", "after", "echo: after"]
