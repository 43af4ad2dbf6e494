"""Answering approvals through the gateway (routes and SSE), the ``convoflow`` CLI and the
chat's inline question, on a real dev server (the agent ``guarded`` of tests/agents.py)."""

import asyncio
import json
import sys
from typing import Any

import httpx

from client import SessionClient
from models import SessionConfig
from tests.helpers import new_session_id
from tests.integration.test_approvals import pending
from tests.integration.test_steering_interfaces import (  # noqa: F401  (fixtures)
    SESSION_HEADER,
    _env,
    auth,
    convoflow,
    http,
    slow,
)

GUARDED = SessionConfig(agent="guarded", model="echo")
CALL = '/tool echo_args {"text": "gw"}'


async def sse_events(response: httpx.Response) -> Any:
    async for line in response.aiter_lines():
        if line.startswith("data: "):
            yield json.loads(line[len("data: ") :])


async def test_gateway_lists_and_answers_approvals(
    slow: SessionClient,  # noqa: F811
    http: httpx.AsyncClient,  # noqa: F811
) -> None:
    session_id = new_session_id("gw-approve")
    await slow.send(session_id, "hello", config=GUARDED, user_id="gwen")
    headers = {**auth("gwen"), SESSION_HEADER: session_id}
    seen: list[dict[str, Any]] = []

    async def stream() -> None:
        body = {"prompt": CALL, "stream": True}
        async with http.stream("POST", "/invocations", json=body, headers=headers) as response:
            assert response.status_code == 200
            async for event in sse_events(response):
                seen.append(event)

    turn = asyncio.create_task(stream())
    (request,) = await pending(slow, session_id)
    base = f"/sessions/{session_id}/approvals"
    listed = await http.get(base, headers=auth("gwen"))
    assert listed.status_code == 200
    assert [(r["id"], r["tool"], r["input"]) for r in listed.json()["approvals"]] == [
        (request.id, "echo_args", {"text": "gw"})
    ]
    assert (await http.get(base, headers=auth("mallory"))).status_code == 404
    stolen = await http.post(
        f"{base}/{request.id}", json={"approved": True}, headers=auth("mallory")
    )
    assert stolen.status_code == 404 and stolen.json()["error"]["code"] == "SessionNotFound"
    for bad in ({}, {"approved": "yes"}, {"approved": True, "user_id": "gwen"}, {"message": "x"}):
        answer = await http.post(f"{base}/{request.id}", json=bad, headers=auth("gwen"))
        assert answer.status_code == 400, bad
    unknown = await http.post(f"{base}/nope", json={"approved": True}, headers=auth("gwen"))
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "UnknownApproval"
    assert (await pending(slow, session_id))[0].id == request.id  # nothing was written

    denied = await http.post(
        f"{base}/{request.id}",
        json={"approved": False, "message": "ask me later"},
        headers=auth("gwen"),
    )
    assert denied.status_code == 200, denied.text
    assert denied.json()["state"] == "denied"
    again = await http.post(f"{base}/{request.id}", json={"approved": True}, headers=auth("gwen"))
    assert again.status_code == 404 and again.json()["error"]["code"] == "UnknownApproval"
    await turn
    kinds = [event["type"] for event in seen]
    assert kinds.index("approval_required") < kinds.index("approval_answered") < kinds.index("done")
    required = seen[kinds.index("approval_required")]["request"]
    assert required["id"] == request.id and required["state"] == "pending"
    assert "ask me later" in seen[-1]["reply"]


async def test_cli_approvals_list_approve_deny(slow: SessionClient) -> None:  # noqa: F811
    session_id = new_session_id("cli-approve")
    common = ["--session", session_id, "--user", "cleo"]
    code, _, err = await convoflow(
        slow, "submit", *common, "--agent", "guarded", "--require-approval", "whoami",
        "--model", "echo", '/tool whoami &\n/tool echo_args {"text": "c"}',
    )  # fmt: skip
    assert code == 0, err
    waiting = await pending(slow, session_id, 2)
    code, listed, err = await convoflow(slow, "approvals", "list", *common)
    assert code == 0, err
    assert [(r["id"], r["tool"], r["input"]) for r in listed["approvals"]] == [
        (waiting[0].id, "whoami", {}),
        (waiting[1].id, "echo_args", {"text": "c"}),
    ]
    code, refused, _ = await convoflow(
        slow, "approvals", "approve", "--session", session_id, "--user", "mallory", waiting[0].id
    )
    assert code == 1 and refused["error"]["message"] == "no such session"
    code, denied, err = await convoflow(
        slow, "approvals", "deny", *common, waiting[0].id, "--message", "not needed"
    )
    assert code == 0 and denied["state"] == "denied", err
    code, approved, err = await convoflow(slow, "approvals", "approve", *common, waiting[1].id)
    assert code == 0 and approved["state"] == "approved", err
    code, again, _ = await convoflow(slow, "approvals", "approve", *common, waiting[1].id)
    assert code == 2 and again["error"]["type"] == "UnknownApproval"
    history = await slow.history(session_id)
    while len(history) < 2:
        await asyncio.sleep(0.1)
        history = await slow.history(session_id)
    assert "not needed" in history[1].message and history[1].message.endswith("| c")
    code, status, err = await convoflow(slow, "status", *common)
    assert code == 0 and status["status"] == "active", err


async def test_chat_asks_inline(slow: SessionClient) -> None:  # noqa: F811
    session_id = new_session_id("chat-approve")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cli.main", "chat", "--session", session_id, "--user", "chad",
        "--agent", "guarded", "--model", "echo",
        env=_env(slow),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stdin is not None
    process.stdin.write(f"{CALL}\n".encode())
    await process.stdin.drain()
    await pending(slow, session_id)
    _, status, err = await convoflow(slow, "status", "--session", session_id)
    assert status["status"] == "waiting_for_approval", err
    process.stdin.write(b"maybe\ny\n")  # not an answer, then yes
    process.stdin.write(b'/tool echo_args {"text": "no"}\nn too risky\n')
    process.stdin.close()
    out, err_bytes = await asyncio.wait_for(process.communicate(), timeout=30)
    text = out.decode()
    assert process.returncode == 0, err_bytes.decode()
    assert "approval needed: echo_args" in text and "answer y or n" in text, text
    assert "echo: gw" in text and "too risky" in text, text
