"""MCP servers per agent, against a real FastMCP server (tests/mcp_server.py): the worker
starts it over stdio, or the test serves it over streamable HTTP on a loopback port."""

import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from client import SessionClient
from models import SessionConfig
from tests.agents import MCP_HTTP_PORT
from tests.helpers import assert_well_formed, new_session_id
from tests.integration.test_tools import failed_tasks, scheduled
from workflows.tool_calls import kept_tool_calls


@pytest.fixture(scope="module")
def http_mcp_server() -> Iterator[str]:
    """The FastMCP test server over streamable HTTP on 127.0.0.1."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.mcp_server", "http", str(MCP_HTTP_PORT)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(200):
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", MCP_HTTP_PORT)) == 0:
                    break
            if process.poll() is not None:
                raise RuntimeError("the MCP test server exited")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{MCP_HTTP_PORT}/mcp"
    finally:
        process.terminate()
        process.wait(10)


async def _turns(sessions: SessionClient, agent: str) -> tuple[str, list[str]]:
    session_id = new_session_id(agent)
    config = SessionConfig(agent=agent, model="echo")
    texts = ['/tool add {"a": 2, "b": 40}', '/tool shout {"text": "quiet"}', "/tool explode", "hi"]
    replies = [(await sessions.send(session_id, text, config=config)).reply for text in texts]
    return session_id, replies


@pytest.mark.parametrize("agent", ["mcp-stdio", "mcp-http"])
async def test_mcp_tools_are_called_over_stdio_and_http(
    sessions: SessionClient, agent: str, http_mcp_server: str
) -> None:
    session_id, replies = await _turns(sessions, agent)
    assert replies[:2] == ["echo: 42", "echo: QUIET"]
    assert "exploded on purpose" in replies[2] and replies[3] == "echo: hi"
    history = await sessions.history(session_id)
    assert_well_formed(history)
    calls = [call for message in history for call in kept_tool_calls(message)]
    assert [(c.name, c.status) for c in calls] == [
        ("add", "success"),
        ("shout", "success"),
        ("explode", "error"),
    ]
    handle = sessions.handle(session_id)
    activities = await scheduled(handle)
    server = "tests-stdio" if agent == "mcp-stdio" else "tests-http"
    # cache_tools: the server's tools are listed once for the run, not once per turn.
    assert [name for name, _ in activities].count(f"{server}-list-tools") == 1
    assert (f"{server}-call-tool", "tool: add") in activities
    assert (f"{server}-call-tool", "tool: shout") in activities
    assert await failed_tasks(handle) == 0


async def test_without_cache_the_tools_are_listed_before_every_model_call(
    sessions: SessionClient,
) -> None:
    session_id, replies = await _turns(sessions, "mcp-stdio-relist")
    assert replies[0] == "echo: 42"
    activities = [name for name, _ in await scheduled(sessions.handle(session_id))]
    model_calls = activities.count("invoke_model")
    assert activities.count("tests-stdio-relist-list-tools") == model_calls == 7


async def test_an_agent_mixes_its_own_tools_and_mcp_tools(
    sessions: SessionClient, http_mcp_server: str
) -> None:
    session_id = new_session_id("mcp-mixed")
    text = '/tool echo_args {"text": "own"}\n/tool add {"a": 1, "b": 2}'
    reply = await sessions.send(session_id, text, config=SessionConfig(agent="mcp-http"))
    assert reply.reply == "echo: own | 3"
