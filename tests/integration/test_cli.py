"""The ``convoflow`` CLI as a user runs it: one JSON document per data command, exit codes."""

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from client import SessionClient
from models import SessionConfig
from tests.helpers import eventually, new_session_id


async def convoflow(sessions: SessionClient, *args: str) -> tuple[int, str, str]:
    """Run the CLI in a subprocess against the test dev server and worker."""
    env = {
        **os.environ,
        "CONVOFLOW_TEMPORAL_ADDRESS": sessions.settings.connection.temporal_address,
        "CONVOFLOW_TASK_QUEUE": sessions.settings.connection.task_queue,
        "CONVOFLOW_DATA_DIR": str(sessions.settings.memory.data_dir),
        "CONVOFLOW_MODEL": sessions.settings.providers.model,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cli.main",
        *args,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def one_json(out: str) -> Any:
    """Parse stdout, asserting it is exactly one JSON document."""
    return json.loads(out)


async def test_send_history_status_sessions_close(sessions: SessionClient) -> None:
    session_id = new_session_id("cli")
    common = ["--session", session_id, "--tenant", "acme", "--user", "alice", "--json"]

    code, out, err = await convoflow(sessions, "send", *common, "--message-id", "m-1", "hi")
    assert code == 0, err
    reply = one_json(out)
    assert reply["reply"] == "echo: hi"
    assert reply["message_id"] == "m-1" and reply["session_id"] == session_id

    code, out, _ = await convoflow(sessions, "send", *common, "--message-id", "m-1", "hi")
    assert code == 0 and one_json(out)["duplicate"] is True

    code, out, _ = await convoflow(sessions, "history", *common, "--limit", "1")
    assert code == 0
    assert [m["message"] for m in one_json(out)] == ["echo: hi"]

    code, out, _ = await convoflow(sessions, "status", *common)
    status = one_json(out)
    assert code == 0 and status["turns"] == 1 and status["tenant_id"] == "acme"
    assert status["user_id"] == "alice" and status["status"] == "active"

    code, out, _ = await convoflow(sessions, "sessions", "--tenant", "acme", "--json")
    assert code == 0
    listed = {row["session_id"]: row for row in one_json(out)}
    assert listed[session_id]["user_id"] == "alice"

    code, out, _ = await convoflow(sessions, "close", *common, "--reason", "done")
    summary = one_json(out)
    assert code == 0 and summary["status"] == "closed" and summary["reason"] == "done"


async def test_plain_output(sessions: SessionClient) -> None:
    session_id = new_session_id("plain")
    code, out, _ = await convoflow(sessions, "send", "--session", session_id, "hello")
    assert (code, out) == (0, "echo: hello\n")
    code, out, _ = await convoflow(sessions, "history", "--session", session_id)
    assert code == 0 and "user: hello" in out and "assistant: echo: hello" in out


@pytest.mark.parametrize(
    ("args", "code", "kind"),
    [
        (["send", "--session", "bad id", "--json", "hi"], 2, "InvalidIdError"),
        (["send", "--session", "ok-id", "--json", "  "], 2, "InvalidMessage"),
        (["status", "--session", "never-existed-xyz", "--json"], 1, "SessionNotFoundError"),
        (["history", "--session", "ok-id", "--limit", "-1", "--json"], 2, "UsageError"),
    ],
)
async def test_errors_are_one_json_document_and_exit_code(
    sessions: SessionClient, args: list[str], code: int, kind: str
) -> None:
    returned, out, _ = await convoflow(sessions, *args)
    assert returned == code
    assert one_json(out)["error"]["type"] == kind


async def test_unreachable_temporal_is_a_clear_error(sessions: SessionClient) -> None:
    code, out, _ = await convoflow(
        sessions, "status", "--session", "x", "--address", "127.0.0.1:1", "--json"
    )
    assert code == 1
    error = one_json(out)["error"]
    assert error["type"] == "ConnectionError" and "127.0.0.1:1" in error["message"]


async def test_history_all_pages_the_memory_store(sessions: SessionClient) -> None:
    session_id = new_session_id("all")
    config = SessionConfig(max_messages=4)
    for turn in range(4):
        await sessions.send(session_id, f"turn {turn}", config=config)
    code, out, _ = await convoflow(sessions, "history", "--session", session_id, "--json")
    assert code == 0 and len(one_json(out)) == 4

    async def stored() -> list[Any]:
        _, out, _ = await convoflow(sessions, "history", "--session", session_id, "--all", "--json")
        return list(one_json(out))

    everything = await eventually(stored, lambda found: len(found) == 8)
    assert [m["seq"] for m in everything] == list(range(8))


async def test_memory_search_and_list(sessions: SessionClient) -> None:
    tenant = new_session_id("mem")
    await sessions.send(
        new_session_id("m"),
        "I love hiking in the Alps. My favourite colour is green.",
        tenant_id=tenant,
        user_id="dana",
        config=SessionConfig(memory_extraction="rules"),
    )
    actor = ["--actor", "dana", "--tenant", tenant, "--json"]

    async def listed() -> list[Any]:
        _, out, _ = await convoflow(sessions, "memory", "list", *actor)
        return list(one_json(out))

    records = await eventually(listed, lambda found: len(found) == 2)
    assert {r["kind"] for r in records} == {"preference"}
    code, out, _ = await convoflow(sessions, "memory", "search", *actor, "mountains hiking")
    found = one_json(out)
    assert code == 0 and found[0]["text"] == "User loves hiking in the Alps"
    code, out, _ = await convoflow(
        sessions,
        "memory",
        "search",
        "--actor",
        "someone-else",
        "--tenant",
        tenant,
        "--json",
        "hiking",
    )
    assert code == 0 and one_json(out) == []


async def test_replay_command_reports_every_history(sessions: SessionClient) -> None:
    histories = sorted(str(p) for p in Path("tests/histories").glob("*.json"))
    session_id = new_session_id("replay")
    await sessions.send(session_id, "replay me")
    live = sessions.handle(session_id).id
    code, out, _ = await convoflow(
        sessions, "replay", *histories, "--workflow-id", live, "--agents", "tests.agents", "--json"
    )
    report = one_json(out)
    assert code == 0, report
    assert report["replayed"] == len(histories) + 1 and report["failed"] == 0
    assert {r["source"] for r in report["results"]} >= {f"live:{live}"}
