"""First end-to-end turn through the dev server."""

import uuid

from client import SessionClient


async def test_send_echo(sessions: SessionClient) -> None:
    session_id = f"s-{uuid.uuid4().hex[:8]}"
    reply = await sessions.send(session_id, "hello there", user_id="u1")
    assert reply.reply == "echo: hello there"
    history = await sessions.history(session_id)
    assert [m.role for m in history] == ["user", "assistant"]
    status = await sessions.status(session_id)
    assert status.turns == 1
