"""AG-UI and ``GET /sessions`` through a real gateway, dev server and worker.

Event streams are checked three ways: each event parses as its ``ag_ui.core`` model, the
whole run passes the ``ag-ui-validate`` conformance validator, and the text joins to the
reply the session stored.
"""

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from ag_ui.core import Event
from ag_ui_validate.pytest_plugin import assert_valid_agui
from pydantic import SecretStr, TypeAdapter
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedError, InvalidStatus

from client import SessionClient
from tests.helpers import eventually, new_session_id
from tests.integration.test_gateway import SECRET, Gateway, _running, auth, error_code, token

EVENT = TypeAdapter[Any](Event)


def run_input(session_id: str, text: str, run_id: str | None = None) -> dict[str, Any]:
    """A RunAgentInput carrying one new user message."""
    run_id = run_id or uuid.uuid4().hex
    return {
        "threadId": session_id,
        "runId": run_id,
        "messages": [{"id": run_id, "role": "user", "content": text}],
        "state": {},
        "tools": [],
        "context": [],
        "forwardedProps": {},
    }


async def ag_ui(
    gateway: Gateway, body: Any, headers: dict[str, str]
) -> tuple[int, list[dict[str, Any]], Any]:
    """POST /ag-ui: the status, the events (SSE) and the JSON body (an error)."""
    events: list[dict[str, Any]] = []
    async with gateway.http.stream(
        "POST", "/ag-ui", json=body, headers={**headers, "Accept": "text/event-stream"}
    ) as response:
        if response.headers.get("content-type", "").startswith("text/event-stream"):
            async for line in response.aiter_lines():
                if line.startswith("data: "):
                    events.append(json.loads(line[len("data: ") :]))
            return response.status_code, events, None
        await response.aread()
        return response.status_code, events, response.json()


def check_run(events: list[dict[str, Any]], session_id: str, run_id: str) -> dict[str, Any]:
    """A conformant, complete run of one reply; return its RUN_FINISHED event."""
    for event in events:
        EVENT.validate_python(event)
    assert_valid_agui(events, max_warnings=0)
    kinds = [event["type"] for event in events]
    assert kinds[0] == "RUN_STARTED" and kinds[-1] == "RUN_FINISHED", kinds
    assert events[0]["threadId"] == session_id and events[0]["runId"] == run_id
    start, end = kinds.index("TEXT_MESSAGE_START"), kinds.index("TEXT_MESSAGE_END")
    assert set(kinds[start + 1 : end]) == {"TEXT_MESSAGE_CONTENT"}
    assert kinds[end + 1 :] == ["STATE_SNAPSHOT", "RUN_FINISHED"], kinds
    finished = events[-1]
    text = "".join(e["delta"] for e in events if e["type"] == "TEXT_MESSAGE_CONTENT")
    assert text == finished["result"]["reply"]
    snapshot = events[-2]["snapshot"]["session"]
    assert snapshot["session_id"] == session_id and snapshot["status"] == "active"
    return finished


@pytest.fixture(scope="module")
async def gateway(sessions: SessionClient) -> AsyncIterator[Gateway]:
    """A gateway with a high rate limit (these tests are few users, quickly)."""
    settings = sessions.settings.updated(
        **{
            "jwt_secret": SecretStr(SECRET),
            "gateway_rate_per_user": 1000.0,
            "gateway_burst": 1000,
            "gateway_max_prompt_chars": 400,
        }
    )
    async for running in _running(settings, sessions.temporal):
        yield running


@pytest.fixture(scope="module")
async def tight(sessions: SessionClient) -> AsyncIterator[Gateway]:
    """A gateway with a slow model and no room for a second turn per session."""
    settings = sessions.settings.updated(
        **{"jwt_secret": SecretStr(SECRET), "model": "slow-echo", "gateway_queue_depth": 0}
    )
    async for running in _running(settings, sessions.temporal):
        yield running


async def test_sse_run_is_conformant_and_idempotent(gateway: Gateway) -> None:
    session_id, run_id = new_session_id("agui"), uuid.uuid4().hex
    status, events, _ = await ag_ui(
        gateway, run_input(session_id, "one two three four", run_id), auth()
    )
    assert status == 200
    finished = check_run(events, session_id, run_id)
    assert finished["result"]["reply"] == "echo: one two three four"
    assert finished["result"]["message_id"] == run_id
    assert len([e for e in events if e["type"] == "TEXT_MESSAGE_CONTENT"]) >= 3

    # The same run again (a client reconnecting) is answered once, from the kept reply.
    status, again, _ = await ag_ui(
        gateway, run_input(session_id, "one two three four", run_id), auth()
    )
    assert status == 200
    assert check_run(again, session_id, run_id)["result"]["duplicate"] is True
    history = await gateway.http.get(f"/sessions/{session_id}/history", headers=auth())
    assert [m["message"] for m in history.json()["messages"]] == [
        "one two three four",
        "echo: one two three four",
    ]


async def test_websocket_run(gateway: Gateway) -> None:
    session_id, run_id = new_session_id("aguiws"), uuid.uuid4().hex
    url = gateway.url.replace("http://", "ws://") + "/ag-ui/ws"
    events: list[dict[str, Any]] = []
    async with connect(url, additional_headers=auth()) as ws:
        await ws.send(json.dumps(run_input(session_id, "over a socket", run_id)))
        async for frame in ws:
            events.append(json.loads(frame))
    assert check_run(events, session_id, run_id)["result"]["reply"] == "echo: over a socket"

    with pytest.raises(InvalidStatus) as refused:
        async with connect(url):
            pass
    assert refused.value.response.status_code == 401

    # A refusal after the handshake is one RUN_ERROR with the gateway's code.
    async with connect(url, additional_headers=auth()) as ws:
        await ws.send(json.dumps(run_input(session_id, "x" * 401)))
        frames: list[dict[str, Any]] = []
        with pytest.raises(ConnectionClosedError):
            async for frame in ws:
                frames.append(json.loads(frame))
    assert [(f["type"], f["code"]) for f in frames] == [("RUN_ERROR", "PromptTooLong")]
    assert ws.close_code == 1008


async def test_refusals_are_http_statuses(gateway: Gateway, sessions: SessionClient) -> None:
    session_id = new_session_id("aguiref")
    status, _, body = await ag_ui(gateway, run_input(session_id, "hi"), {})
    assert status == 401 and body["error"]["code"] == "Unauthorized"
    status, _, body = await ag_ui(gateway, {"threadId": session_id}, auth())
    assert status == 400 and body["error"]["code"] == "InvalidRunInput"
    status, _, body = await ag_ui(gateway, run_input(session_id, "x" * 401), auth())
    assert status == 413 and body["error"]["code"] == "PromptTooLong"
    status, _, body = await ag_ui(gateway, run_input("bad id!", "hi"), auth())
    assert status == 400 and body["error"]["code"] == "InvalidId"

    # Alice's session is no session at all for Bob.
    status, events, _ = await ag_ui(gateway, run_input(session_id, "mine"), auth("alice"))
    assert status == 200 and events[-1]["type"] == "RUN_FINISHED"
    status, _, body = await ag_ui(gateway, run_input(session_id, "let me in"), auth("bob"))
    assert status == 404 and body["error"]["code"] == "SessionNotFound"
    history = await sessions.history(session_id, tenant_id="acme")
    assert [m.message for m in history] == ["mine", "echo: mine"]


async def test_busy_session_is_409(tight: Gateway) -> None:
    session_id = new_session_id("aguibusy")
    long_text = " ".join(f"w{i}" for i in range(40))
    async with tight.http.stream(
        "POST", "/ag-ui", json=run_input(session_id, long_text), headers=auth()
    ) as first:
        assert first.status_code == 200
        lines = first.aiter_lines()
        async for line in lines:
            if "TEXT_MESSAGE_CONTENT" in line:
                break
        status, _, body = await ag_ui(tight, run_input(session_id, "me too"), auth())
        assert status == 409 and body["error"]["code"] == "SessionBusy"
        async for _ in lines:
            pass


async def test_sessions_lists_only_the_callers_own(
    gateway: Gateway, sessions: SessionClient
) -> None:
    mine = [new_session_id("mine"), new_session_id("mine")]
    theirs = new_session_id("theirs")
    ownerless = new_session_id("nobody")
    for session_id in mine:
        await ag_ui(gateway, run_input(session_id, f"hello {session_id}"), auth("carol"))
    await ag_ui(gateway, run_input(theirs, "not carol's"), auth("dave"))
    await sessions.send(ownerless, "no user at all", tenant_id="acme")

    async def listing() -> dict[str, Any]:
        response = await gateway.http.get("/sessions", headers=auth("carol"))
        assert response.status_code == 200
        result: dict[str, Any] = response.json()
        return result

    found = await eventually(
        listing, lambda body: {row["session_id"] for row in body["sessions"]} >= set(mine)
    )
    ids = [row["session_id"] for row in found["sessions"]]
    assert set(ids) == set(mine), ids  # neither dave's nor the ownerless session
    assert ids == [mine[1], mine[0]]  # newest first
    assert found["user_id"] == "carol" and found["tenant_id"] == "acme"
    newest = found["sessions"][0]
    assert newest["last_message"] == {"role": "assistant", "text": f"echo: hello {mine[1]}"}
    assert newest["status"] == "active" and newest["running"] is True

    other_tenant = await gateway.http.get(
        "/sessions", headers={"Authorization": f"Bearer {token('carol', 'globex')}"}
    )
    assert other_tenant.json()["sessions"] == []
    refused = await gateway.http.get("/sessions")
    assert refused.status_code == 401 and error_code(refused) == "Unauthorized"


async def test_the_page_and_its_files_are_served(gateway: Gateway) -> None:
    page = await gateway.http.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert '<script type="module" src="/ui/app.js">' in page.text
    for name in ("app.js", "api.js", "md.js", "status.js", "style.css"):
        assert (await gateway.http.get(f"/ui/{name}")).status_code == 200, name
