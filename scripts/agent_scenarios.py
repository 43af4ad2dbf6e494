"""The agent scenarios of ``scripts/record_histories.py``: tools, MCP, unknown agents and
approval of tool calls (the test agents of ``tests/agents.py``)."""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import timedelta

from client import MessageRejectedError, SessionClient, SessionNotFoundError
from models import SessionConfig

Scenario = Callable[[SessionClient, str], Awaitable[None]]


async def _pending(sessions: SessionClient, session_id: str, count: int = 1) -> list[str]:
    """The ids of the pending approval requests, once there are ``count``."""
    while True:
        with contextlib.suppress(SessionNotFoundError):
            ids = [r.id for r in await sessions.approvals(session_id) if r.state == "pending"]
            if len(ids) >= count:
                return ids
        await asyncio.sleep(0.05)


async def tool_turn(sessions: SessionClient, session_id: str) -> None:
    """The assistant agent: a calculator call, a streamed turn with two tools, a plain turn."""
    config = SessionConfig(agent="assistant", model="echo")
    await sessions.send(
        session_id, '/tool calculator {"expression": "2+3*4"}', config=config, user_id="tia"
    )
    text = '/tool current_time {"timezone": "UTC"}\n/tool recall_memory {"query": "tea"}'
    async for _ in sessions.stream(session_id, text, user_id="tia"):
        pass
    await sessions.send(session_id, "thanks", user_id="tia")


async def mcp_turn(sessions: SessionClient, session_id: str) -> None:
    """An agent with an MCP server (the test FastMCP server over stdio, tools cached)."""
    config = SessionConfig(agent="mcp-stdio", model="echo")
    await sessions.send(session_id, '/tool add {"a": 1, "b": 2}', config=config)
    await sessions.send(session_id, '/tool shout {"text": "hi"}')
    await sessions.send(session_id, "/tool explode")


async def failed_tool(sessions: SessionClient, session_id: str) -> None:
    """Tools that fail, time out, get bad arguments or do not exist: error results."""
    config = SessionConfig(agent="tester", model="echo")
    await sessions.send(session_id, "/tool always_fails", config=config)
    await sessions.send(session_id, '/tool echo_args {"text": 1, "bogus": true}')
    await sessions.send(session_id, "/tool sleeps_too_long")
    await sessions.send(session_id, "/tool no_such_tool")


async def long_tool_result(sessions: SessionClient, session_id: str) -> None:
    """A 10,000-character tool result: bounded in history, kept whole in the store."""
    config = SessionConfig(agent="tester", model="echo")
    await sessions.send(session_id, '/tool big_result {"chars": 10000}', config=config)
    await sessions.send(session_id, '/tool big_result {"chars": 10}')


async def unknown_agent(sessions: SessionClient, session_id: str) -> None:
    """A new session naming an agent the worker does not have ends at once."""
    with contextlib.suppress(MessageRejectedError):
        await sessions.send(session_id, "hello", config=SessionConfig(agent="nobody"))
    await sessions.handle(session_id).result()


async def approval(sessions: SessionClient, session_id: str) -> None:
    """The guarded agent: a call approved, one denied with a message, three asked at once."""
    config = SessionConfig(agent="guarded", model="echo", require_approval=["whoami"])
    turn = asyncio.create_task(
        sessions.send(session_id, '/tool echo_args {"text": "a"}', config=config, user_id="ann")
    )
    (first,) = await _pending(sessions, session_id)
    await sessions.approve(session_id, first, user_id="ann")
    await turn
    turn = asyncio.create_task(
        sessions.send(session_id, '/tool echo_args {"text": "b"}', user_id="ann")
    )
    (second,) = await _pending(sessions, session_id)
    await sessions.deny(session_id, second, message="not now", user_id="ann")
    await turn
    text = '/tool echo_args {"text": "c"} &\n/tool whoami &\n/tool echo_args {"text": "d"}'
    turn = asyncio.create_task(sessions.send(session_id, text, user_id="ann"))
    ids = await _pending(sessions, session_id, 3)
    for request_id in reversed(ids):
        await sessions.approve(session_id, request_id, user_id="ann")
    await turn


async def approval_timeout(sessions: SessionClient, session_id: str) -> None:
    """Nobody answers: the timer denies; then a cancel while a request waits."""
    config = SessionConfig(agent="guarded", model="echo", approval_timeout=timedelta(seconds=1))
    await sessions.send(session_id, '/tool echo_args {"text": "late"}', config=config)
    turn = asyncio.create_task(sessions.send(session_id, '/tool echo_args {"text": "x"}'))
    await _pending(sessions, session_id)
    await sessions.cancel(session_id)
    await turn
    await sessions.send(session_id, "after")


AGENT_SCENARIOS: dict[str, Scenario] = {
    "tool_turn": tool_turn,
    "mcp_turn": mcp_turn,
    "failed_tool": failed_tool,
    "long_tool_result": long_tool_result,
    "unknown_agent": unknown_agent,
    "approval": approval,
    "approval_timeout": approval_timeout,
}
