"""Agents used only by tests (loaded by tests/conftest.py, or by a worker subprocess with
``CONVOFLOW_AGENTS=tests.agents``): tools that fail, hang, run slowly, report their context,
and MCP servers (the FastMCP server of ``tests/mcp_server.py``, over stdio and HTTP).

The tools are real activities; what they did is counted in module-level dicts (in-process
workers) or appended to the file ``$TESTS_TOOL_LOG`` (worker subprocesses).
"""

import asyncio
import json
import os
import socket
import sys
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from temporalio import activity
from temporalio.common import RetryPolicy

from agents import AgentDefinition, ToolDefinition, http_server, stdio_server, tool_context

CALLS: dict[str, int] = {}
"""Attempts per tool name and idempotency key, ``"name:key"`` (in-process workers)."""

FAST_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=100), maximum_attempts=2)


def _count(name: str) -> int:
    key = f"{name}:{tool_context().idempotency_key}"
    CALLS[key] = CALLS.get(key, 0) + 1
    log = os.environ.get("TESTS_TOOL_LOG")
    if log:
        with open(log, "a") as out:
            out.write(json.dumps({"tool": name, "key": tool_context().idempotency_key}) + "\n")
    return CALLS[key]


@activity.defn
async def echo_args(text: str, times: int = 1) -> str:
    """Repeat ``text``.

    Args:
        text: What to repeat.
        times: How many times.
    """
    _count("echo_args")
    return " ".join([text] * times)


@activity.defn
async def whoami() -> str:
    """Who the tool acts for, as JSON."""
    context = tool_context()
    return json.dumps(
        {**context.model_dump(), "idempotency_key": context.idempotency_key}, sort_keys=True
    )


@activity.defn
async def always_fails(reason: str = "broken on purpose") -> str:
    """Fail every time."""
    _count("always_fails")
    raise RuntimeError(reason)


@activity.defn
async def sleeps_too_long() -> str:
    """Never finishes within its timeout."""
    _count("sleeps_too_long")
    await asyncio.sleep(30)
    return "woke up"


@activity.defn
async def slow_step(seconds: float, label: str = "step") -> str:
    """Work for ``seconds`` (heartbeating), then say so."""
    _count("slow_step")
    attempt = activity.info().attempt
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        activity.heartbeat()
        await asyncio.sleep(0.1)
    return f"{label} done (attempt {attempt})"


@activity.defn
async def local_whoami(note: str = "") -> str:
    """Who the tool acts for (a local activity)."""
    return json.dumps({"note": note, **tool_context().model_dump()}, sort_keys=True)


@activity.defn
async def local_fails() -> str:
    """Fail every time (a local activity)."""
    _count("local_fails")
    raise RuntimeError("local tool broke")


@activity.defn
async def big_result(chars: int) -> str:
    """A long result."""
    return "x" * chars


TESTER = AgentDefinition(
    name="tester",
    system_prompt="You are a test agent.",
    tools=[
        echo_args,
        whoami,
        ToolDefinition(always_fails, retry_policy=FAST_RETRY),
        ToolDefinition(
            sleeps_too_long, start_to_close_timeout=timedelta(seconds=1), retry_policy=FAST_RETRY
        ),
        ToolDefinition(
            slow_step,
            start_to_close_timeout=timedelta(seconds=60),
            heartbeat_timeout=timedelta(seconds=2),
        ),
        big_result,
        ToolDefinition(local_whoami, local=True),
        ToolDefinition(local_fails, local=True, retry_policy=FAST_RETRY),
    ],
)

LIMITED = AgentDefinition(name="limited", tools=[echo_args], max_tool_calls=2)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


MCP_HTTP_PORT = int(os.environ.setdefault("TESTS_MCP_HTTP_PORT", str(_free_port())))
"""Where the HTTP MCP test server listens (tests start it: ``tests/mcp_server.py``)."""
_STDIO = [sys.executable, "-m", "tests.mcp_server", "stdio"]

MCP_STDIO = AgentDefinition(
    name="mcp-stdio",
    mcp_servers=[stdio_server("tests-stdio", _STDIO[0], _STDIO[1:], cache_tools=True)],
)
MCP_STDIO_RELIST = AgentDefinition(
    name="mcp-stdio-relist",
    mcp_servers=[stdio_server("tests-stdio-relist", _STDIO[0], _STDIO[1:], cache_tools=False)],
)
MCP_HTTP = AgentDefinition(
    name="mcp-http",
    tools=[echo_args],
    mcp_servers=[http_server("tests-http", f"http://127.0.0.1:{MCP_HTTP_PORT}/mcp")],
)


def _big_repeats(tool: str, arguments: Mapping[str, Any]) -> str | None:
    """An approval policy: repeating more than three times needs a person."""
    if tool == "echo_args" and int(arguments.get("times", 1) or 1) > 3:
        return "repeating more than three times"
    return None


GUARDED = AgentDefinition(
    name="guarded",
    tools=[
        echo_args,
        whoami,
        ToolDefinition(
            slow_step,
            start_to_close_timeout=timedelta(seconds=60),
            heartbeat_timeout=timedelta(seconds=2),
        ),
    ],
    require_approval=["echo_args"],
)
"""``echo_args`` waits for approval; the session may add ``whoami`` or ``slow_step``."""
GUARDED_BY_POLICY = AgentDefinition(
    name="guarded-policy", tools=[echo_args], require_approval=_big_repeats
)
