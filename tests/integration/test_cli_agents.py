"""Agents from the command line: ``--agent`` on session commands, ``--agents`` on the worker
and dev commands (a bad definition is one line), tool calls in ``history`` and in the chat,
and the support example end to end with ``convoflow dev``."""

import asyncio
import io
import os
import sys
from pathlib import Path

from cli.chat import stream_reply
from client import SessionClient
from models import SessionConfig
from tests.faults.procs import free_ports
from tests.helpers import new_session_id
from tests.integration.test_cli import convoflow, one_json


async def test_send_with_an_agent_and_its_tool_calls_in_history(sessions: SessionClient) -> None:
    session_id = new_session_id("cli-agent")
    common = ["--session", session_id, "--user", "ann"]
    code, out, err = await convoflow(
        sessions, "send", *common, "--agent", "assistant", '/tool calculator {"expression": "6*7"}'
    )
    assert (code, out) == (0, "echo: 42\n"), err
    code, out, _ = await convoflow(sessions, "history", *common, "--json")
    reply = one_json(out)[1]
    assert reply["metadata"]["agent"] == "assistant"
    (call,) = reply["metadata"]["tool_calls"]
    assert call["name"] == "calculator" and call["result"] == "42"
    assert call["input"] == {"expression": "6*7"} and call["status"] == "success"
    code, out, _ = await convoflow(sessions, "history", *common)
    assert 'tool calculator {"expression": "6*7"} -> success: 42' in out


async def test_an_unknown_agent_is_refused_in_one_line(sessions: SessionClient) -> None:
    session_id = new_session_id("cli-no-agent")
    code, out, err = await convoflow(
        sessions, "send", "--session", session_id, "--agent", "nobody", "hi"
    )
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "no agent 'nobody' on this worker; agents:" in err
    code, out, _ = await convoflow(
        sessions, "submit", "--session", new_session_id(), "--agent", "nobody", "--json", "hi"
    )
    assert code == 0  # a submit is not answered; the session ends itself (see test_tools)


async def _worker(sessions: SessionClient, modules: str, path: Path) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cli.main",
        "worker",
        "--agents",
        modules,
        env={**os.environ, "PYTHONPATH": str(path), "CONVOFLOW_TEMPORAL_ADDRESS": "127.0.0.1:1"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, err.decode()


async def test_a_worker_refuses_to_start_with_a_bad_agent(
    sessions: SessionClient, tmp_path: Path
) -> None:
    (tmp_path / "typo_agents.py").write_text(
        "from agents import AgentDefinition\nsupport = AgentDefinition(name='s', model='bedrok')\n"
    )
    (tmp_path / "twice_agents.py").write_text(
        "from temporalio import activity\nfrom agents import AgentDefinition\n"
        "@activity.defn(name='calculator')\nasync def mine(x: str) -> str:\n    return x\n"
        "support = AgentDefinition(name='s2', tools=[mine])\n"
    )
    (tmp_path / "plain_agents.py").write_text(
        "from agents import AgentDefinition\nasync def tool(x: str) -> str:\n    return x\n"
        "support = AgentDefinition(name='s3', tools=[tool])\n"
    )
    for module, words in (
        ("typo_agents", "uses model provider 'bedrok', which is not registered"),
        ("twice_agents", "tool name 'calculator' of agent 's2' is already used"),
        ("plain_agents", "tool 'tool' is not a Temporal activity"),
        ("missing_agents", "cannot import agents module 'missing_agents'"),
    ):
        code, err = await _worker(sessions, module, tmp_path)
        assert code == 2, err
        assert err.count("\n") == 1 and words in err, err


async def test_the_chat_shows_tool_calls(sessions: SessionClient) -> None:
    session_id = new_session_id("chat-tools")
    await sessions.send(session_id, "hello", config=SessionConfig(agent="tester"))
    out = io.StringIO()
    text = '/tool echo_args {"text": "ping"}\n/tool always_fails'
    reply = await stream_reply(sessions, session_id, text, "default", None, out)
    lines = out.getvalue().splitlines()
    assert lines[0] == '  [tool echo_args {"text": "ping"}]'
    assert lines[1] == "  [tool echo_args ok: ping]"
    assert lines[2] == "  [tool always_fails {}]"
    assert lines[3].startswith("  [tool always_fails failed: broken on purpose")
    assert lines[4] == f"assistant> {reply.reply}"


async def test_dev_runs_the_support_example(sessions: SessionClient, tmp_path: Path) -> None:
    port, ui_port = free_ports(2)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cli.main",
        "dev",
        "--agents",
        "examples.support",
        "--agent",
        "support",
        "--user",
        "alice",
        "--model",
        "echo",
        "--port",
        str(port),
        "--ui-port",
        str(ui_port),
        "--data-dir",
        str(tmp_path / "data"),
        env={**os.environ, "SUPPORT_DB": str(tmp_path / "orders.db")},
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    questions = (
        '/tool lookup_order {"order_id": "A-1001"}\n'
        '/tool lookup_order {"order_id": "B-2001"}\n'
        "/tool list_my_orders\n"
    )
    out, err = await asyncio.wait_for(process.communicate(questions.encode()), 180)
    text = out.decode()
    assert process.returncode == 0, err.decode()
    assert '[tool lookup_order {"order_id": "A-1001"}]' in text
    assert "assistant> echo: Order A-1001: shipped (2 x espresso cups), arrives Thursday." in text
    # Bob's order is not Alice's: the tool acts for the session's user.
    assert "assistant> echo: No order 'B-2001' for this customer." in text
    assert "assistant> echo: A-1001: shipped; A-1002: processing" in text
    assert "agent 'support'" in err.decode()
