"""Steering through the gateway, the ``convoflow`` CLI, the chat's Ctrl-C and the Temporal
CLI, on a real dev server; the slow stream is the echo provider with ``echo_delay_ms``."""

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from client import SessionClient, SessionNotFoundError
from gateway import build_gateway
from gateway.auth import make_token
from models import SessionConfig
from tests.conftest import make_settings
from tests.helpers import eventually, new_session_id, temporal
from tests.providers import TEST_PROVIDERS
from worker.client import client_plugins
from worker.lifecycle import serving
from worker.run import running_worker

SECRET = "steering-test-secret-0123456789abcdef"
SESSION_HEADER = "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id"
WORDS = " ".join(f"w{i}" for i in range(60))


@pytest.fixture(scope="module")
async def slow(
    dev_env: WorkflowEnvironment, dev_address: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[SessionClient]:
    """Sessions whose worker's echo waits 100 ms before each word."""
    settings = make_settings(
        dev_address,
        tmp_path_factory.mktemp("steer-if"),
        echo_delay_ms=100,
        jwt_secret=SecretStr(SECRET),
        gateway_rate_per_user=1000.0,
        gateway_burst=1000,
    )
    client = await Client.connect(
        settings.connection.temporal_address, plugins=client_plugins(settings, TEST_PROVIDERS)
    )
    async with running_worker(client, settings, TEST_PROVIDERS):
        yield SessionClient(client, settings)


@pytest.fixture(scope="module")
async def http(slow: SessionClient) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of a gateway on loopback."""
    app = build_gateway(slow.settings, sessions=slow)
    async with (
        serving(app, "127.0.0.1", 0) as url,
        httpx.AsyncClient(base_url=url, trust_env=False, timeout=30) as client,
    ):
        yield client


def auth(user: str, tenant: str = "default") -> dict[str, str]:
    """Headers of an authenticated gateway request."""
    return {"Authorization": f"Bearer {make_token(SECRET, user=user, tenant=tenant)}"}


async def _processing(sessions: SessionClient, session_id: str) -> None:
    async def status() -> str:
        try:
            return (await sessions.status(session_id)).status
        except SessionNotFoundError:
            return "none"

    await eventually(status, lambda s: s == "processing", interval=0.02)


async def test_gateway_cancel_regenerate_fork(slow: SessionClient, http: httpx.AsyncClient) -> None:
    session_id = new_session_id("gw-steer")
    body = {"prompt": WORDS}
    headers = {**auth("gwen"), SESSION_HEADER: session_id}
    turn = asyncio.create_task(http.post("/invocations", json=body, headers=headers))
    await _processing(slow, session_id)
    await asyncio.sleep(0.5)

    stranger = await http.post(f"/sessions/{session_id}/cancel", headers=auth("mallory"))
    assert stranger.status_code == 404 and stranger.json()["error"]["code"] == "SessionNotFound"
    cancelled = await http.post(f"/sessions/{session_id}/cancel", headers=auth("gwen"))
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    answered = (await turn).json()
    assert answered["stop_reason"] == "cancelled"
    assert answered["reply"] == cancelled.json()["reply"]["reply"]

    idle = await http.post(f"/sessions/{session_id}/cancel", headers=auth("gwen"))
    assert idle.status_code == 200 and idle.json()["status"] == "idle"

    regenerated = await http.post(f"/sessions/{session_id}/regenerate", headers=auth("gwen"))
    assert regenerated.status_code == 200, regenerated.text
    assert regenerated.json()["reply"] == f"echo: {WORDS}"
    refused = await http.post(f"/sessions/{session_id}/regenerate", headers=auth("mallory"))
    assert refused.status_code == 404

    target = new_session_id("gw-fork")
    fork = {"at": 1, "to": target}
    stolen = await http.post(f"/sessions/{session_id}/fork", json=fork, headers=auth("mallory"))
    assert stolen.status_code == 404 and stolen.json()["error"]["message"] == "no such session"
    bad = await http.post(f"/sessions/{session_id}/fork", json={"at": "x"}, headers=auth("gwen"))
    assert bad.status_code == 400
    extra = {**fork, "user_id": "mallory"}  # the owner never comes from the body
    refused = await http.post(f"/sessions/{session_id}/fork", json=extra, headers=auth("gwen"))
    assert refused.status_code == 400
    huge = {"at": 1, "to": "x" * 5000}
    too_big = await http.post(f"/sessions/{session_id}/fork", json=huge, headers=auth("gwen"))
    assert too_big.status_code == 413
    with pytest.raises(SessionNotFoundError):
        await slow.history(target)  # none of those started anything
    forked = await http.post(f"/sessions/{session_id}/fork", json=fork, headers=auth("gwen"))
    assert forked.status_code == 201, forked.text
    assert forked.json()["messages"] == 2 and forked.json()["user_id"] == "gwen"
    again = await http.post(f"/sessions/{session_id}/fork", json=fork, headers=auth("gwen"))
    assert again.status_code == 409 and again.json()["error"]["code"] == "SessionExists"
    history = await http.get(f"/sessions/{target}/history", headers=auth("gwen"))
    assert [m["role"] for m in history.json()["messages"]] == ["user", "assistant"]


def _env(sessions: SessionClient) -> dict[str, str]:
    return {
        **os.environ,
        "CONVOFLOW_TEMPORAL_ADDRESS": sessions.settings.connection.temporal_address,
        "CONVOFLOW_TASK_QUEUE": sessions.settings.connection.task_queue,
        "CONVOFLOW_DATA_DIR": str(sessions.settings.memory.data_dir),
        "CONVOFLOW_MODEL": "echo",
    }


async def convoflow(sessions: SessionClient, *args: str) -> tuple[int, Any, str]:
    """Run ``convoflow ARGS --json``; return the exit code, the JSON document, stderr."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cli.main",
        *args,
        "--json",
        env=_env(sessions),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, json.loads(out), err.decode()


async def test_cli_cancel_regenerate_fork(slow: SessionClient) -> None:
    session_id = new_session_id("cli-steer")
    common = ["--session", session_id, "--user", "cleo"]
    code, idle, err = await convoflow(slow, "cancel", *common)
    assert code == 1 and idle["error"]["type"] == "SessionNotFoundError", err

    waiting = asyncio.create_task(
        slow.send(session_id, WORDS, user_id="cleo", config=SessionConfig(model="echo"))
    )
    await _processing(slow, session_id)
    code, result, err = await convoflow(slow, "cancel", *common)
    assert code == 0, err
    assert result["status"] == "cancelled" and result["reply"]["stop_reason"] == "cancelled"
    assert (await waiting).stop_reason == "cancelled"

    code, reply, err = await convoflow(slow, "regenerate", *common)
    assert code == 0, err
    assert reply["reply"] == f"echo: {WORDS}" and reply["stop_reason"] == "end_turn"

    target = new_session_id("cli-fork")
    code, forked, err = await convoflow(slow, "fork", *common, "--at", "1", "--to", target)
    assert code == 0, err
    assert forked["session_id"] == target and forked["messages"] == 2
    code, refused, _ = await convoflow(
        slow, "fork", "--session", session_id, "--user", "mallory", "--at", "1", "--to", "x-1"
    )
    assert code == 1 and refused["error"]["message"] == "no such session"


async def test_chat_ctrl_c_cancels_the_turn_and_a_second_quits(slow: SessionClient) -> None:
    session_id = new_session_id("chat-steer")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cli.main",
        "chat",
        "--session",
        session_id,
        "--user",
        "chad",
        env=_env(slow),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(f"{WORDS}\n".encode())
    await process.stdin.drain()
    await _processing(slow, session_id)
    await asyncio.sleep(0.5)
    process.send_signal(signal.SIGINT)  # first Ctrl-C: cancel the turn
    await eventually(
        lambda: slow.history(session_id), lambda h: len(h) == 2, timeout=15, interval=0.1
    )
    process.stdin.write(f"{WORDS}\n".encode())  # the session goes on: another long turn
    await process.stdin.drain()
    await eventually(lambda: slow.history(session_id), lambda h: len(h) == 3, interval=0.05)
    await asyncio.sleep(0.5)
    process.send_signal(signal.SIGINT)  # cancel this one too...
    await asyncio.sleep(0.05)
    process.send_signal(signal.SIGINT)  # ...and quit
    out, err = await asyncio.wait_for(process.communicate(), timeout=15)
    assert process.returncode == 130, err.decode()
    text = out.decode()
    assert text.count("(cancelled)") >= 1 and "echo: w0" in text, text
    history = await slow.history(session_id)
    assert (history[1].metadata or {})["stop_reason"] == "cancelled"


async def test_temporal_cli_cancel_turn_with_plain_json(
    slow: SessionClient, dev_address: str
) -> None:
    session_id = new_session_id("tcli-steer")
    waiting = asyncio.create_task(
        slow.send(session_id, WORDS, user_id="tia", config=SessionConfig(model="echo"))
    )
    await _processing(slow, session_id)
    workflow_id = slow.handle(session_id).id
    result = await temporal(
        dev_address,
        "workflow",
        "update",
        "execute",
        "--workflow-id",
        workflow_id,
        "--name",
        "cancel_turn",
        "--input",
        '{"user_id": "tia"}',
    )
    assert result["result"]["status"] == "cancelled", result
    assert (await waiting).stop_reason == "cancelled"
