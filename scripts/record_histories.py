"""Record session histories from real runs into ``tests/histories/`` for replay tests.

Run from the repository root:  .venv/bin/python scripts/record_histories.py [--out DIR]

Each scenario runs on a fresh in-memory dev server with a real worker; every run of every
session (continue-as-new runs included) is saved as ``<scenario>[-runN].json``. Record a new
scenario whenever workflow behaviour changes (see docs/OPERATIONS.md, versioning).
"""

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from agents import load_agents
from client import (
    Delta,
    MessageRejectedError,
    SessionClient,
    SessionNotFoundError,
    TurnFailedError,
)
from models import SessionConfig
from models import search_attributes as sa
from models.settings import Settings
from tests.providers import TEST_PROVIDERS
from worker.client import client_plugins
from worker.run import running_worker

Scenario = Callable[[SessionClient, str], Awaitable[None]]


async def basic_turns(sessions: SessionClient, session_id: str) -> None:
    """Three request/response turns with an initial context."""
    config = SessionConfig(system_prompt="Be brief.")
    await sessions.send(session_id, "hello", config=config, initial_context={"team": "core"})
    await sessions.send(session_id, "how are you?")
    await sessions.send(session_id, "bye")


async def signals_and_dedupe(sessions: SessionClient, session_id: str) -> None:
    """Signalled messages, a repeated id by update and by signal."""
    await sessions.send(session_id, "first", message_id="m-1")
    await sessions.submit(session_id, "queued a", message_id="m-2")
    await sessions.submit(session_id, "queued b", message_id="m-3")
    await sessions.send(session_id, "first", message_id="m-1")
    await sessions.submit(session_id, "queued a", message_id="m-2")
    await sessions.send(session_id, "last", message_id="m-4")


async def failed_turn(sessions: SessionClient, session_id: str) -> None:
    """A provider failure becomes an error message; the next turn works."""
    config = SessionConfig(model="failing", model_max_attempts=2)
    await sessions.send(session_id, "hello", config=config)
    with contextlib.suppress(TurnFailedError):
        await sessions.send(session_id, "please fail", message_id="boom")
    await sessions.send(session_id, "recovered")


async def trim_and_continue_as_new(sessions: SessionClient, session_id: str) -> None:
    """Count trim, a duplicate answered from memory, and several continue-as-new runs."""
    config = SessionConfig(max_messages=6, continue_as_new_events=100)
    for turn in range(12):
        await sessions.send(session_id, f"turn {turn}", message_id=f"t-{turn}", config=config)
    await sessions.send(session_id, "turn 0", message_id="t-0")


async def close_early(sessions: SessionClient, session_id: str) -> None:
    """A close signal archives and completes the session."""
    await sessions.send(session_id, "short session")
    await sessions.close(session_id, reason="user left")


async def idle_expiry_and_age_trim(sessions: SessionClient, session_id: str) -> None:
    """Age-based trim and idle expiry with short real timers."""
    config = SessionConfig(idle_timeout=timedelta(seconds=3), message_ttl=timedelta(seconds=1))
    await sessions.send(session_id, "ages out", config=config)
    await asyncio.sleep(1.5)
    await sessions.send(session_id, "keeps the session alive")
    await sessions.handle(session_id).result()


async def streamed_turns(sessions: SessionClient, session_id: str) -> None:
    """Streamed turns with a live subscriber, a resumed stream, and an unstreamed turn."""
    config = SessionConfig(model="slow-echo")
    async for _ in sessions.stream(session_id, "stream this reply please", config=config):
        pass
    stream = sessions.stream(session_id, "one two three four five six", message_id="s-2")
    async for item in stream:
        if isinstance(item, Delta):
            break
    await stream.aclose()  # type: ignore[attr-defined]
    async for _ in sessions.resume(session_id, "s-2"):
        pass
    await sessions.send(session_id, "not streamed")


async def memory_and_comeback(sessions: SessionClient, session_id: str) -> None:
    """A user's stated preference is recalled; the session is closed and comes back."""
    config = SessionConfig(model="echo", memory_extraction="rules")
    await sessions.send(session_id, "I prefer aisle seats.", user_id="rita", config=config)
    await asyncio.sleep(1.0)  # the recorder extracts the preference after the reply
    await sessions.send(session_id, "Find me a seat on the next flight.", user_id="rita")
    await sessions.close(session_id, reason="done for now")
    await sessions.send(session_id, "I am back. Any seat news?", user_id="rita", config=config)


async def deferred_recording(sessions: SessionClient, session_id: str) -> None:
    """Back-to-back turns record through the next turn's preparation; the last one after
    the record delay; counters refresh then; a close flushes the rest."""
    config = SessionConfig(
        model="echo", memory_extraction="rules", record_delay=timedelta(seconds=1)
    )
    await sessions.send(session_id, "I prefer tea.", user_id="tom", config=config)
    await sessions.send(session_id, "What should I drink?", user_id="tom")
    await asyncio.sleep(1.5)
    await sessions.send(session_id, "One more thing.", user_id="tom")
    await sessions.close(session_id, reason="done")


async def memory_extraction(sessions: SessionClient, session_id: str) -> None:
    """Extraction as its own activity, with a model that never finishes it: recording goes
    on, continue-as-new carries the unmined messages over, close gives up after its grace."""
    config = SessionConfig(
        model="extraction-hangs",
        memory_extraction="model",
        record_delay=timedelta(milliseconds=200),
        continue_as_new_events=100,
    )
    for turn in range(8):
        await sessions.send(session_id, f"I like colour {turn}.", user_id="eve", config=config)
        await asyncio.sleep(0.3)
    await sessions.close(session_id, reason="done")


async def cancelled(sessions: SessionClient, session_id: str) -> None:
    """A cancellation request (the UI's button) ends the session like a close."""
    await sessions.send(session_id, "one", user_id="cora")
    await sessions.send(session_id, "two", user_id="cora")
    handle = sessions.handle(session_id)
    await handle.cancel()
    await handle.result()


async def issues_and_history_size(sessions: SessionClient, session_id: str) -> None:
    """Refused signals count as issues (search attributes) and grow the history until the
    session continues as new by size, without any turn."""
    config = SessionConfig(continue_as_new_bytes=150_000)
    await sessions.send(session_id, "hello", user_id="ivy", config=config)
    handle = sessions.handle(session_id)
    for _ in range(4):
        await handle.signal("submit_message", {"message": "x" * 50_000})
        await asyncio.sleep(0.3)
    await sessions.send(session_id, "still here", user_id="ivy")


async def _turn_running(sessions: SessionClient, session_id: str) -> None:
    while True:
        with contextlib.suppress(SessionNotFoundError):
            if (await sessions.status(session_id)).status == "processing":
                return
        await asyncio.sleep(0.02)


async def cancelled_turn(sessions: SessionClient, session_id: str) -> None:
    """cancel_turn during a slow model stream (and a streamed one): the partial replies are
    kept, the queued message runs; a cancel with nothing running is a no-op."""
    config = SessionConfig(model="slow-echo")
    # A first turn, so the status polling below never meets the session's first task.
    await sessions.send(session_id, "hello", user_id="cy", config=config)
    words = " ".join(f"w{i}" for i in range(60))
    waiting = asyncio.create_task(sessions.send(session_id, words, user_id="cy"))
    await _turn_running(sessions, session_id)
    queued = asyncio.create_task(sessions.send(session_id, "after", user_id="cy"))
    await asyncio.sleep(0.5)
    await sessions.cancel(session_id, user_id="cy")
    await waiting
    await queued
    await sessions.cancel(session_id, user_id="cy")  # idle: a no-op answer

    async def follow() -> None:
        async for _ in sessions.stream(session_id, words, user_id="cy"):
            pass

    streamed = asyncio.create_task(follow())
    await _turn_running(sessions, session_id)
    await asyncio.sleep(0.5)
    await sessions.cancel(session_id, user_id="cy")
    await streamed
    await sessions.send(session_id, "done", user_id="cy")


async def regenerated(sessions: SessionClient, session_id: str) -> None:
    """regenerate runs the last message again (the old reply kept as an alternative); the
    next turn sees the new reply; a repeat of the message id gets the new reply."""
    await sessions.send(session_id, "first", user_id="rae")
    await sessions.send(session_id, "second", user_id="rae", message_id="q-2")
    await sessions.regenerate(session_id, user_id="rae")
    await sessions.send(session_id, "third", user_id="rae")
    await sessions.send(session_id, "second", user_id="rae", message_id="q-2")


async def set_current_version(address: str, deployment: str, build_id: str) -> None:
    """``temporal worker deployment set-current-version``, retried until the version's
    workers have registered (the server refuses a version nobody polls)."""
    binary = Path(sys.executable).parent / "temporal"
    for _ in range(100):
        process = await asyncio.create_subprocess_exec(
            *(str(binary), "worker", "deployment", "set-current-version", "--yes"),
            *("--address", address, "--deployment-name", deployment, "--build-id", build_id),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        if await process.wait() == 0:
            return
        await asyncio.sleep(0.2)
    raise RuntimeError(f"could not make {deployment}.{build_id} current")


async def upgrade_to_new_version(client: Client, settings: Settings, out: Path) -> list[Path]:
    """Worker Versioning: a session pinned to v1 continues-as-new onto v2 after v2 becomes
    current (patch upgrade-on-continue), carrying its state; v2 answers the next turn."""
    name, session_id = "upgrade_to_new_version", "upgrade-to-new-version"
    versioned = settings.updated(
        task_queue=f"record-{uuid.uuid4().hex[:6]}", deployment_name="record"
    )
    sessions = SessionClient(client, versioned)
    v1 = versioned.updated(build_id="v1")
    v2 = versioned.updated(build_id="v2")
    async with running_worker(client, v1, TEST_PROVIDERS):
        await set_current_version(settings.connection.temporal_address, "record", "v1")
        await sessions.send(session_id, "on v1", user_id="vera")
        await sessions.send(session_id, "still v1", user_id="vera")
        async with running_worker(client, v2, TEST_PROVIDERS):
            await set_current_version(settings.connection.temporal_address, "record", "v2")
            await sessions.send(session_id, "the turn that moves", user_id="vera")
            await asyncio.sleep(1.0)  # the continue-as-new onto v2
            await sessions.send(session_id, "on v2", user_id="vera")
            await asyncio.sleep(1.0)
    return await save_runs(client, sessions.handle(session_id).id, out, name)


# Scenarios that run their own workers (not the shared unversioned one).
OWN_WORKERS = {"upgrade_to_new_version": upgrade_to_new_version}


async def running_summary(sessions: SessionClient, session_id: str) -> None:
    """A small token budget: messages leave the context and are summarised (rules), the
    summary is pinned, carried across continue-as-new, archived, and read back when the
    session comes back under the same id."""
    config = SessionConfig(
        model="echo",
        context_tokens=400,
        memory_extraction="rules",
        continue_as_new_events=100,
        record_delay=timedelta(0),
    )
    user = "summary-user"
    await sessions.send(
        session_id, "My name is Alice and I live in Lisbon.", user_id=user, config=config
    )
    for turn in range(14):
        text = f"{turn}: tell me one more thing about the weather in spring, please."
        await sessions.send(session_id, text, user_id=user, config=config)
        await asyncio.sleep(0.2)  # let the summary land between turns
    await sessions.close(session_id, reason="done")
    await sessions.handle(session_id).result()
    await sessions.send(session_id, "I am back. What is my name?", user_id=user, config=config)
    await asyncio.sleep(0.5)


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


SCENARIOS: dict[str, Scenario] = {
    "basic_turns": basic_turns,
    "signals_and_dedupe": signals_and_dedupe,
    "failed_turn": failed_turn,
    "trim_and_continue_as_new": trim_and_continue_as_new,
    "close_early": close_early,
    "idle_expiry_and_age_trim": idle_expiry_and_age_trim,
    "streamed_turns": streamed_turns,
    "memory_and_comeback": memory_and_comeback,
    "deferred_recording": deferred_recording,
    "memory_extraction": memory_extraction,
    "cancelled": cancelled,
    "issues_and_history_size": issues_and_history_size,
    "cancelled_turn": cancelled_turn,
    "regenerated": regenerated,
    "running_summary": running_summary,
    "tool_turn": tool_turn,
    "mcp_turn": mcp_turn,
    "failed_tool": failed_tool,
    "long_tool_result": long_tool_result,
    "unknown_agent": unknown_agent,
}


async def save_runs(client: Client, workflow_id: str, out: Path, name: str) -> list[Path]:
    """Save every run of ``workflow_id`` (oldest first) as JSON files."""
    runs = [
        execution.run_id
        async for execution in client.list_workflows(f"WorkflowId = '{workflow_id}'")
    ]
    runs.reverse()
    saved = []
    for index, run_id in enumerate(runs, start=1):
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        path = out / (f"{name}.json" if len(runs) == 1 else f"{name}-run{index}.json")
        path.write_text(history.to_json())
        saved.append(path)
    return saved


async def record(out: Path, only: list[str]) -> None:
    """Run the scenarios and save their histories under ``out``."""
    load_agents(["tests.agents"])  # the test agents (tools that fail, MCP servers)
    out.mkdir(parents=True, exist_ok=True)
    binary = Path(sys.executable).parent / "temporal"
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(binary), search_attributes=sa.ALL_KEYS
    )
    try:
        with tempfile.TemporaryDirectory() as data_dir:
            settings = Settings(
                temporal_address=str(env.client.service_client.config.target_host),
                task_queue=f"record-{uuid.uuid4().hex[:6]}",
                data_dir=Path(data_dir),
            )
            client = await Client.connect(
                settings.connection.temporal_address,
                plugins=client_plugins(settings, TEST_PROVIDERS),
            )
            sessions = SessionClient(client, settings)
            async with running_worker(client, settings, TEST_PROVIDERS):
                for name, scenario in SCENARIOS.items():
                    if only and name not in only:
                        continue
                    session_id = name.replace("_", "-")
                    await scenario(sessions, session_id)
                    await asyncio.sleep(1.0)  # let trailing record activities finish
                    paths = await save_runs(client, sessions.handle(session_id).id, out, name)
                    print(f"{name}: {', '.join(p.name for p in paths)}")
            for name, own in OWN_WORKERS.items():
                if not only or name in only:
                    paths = await own(client, settings, out)
                    print(f"{name}: {', '.join(p.name for p in paths)}")
    finally:
        await env.shutdown()


def main() -> None:
    """Parse arguments, record, and exit hard (sdk-python#300)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("tests/histories"))
    parser.add_argument("scenarios", nargs="*", help="only these scenarios")
    args = parser.parse_args()
    asyncio.run(record(args.out, args.scenarios))
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
