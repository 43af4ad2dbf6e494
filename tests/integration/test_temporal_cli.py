"""Interop with Temporal's own CLI: plain JSON signals, updates and queries work."""

from client import SessionClient
from tests.helpers import eventually, new_session_id, temporal


async def test_update_signal_and_query_with_plain_json(
    sessions: SessionClient, dev_address: str
) -> None:
    session_id = new_session_id("cli")
    await sessions.send(session_id, "opened by the SDK")
    workflow_id = sessions.handle(session_id).id

    update = await temporal(
        dev_address,
        "workflow",
        "update",
        "execute",
        "--workflow-id",
        workflow_id,
        "--name",
        "send_message",
        "--input",
        '{"message": "hello from the temporal CLI", "message_id": "cli-1"}',
    )
    assert update["result"]["reply"] == "echo: hello from the temporal CLI"
    assert update["result"]["message_id"] == "cli-1"

    await temporal(
        dev_address,
        "workflow",
        "signal",
        "--workflow-id",
        workflow_id,
        "--name",
        "submit_message",
        "--input",
        '{"message": "signalled", "message_id": "cli-2"}',
    )
    await eventually(lambda: sessions.history(session_id), lambda h: len(h) == 6)

    history = await temporal(
        dev_address, "workflow", "query", "--workflow-id", workflow_id, "--type", "history"
    )
    messages = history["queryResult"][0]
    assert [m["message"] for m in messages][-2:] == ["signalled", "echo: signalled"]

    limited = await temporal(
        dev_address,
        "workflow",
        "query",
        "--workflow-id",
        workflow_id,
        "--type",
        "history",
        "--input",
        "2",
    )
    assert len(limited["queryResult"][0]) == 2

    status = await temporal(
        dev_address, "workflow", "query", "--workflow-id", workflow_id, "--type", "status"
    )
    assert status["queryResult"][0]["turns"] == 3


async def test_malformed_signal_is_reported_not_dropped(
    sessions: SessionClient, dev_address: str
) -> None:
    session_id = new_session_id("poison")
    await sessions.send(session_id, "before")
    workflow_id = sessions.handle(session_id).id
    for bad in ('{"nope": 1}', '"just a string"', '{"message": ""}', "42"):
        await temporal(
            dev_address,
            "workflow",
            "signal",
            "--workflow-id",
            workflow_id,
            "--name",
            "submit_message",
            "--input",
            bad,
        )
    status = await eventually(lambda: sessions.status(session_id), lambda s: len(s.issues) == 4)
    assert all("refused submitted message" in issue for issue in status.issues)
    assert "message: Field required" in status.issues[0]
    assert "expected a JSON object" in status.issues[1]

    reply = await sessions.send(session_id, "after")
    assert reply.reply == "echo: after"
    assert len(await sessions.history(session_id)) == 4
