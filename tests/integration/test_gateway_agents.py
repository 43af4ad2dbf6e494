"""The gateway and agents: ``agent`` only from the configured allow-list (refused before
anything reaches Temporal), and a streamed tool turn's ``tool_start``/``tool_end`` events."""

import json
from collections.abc import AsyncIterator

import pytest
from ag_ui_validate.pytest_plugin import assert_valid_agui
from pydantic import SecretStr

from client import SessionClient
from tests.helpers import new_session_id
from tests.integration.test_agui import EVENT, ag_ui, run_input
from tests.integration.test_gateway import (
    SECRET,
    Gateway,
    _running,
    assert_no_session,
    auth,
    error_code,
)


@pytest.fixture(scope="module")
async def gateway(sessions: SessionClient) -> AsyncIterator[Gateway]:
    """A gateway offering the default and tester agents."""
    settings = sessions.settings.updated(
        **{
            "jwt_secret": SecretStr(SECRET),
            "gateway_rate_per_user": 1000.0,
            "gateway_burst": 1000,
            "gateway_agents": ["default", "tester"],
        }
    )
    async for running in _running(settings, sessions.temporal):
        yield running


async def test_an_allowed_agent_runs_its_tools(gateway: Gateway) -> None:
    session_id = new_session_id("gw-agent")
    body = {"prompt": '/tool echo_args {"text": "hi", "times": 2}', "agent": "tester"}
    response = await gateway.invoke(session_id, body, auth())
    assert response.status_code == 200, response.text
    assert response.json()["reply"] == "echo: hi hi"
    history = (await gateway.http.get(f"/sessions/{session_id}/history", headers=auth())).json()
    (call,) = history["messages"][1]["metadata"]["tool_calls"]
    assert call["name"] == "echo_args" and call["result"] == "hi hi"


@pytest.mark.parametrize("agent", ["assistant", "nobody", "x" * 500])
async def test_an_agent_not_offered_is_refused_before_temporal(
    gateway: Gateway, sessions: SessionClient, agent: str
) -> None:
    session_id = new_session_id("gw-no-agent")
    for stream in (False, True):
        response = await gateway.invoke(
            session_id, {"prompt": "hi", "agent": agent, "stream": stream}, auth()
        )
        assert response.status_code == 400 and error_code(response) == "UnknownAgent"
        assert "agents: default, tester" in response.json()["error"]["message"]
    await assert_no_session(sessions, "acme", session_id)
    bad = await gateway.invoke(session_id, {"prompt": "hi", "agent": 7}, auth())
    assert bad.status_code == 400 and error_code(bad) == "InvalidRequest"


async def test_a_streamed_tool_turn_has_tool_events(gateway: Gateway) -> None:
    session_id = new_session_id("gw-tool-stream")
    body = {"prompt": '/tool echo_args {"text": "yo"}\n/tool always_fails', "agent": "tester"}
    response, events = await gateway.stream(session_id, body, auth())
    assert response.status_code == 200
    kinds = [event["type"] for event in events]
    assert kinds[:4] == ["tool_start", "tool_end", "tool_start", "tool_end"]
    assert events[0] == {
        "type": "tool_start",
        "tool_use_id": events[1]["tool_use_id"],
        "name": "echo_args",
        "input": {"text": "yo"},
    }
    assert events[1]["status"] == "success" and events[1]["result"] == "yo"
    assert events[3]["name"] == "always_fails" and events[3]["status"] == "error"
    assert kinds[-1] == "done" and set(kinds[4:-1]) == {"delta"}
    text = "".join(event["text"] for event in events if event["type"] == "delta")
    assert text == events[-1]["reply"] and text.startswith("echo: yo | ")


async def test_an_ag_ui_run_shows_each_tool_call(gateway: Gateway) -> None:
    session_id = new_session_id("agui-tools")
    body = run_input(session_id, '/tool echo_args {"text": "yo"}', run_id="run-tools-1")
    body["forwardedProps"] = {"agent": "tester"}
    status, events, _ = await ag_ui(gateway, body, auth())
    assert status == 200
    for event in events:
        EVENT.validate_python(event)
    assert_valid_agui(events, max_warnings=0)
    kinds = [event["type"] for event in events]
    assert kinds[:5] == [
        "RUN_STARTED",
        "TOOL_CALL_START",
        "TOOL_CALL_ARGS",
        "TOOL_CALL_END",
        "TOOL_CALL_RESULT",
    ]
    assert events[1]["toolCallName"] == "echo_args"
    assert json.loads(events[2]["delta"]) == {"text": "yo"}
    assert events[4]["content"] == "yo" and events[4]["toolCallId"] == events[1]["toolCallId"]
    assert events[-1]["type"] == "RUN_FINISHED"
    assert events[-1]["result"]["reply"] == "echo: yo"
    body = run_input(new_session_id("agui-no"), "hi")
    body["forwardedProps"] = {"agent": "assistant"}
    status, events, error = await ag_ui(gateway, body, auth())
    assert status == 400 and error["error"]["code"] == "UnknownAgent"
