"""What an operator sees, through Temporal's own CLI: summary, current details, search
attributes usable in a list query, and labelled activities (docs/OPERATIONS.md)."""

import base64
import json
import uuid
from typing import Any

from client import SessionClient
from tests.helpers import eventually, new_session_id, temporal


def decoded(payload: dict[str, Any]) -> Any:
    """The JSON value inside a ``json/plain`` payload as the CLI prints it."""
    return json.loads(base64.b64decode(payload["data"]))


async def test_session_is_findable_and_readable_with_the_temporal_cli(
    sessions: SessionClient, dev_address: str
) -> None:
    tenant = f"ops-{uuid.uuid4().hex[:8]}"
    session_id = new_session_id("ops")
    await sessions.send(session_id, "first question", tenant_id=tenant, user_id="olivia")
    await sessions.send(session_id, "second question", tenant_id=tenant, user_id="olivia")
    workflow_id = sessions.handle(session_id, tenant).id

    async def describe() -> Any:
        return await temporal(dev_address, "workflow", "describe", "--workflow-id", workflow_id)

    def counted(described: Any) -> bool:
        fields = described["workflowExecutionInfo"]["searchAttributes"]["indexedFields"]
        return "ConvoflowMessageCount" in fields and decoded(fields["ConvoflowMessageCount"]) == 4

    # The counters refresh with each record round (at most record_delay after a turn).
    described = await eventually(describe, counted, timeout=30)
    summary = described["executionConfig"]["userMetadata"]["summary"]
    assert summary == f"tenant {tenant} · session {session_id} · user olivia"
    fields = described["workflowExecutionInfo"]["searchAttributes"]["indexedFields"]
    attributes = {name: decoded(value) for name, value in fields.items()}
    assert attributes["ConvoflowTenant"] == tenant
    assert attributes["ConvoflowUser"] == "olivia"
    assert attributes["ConvoflowStatus"] == "active"
    assert attributes["ConvoflowMessageCount"] == 4
    assert "ConvoflowLastActivity" in attributes

    metadata = await temporal(dev_address, "workflow", "metadata", "--workflow-id", workflow_id)
    details = metadata["queryResult"][0]["currentDetails"]
    assert details.startswith("**active**")
    assert "messages: 4 (4 kept), turns: 2" in details
    assert "last message: echo: second question" in details
    assert "expires at: " in details

    query = f'ConvoflowTenant="{tenant}" AND ConvoflowUser="olivia" AND ConvoflowStatus="active"'

    async def listed() -> list[str]:
        rows = await temporal(dev_address, "workflow", "list", "--query", query)
        return [row["execution"]["workflowId"] for row in rows or []]

    assert await eventually(listed, lambda ids: workflow_id in ids) == [workflow_id]

    async def labels() -> set[str]:
        history = await temporal(dev_address, "workflow", "show", "--workflow-id", workflow_id)
        return {
            decoded(event["userMetadata"]["summary"])
            for event in history["events"]
            if "summary" in event.get("userMetadata", {})
        }

    expected = {"model turn", "record turn", "recall memories", "idle expiry", "record delay"}
    assert expected <= await eventually(labels, lambda found: expected <= found)


async def test_reset_and_close_with_the_temporal_cli(
    sessions: SessionClient, dev_address: str
) -> None:
    tenant = f"ops-{uuid.uuid4().hex[:8]}"
    session_id = new_session_id("reset")
    await sessions.send(session_id, "before reset", tenant_id=tenant, user_id="olivia")
    handle = sessions.handle(session_id, tenant)
    first_run = (await handle.describe()).run_id

    await temporal(
        dev_address,
        "workflow",
        "reset",
        "--workflow-id",
        handle.id,
        "--type",
        "LastWorkflowTask",
        "--reason",
        "operator test",
        "--yes",
    )
    assert (await handle.describe()).run_id != first_run
    reply = await sessions.send(session_id, "after reset", tenant_id=tenant, user_id="olivia")
    assert reply.reply == "echo: after reset"
    history = await sessions.history(session_id, tenant_id=tenant, user_id="olivia")
    assert [m.message for m in history][-2:] == ["after reset", "echo: after reset"]

    await temporal(
        dev_address,
        "workflow",
        "signal",
        "--workflow-id",
        handle.id,
        "--name",
        "close",
        "--input",
        '"operator: closed for maintenance"',
    )
    summary = await handle.result()
    assert summary.status == "closed" and summary.reason == "operator: closed for maintenance"
