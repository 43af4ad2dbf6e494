"""The HTTP gateway through a real uvicorn server on loopback, a real dev server and worker.

Every refusal is checked twice: the status and error code, and that nothing reached
Temporal (no workflow was started, or the victim's history did not change).
"""

import asyncio
import json
import os
import re
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import pytest
from jwt.utils import base64url_encode
from pydantic import SecretStr
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from client import SessionClient
from gateway import build_gateway
from gateway.auth import make_token
from models import SessionConfig, session_workflow_id
from models.settings import Settings
from tests.helpers import eventually, new_session_id
from worker.lifecycle import serving

SECRET = "gateway-test-secret-0123456789abcdef"
OTHER_SECRET = "someone-else-entirely-0123456789abcdef"
SESSION_HEADER = "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id"


def token(user: str = "alice", tenant: str = "acme", **overrides: Any) -> str:
    """A valid gateway token (keyword overrides change how it is made)."""
    options: dict[str, Any] = {"user": user, "tenant": tenant}
    options.update(overrides)
    secret = options.pop("secret", SECRET)
    return make_token(secret, **options)


def auth(user: str = "alice", tenant: str = "acme") -> dict[str, str]:
    """Headers of an authenticated request."""
    return {"Authorization": f"Bearer {token(user, tenant)}"}


@dataclass
class Gateway:
    """A running gateway: its base URL and an HTTP client for it."""

    url: str
    http: httpx.AsyncClient
    settings: Settings

    async def invoke(
        self,
        session_id: str | None,
        body: Any,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """POST /invocations with ``body`` (JSON unless bytes) and the session header."""
        all_headers = dict(headers or {})
        if session_id is not None:
            all_headers[SESSION_HEADER] = session_id
        if isinstance(body, bytes):
            all_headers.setdefault("Content-Type", "application/json")
            return await self.http.post("/invocations", content=body, headers=all_headers)
        return await self.http.post("/invocations", json=body, headers=all_headers)

    async def stream(
        self, session_id: str, body: dict[str, Any], headers: dict[str, str]
    ) -> tuple[httpx.Response, list[dict[str, Any]]]:
        """POST a streamed turn; return the response and its Server-Sent Events, in order."""
        events: list[dict[str, Any]] = []
        async with self.http.stream(
            "POST",
            "/invocations",
            json={**body, "stream": True},
            headers={**headers, SESSION_HEADER: session_id},
        ) as response:
            if response.headers.get("content-type", "").startswith("text/event-stream"):
                async for line in response.aiter_lines():
                    if line.startswith("data: "):
                        events.append(json.loads(line[len("data: ") :]))
            else:
                await response.aread()
        return response, events


async def _running(settings: Settings, client: Client) -> AsyncIterator[Gateway]:
    app = build_gateway(settings, sessions=SessionClient(client, settings))
    async with (
        serving(app, "127.0.0.1", 0) as url,
        httpx.AsyncClient(base_url=url, trust_env=False, timeout=30) as http,
    ):
        yield Gateway(url, http, settings)


@pytest.fixture(scope="module")
async def gateway(sessions: SessionClient) -> AsyncIterator[Gateway]:
    """A gateway with default limits except the rate (these tests are one user, quickly)."""
    settings = sessions.settings.updated(
        **{
            "jwt_secret": SecretStr(SECRET),
            "gateway_rate_per_user": 1000.0,
            "gateway_burst": 1000,
        }
    )
    async for running in _running(settings, sessions.temporal):
        yield running


@pytest.fixture(scope="module")
async def tight(sessions: SessionClient) -> AsyncIterator[Gateway]:
    """A gateway with tiny limits and a slow model, to hit every limit quickly."""
    settings = sessions.settings.updated(
        **{
            "jwt_secret": SecretStr(SECRET),
            "model": "slow-echo",
            "gateway_max_body_bytes": 2048,
            "gateway_max_prompt_chars": 400,
            "gateway_rate_per_user": 0.01,
            "gateway_burst": 3,
            "gateway_queue_depth": 0,
        }
    )
    async for running in _running(settings, sessions.temporal):
        yield running


async def assert_no_session(sessions: SessionClient, tenant: str, session_id: str) -> None:
    """No workflow was ever started for this session."""
    handle = sessions.temporal.get_workflow_handle(session_workflow_id(tenant, session_id))
    with pytest.raises(RPCError) as caught:
        await handle.describe()
    assert caught.value.status == RPCStatusCode.NOT_FOUND


def error_code(response: httpx.Response) -> str:
    """The ``error.code`` of a JSON error response."""
    return str(response.json()["error"]["code"])


# ------------------------------------------------------------------------ turns


async def test_non_streaming_turn_history_and_status(gateway: Gateway) -> None:
    session_id = new_session_id("gw")
    response = await gateway.invoke(
        session_id, {"prompt": "hello gateway", "message_id": "m-1"}, auth()
    )
    assert response.status_code == 200, response.text
    reply = response.json()
    assert reply["reply"] == "echo: hello gateway"
    assert reply["message_id"] == "m-1" and reply["session_id"] == session_id
    assert reply["tenant_id"] == "acme" and reply["duplicate"] is False

    again = await gateway.invoke(
        session_id, {"prompt": "hello gateway", "message_id": "m-1"}, auth()
    )
    assert again.status_code == 200 and again.json()["duplicate"] is True

    history = await gateway.http.get(f"/sessions/{session_id}/history", headers=auth())
    assert history.status_code == 200
    assert [m["message"] for m in history.json()["messages"]] == [
        "hello gateway",
        "echo: hello gateway",
    ]
    last = await gateway.http.get(f"/sessions/{session_id}/history?limit=1", headers=auth())
    assert [m["message"] for m in last.json()["messages"]] == ["echo: hello gateway"]

    status = await gateway.http.get(f"/sessions/{session_id}/status", headers=auth())
    assert status.status_code == 200
    found = status.json()
    assert found["user_id"] == "alice" and found["tenant_id"] == "acme"
    assert found["turns"] == 1 and found["status"] == "active"


async def test_session_id_in_the_body(gateway: Gateway) -> None:
    session_id = new_session_id("body")
    response = await gateway.invoke(None, {"prompt": "hi", "session_id": session_id}, auth())
    assert response.status_code == 200, response.text
    assert response.json()["session_id"] == session_id


async def test_streaming_turn(gateway: Gateway) -> None:
    session_id = new_session_id("gwstream")
    text = "one two three four five six"
    response, events = await gateway.stream(session_id, {"prompt": text}, auth())
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    kinds = [event["type"] for event in events]
    assert kinds[-1] == "done" and kinds.count("done") == 1
    assert set(kinds[:-1]) <= {"delta"} and len(kinds) >= 3
    done = events[-1]
    assert "".join(e["text"] for e in events[:-1]) == done["reply"] == f"echo: {text}"
    assert done["session_id"] == session_id and done["message_id"]


async def test_turn_failure_is_502_or_an_error_event(
    gateway: Gateway, sessions: SessionClient
) -> None:
    session_id = new_session_id("gwfail")
    config = SessionConfig(model="failing", model_max_attempts=1)
    await sessions.send(session_id, "open", tenant_id="acme", user_id="alice", config=config)

    response = await gateway.invoke(session_id, {"prompt": "please fail"}, auth())
    assert response.status_code == 502
    assert error_code(response) == "TurnFailed"

    response, events = await gateway.stream(session_id, {"prompt": "fail again"}, auth())
    if response.status_code == 200:
        assert events[-1]["type"] == "error" and events[-1]["code"] == "TurnFailed"
    else:  # failed before the first event was sent
        assert response.status_code == 502 and error_code(response) == "TurnFailed"

    ok = await gateway.invoke(session_id, {"prompt": "still works"}, auth())
    assert ok.status_code == 200 and ok.json()["reply"] == "echo: still works"


async def test_ping(gateway: Gateway) -> None:
    response = await gateway.http.get("/ping")
    assert response.status_code == 200
    assert response.json()["status"] in ("Healthy", "HealthyBusy")


# ------------------------------------------------------------------------ authentication


def _bad_tokens() -> dict[str, str | None]:
    now = time.time()
    no_tenant = jwt.encode(
        {"sub": "alice", "iss": "convoflow", "aud": "convoflow", "exp": int(now) + 60},
        SECRET,
        algorithm="HS256",
    )
    claims = {"sub": "alice", "tenant": "acme", "iss": "convoflow", "aud": "convoflow"}
    unsigned = (
        ".".join(
            base64url_encode(json.dumps(part).encode()).decode()
            for part in ({"alg": "none", "typ": "JWT"}, {**claims, "exp": int(now) + 60})
        )
        + "."
    )
    return {
        "missing": None,
        "not bearer": "Basic YWxpY2U6c2VjcmV0",
        "garbage": "Bearer not-a-jwt",
        "expired": f"Bearer {token(now=now - 7200, ttl_seconds=60)}",
        "wrong audience": f"Bearer {token(audience='someone-else')}",
        "wrong issuer": f"Bearer {token(issuer='evil')}",
        "forged": f"Bearer {token(secret=OTHER_SECRET)}",
        "alg none": f"Bearer {unsigned}",
        "no tenant claim": f"Bearer {no_tenant}",
    }


@pytest.mark.parametrize("case", list(_bad_tokens()))
async def test_bad_tokens_get_401_and_nothing_is_written(
    gateway: Gateway, sessions: SessionClient, case: str
) -> None:
    value = _bad_tokens()[case]
    headers = {"Authorization": value} if value is not None else {}
    session_id = new_session_id("unauth")
    response = await gateway.invoke(session_id, {"prompt": "let me in"}, headers)
    assert response.status_code == 401, response.text
    assert error_code(response) == "Unauthorized"
    assert response.headers["www-authenticate"].startswith("Bearer")
    streamed, events = await gateway.stream(session_id, {"prompt": "let me in"}, headers)
    assert streamed.status_code == 401 and events == []
    for path in ("history", "status"):
        read = await gateway.http.get(f"/sessions/{session_id}/{path}", headers=headers)
        assert read.status_code == 401
    await assert_no_session(sessions, "acme", session_id)


# ------------------------------------------------------------------------ isolation


async def test_users_cannot_read_or_write_each_others_sessions(
    gateway: Gateway, sessions: SessionClient
) -> None:
    session_id = new_session_id("alice")
    opened = await gateway.invoke(session_id, {"prompt": "my secret plan"}, auth("alice"))
    assert opened.status_code == 200
    before = await sessions.history(session_id, tenant_id="acme")

    never = new_session_id("never")
    missing = await gateway.http.get(f"/sessions/{never}/history", headers=auth("bob"))
    assert missing.status_code == 404

    intruders = {"same tenant": auth("bob", "acme"), "other tenant": auth("alice", "globex")}
    for who, headers in intruders.items():
        for path in ("history", "status"):
            read = await gateway.http.get(f"/sessions/{session_id}/{path}", headers=headers)
            assert read.status_code == 404, who
            # Exactly what a session that never existed answers: nothing to learn from it.
            assert read.json() == missing.json(), who
            assert "alice" not in read.text and "secret" not in read.text
    write = await gateway.invoke(session_id, {"prompt": "bob was here"}, auth("bob", "acme"))
    assert write.status_code == 404 and write.json() == missing.json()
    streamed, events = await gateway.stream(
        session_id, {"prompt": "bob streams"}, auth("bob", "acme")
    )
    assert streamed.status_code == 404 and events == []
    assert streamed.json() == missing.json()

    after = await sessions.history(session_id, tenant_id="acme")
    assert after == before
    # The other tenant's alice is another person: her "same" session id is her own session.
    await assert_no_session(sessions, "globex", session_id)


async def test_a_finished_session_cannot_be_reopened_by_another_user(
    gateway: Gateway, sessions: SessionClient
) -> None:
    session_id = new_session_id("ended")
    opened = await gateway.invoke(session_id, {"prompt": "my diary entry"}, auth("alice"))
    assert opened.status_code == 200
    await sessions.close(session_id, tenant_id="acme")
    handle = sessions.handle(session_id, "acme")
    closed_run = (await handle.describe()).run_id

    for streamed in (False, True):
        body = {"prompt": "show me what was here", "stream": streamed}
        response = await gateway.invoke(session_id, body, auth("bob"))
        assert response.status_code == 404, response.text
        assert error_code(response) == "SessionNotFound"
    assert (await handle.describe()).run_id == closed_run  # no new run was started

    # Its owner can come back to it.
    back = await gateway.invoke(session_id, {"prompt": "I am back"}, auth("alice"))
    assert back.status_code == 200
    history = await gateway.http.get(f"/sessions/{session_id}/history", headers=auth("alice"))
    assert "my diary entry" in [m["message"] for m in history.json()["messages"]]


async def test_a_new_run_restores_only_its_owners_messages(sessions: SessionClient) -> None:
    session_id = new_session_id("restore")
    await sessions.send(session_id, "alice private", tenant_id="acme", user_id="alice")
    await sessions.close(session_id, tenant_id="acme")
    await sessions.send(session_id, "bob here", tenant_id="acme", user_id="bob")
    history = await sessions.history(session_id, tenant_id="acme", user_id="bob")
    assert "alice private" not in [m.message for m in history]


# ------------------------------------------------------------------------ bad requests


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", "InvalidJson"),
        (b"[1, 2]", "InvalidRequest"),
        (b"{}", "InvalidRequest"),
        (b'{"prompt": "   "}', "InvalidRequest"),
        (b'{"prompt": 42}', "InvalidRequest"),
        (b'{"prompt": "hi", "stream": "yes"}', "InvalidRequest"),
        (b'{"prompt": "hi", "user_id": "bob"}', "InvalidRequest"),
        (b'{"prompt": "hi", "tenant_id": "globex"}', "InvalidRequest"),
        (b'{"prompt": "hi", "message_id": "bad id!"}', "InvalidId"),
        (b'{"prompt": "hi\u0000there"}', "InvalidMessage"),
    ],
)
async def test_malformed_requests_get_400(
    gateway: Gateway, sessions: SessionClient, body: bytes, code: str
) -> None:
    session_id = new_session_id("bad")
    response = await gateway.invoke(session_id, body, auth())
    assert response.status_code == 400, response.text
    assert error_code(response) == code
    # Refused before Temporal: the client checks a message as the session would.
    await assert_no_session(sessions, "acme", session_id)


async def test_missing_or_invalid_session_id_gets_400(gateway: Gateway) -> None:
    response = await gateway.invoke(None, {"prompt": "hi"}, auth())
    assert response.status_code == 400 and error_code(response) == "MissingSession"
    response = await gateway.invoke("bad session!", {"prompt": "hi"}, auth())
    assert response.status_code == 400 and error_code(response) == "InvalidId"
    response = await gateway.http.get("/sessions/x/history?limit=-3", headers=auth())
    assert response.status_code == 400


# ------------------------------------------------------------------------ limits


async def test_oversize_bodies_and_prompts_get_413(tight: Gateway, sessions: SessionClient) -> None:
    session_id = new_session_id("big")
    headers = auth("big-sender")
    huge = json.dumps({"prompt": "x" * 5000}).encode()
    response = await tight.invoke(session_id, huge, headers)
    assert response.status_code == 413 and error_code(response) == "PayloadTooLarge"

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b" " * 500
        yield b'{"prompt": "hi"}'

    chunked = await tight.http.post(
        "/invocations", content=chunks(), headers={**headers, SESSION_HEADER: session_id}
    )
    assert chunked.status_code == 413  # no Content-Length: counted while reading

    long_prompt = await tight.invoke(session_id, {"prompt": "y" * 401}, headers)
    assert long_prompt.status_code == 413 and error_code(long_prompt) == "PromptTooLong"
    await assert_no_session(sessions, "acme", session_id)


async def test_rate_limit_gets_429_with_retry_after(
    tight: Gateway, sessions: SessionClient
) -> None:
    headers = auth("hasty")
    session_id = new_session_id("rate")
    codes = [
        (await tight.http.get(f"/sessions/{session_id}/status", headers=headers)).status_code
        for _ in range(3)
    ]
    assert codes == [404, 404, 404]  # the burst
    limited = await tight.invoke(session_id, {"prompt": "one more"}, headers)
    assert limited.status_code == 429 and error_code(limited) == "RateLimited"
    assert int(limited.headers["retry-after"]) >= 1
    await assert_no_session(sessions, "acme", session_id)
    # Other users have their own buckets.
    other = await tight.http.get(f"/sessions/{session_id}/status", headers=auth("patient"))
    assert other.status_code == 404


async def test_busy_session_gets_409_and_ping_says_busy(
    tight: Gateway, sessions: SessionClient
) -> None:
    session_id = new_session_id("busy")
    headers = auth("busy-user")
    text = " ".join(f"word{i}" for i in range(20))  # ~1 s at 50 ms per token
    running = asyncio.create_task(tight.stream(session_id, {"prompt": text}, headers))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while (await tight.http.get("/ping")).json()["status"] != "HealthyBusy":
        assert loop.time() < deadline, "the turn never showed as busy"
        await asyncio.sleep(0.02)
    second = await tight.invoke(session_id, {"prompt": "me too"}, headers)
    assert second.status_code == 409 and error_code(second) == "SessionBusy"

    response, events = await running
    assert response.status_code == 200 and events[-1]["type"] == "done"
    assert (await tight.http.get("/ping")).json()["status"] == "Healthy"
    history = await sessions.history(session_id, tenant_id="acme")
    assert [m.message for m in history] == [text, f"echo: {text}"]


# ------------------------------------------------------------------------ the CLI


async def test_cli_gateway_and_token_as_the_readme_shows(sessions: SessionClient) -> None:
    session_id = new_session_id("readme")
    env = {
        **os.environ,
        "CONVOFLOW_TEMPORAL_ADDRESS": sessions.settings.connection.temporal_address,
        "CONVOFLOW_TASK_QUEUE": sessions.settings.connection.task_queue,
        "CONVOFLOW_MODEL": "echo",
        "CONVOFLOW_JWT_SECRET": SECRET,
    }
    made = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cli.main",
        "token",
        "--user",
        "carol",
        "--tenant",
        "initech",
        env=env,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await made.communicate()
    assert made.returncode == 0
    bearer = {"Authorization": f"Bearer {out.decode().strip()}"}

    server = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cli.main",
        "gateway",
        "--port",
        "0",
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert server.stderr is not None
        line = await asyncio.wait_for(server.stderr.readline(), timeout=30)
        found = re.search(rb"Convoflow gateway on (http://\S+) ", line)
        assert found, line
        url = found.group(1).decode()
        async with httpx.AsyncClient(base_url=url, trust_env=False, timeout=30) as http:
            running = Gateway(url, http, sessions.settings)
            response, events = await running.stream(session_id, {"prompt": "hello"}, bearer)
            assert response.status_code == 200
            assert events[-1] == {**events[-1], "type": "done", "reply": "echo: hello"}
            assert "".join(e["text"] for e in events[:-1]) == "echo: hello"
            anonymous = await running.invoke(session_id, {"prompt": "hello"})
            assert anonymous.status_code == 401
    finally:
        server.terminate()
        await asyncio.wait_for(server.wait(), timeout=30)
    history = await sessions.history(session_id, tenant_id="initech", user_id="carol")
    assert [m.message for m in history] == ["hello", "echo: hello"]


async def test_a_client_that_goes_away_mid_stream_frees_its_turn(
    tight: Gateway, sessions: SessionClient
) -> None:
    session_id = new_session_id("gone")
    headers = {**auth("leaver"), SESSION_HEADER: session_id}
    text = " ".join(f"w{i}" for i in range(20))
    async with tight.http.stream(
        "POST", "/invocations", json={"prompt": text, "stream": True}, headers=headers
    ) as response:
        assert response.status_code == 200
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                break  # first delta, then hang up
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while (await tight.http.get("/ping")).json()["status"] != "Healthy":
        assert loop.time() < deadline, "the turn's slot was never given back"
        await asyncio.sleep(0.05)
    # The turn itself is durable: it finishes in the session without anyone listening.
    history = await eventually(
        lambda: sessions.history(session_id, tenant_id="acme"), lambda found: len(found) == 2
    )
    assert history[-1].message == f"echo: {text}"
    again = await tight.invoke(session_id, {"prompt": "next"}, auth("leaver"))
    assert again.status_code == 200
