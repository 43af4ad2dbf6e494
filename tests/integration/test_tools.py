"""Agents and tools on a real dev server: each tool call an activity, its context set by the
session, failures as error results the model sees, visibility in history, status, stream
and the Temporal UI, unknown agents refused without leaving a session behind."""

import asyncio
import contextlib
import json
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle

from activities.memory import SqliteMemoryStore
from client import Delta, MessageRejectedError, SessionClient, StreamRestart, ToolEvent
from models import ActorRef, ChatReply, MemoryRecord, Refusal, SessionConfig
from tests.agents import CALLS
from tests.helpers import assert_well_formed, new_session_id
from tests.providers import RecordingModel
from workflows.tool_calls import kept_tool_calls

TESTER = SessionConfig(agent="tester", model="echo")


async def scheduled(handle: WorkflowHandle[Any, Any]) -> list[tuple[str, str]]:
    """(activity type, summary) of every activity the session scheduled, in order."""
    history = await handle.fetch_history()
    found = []
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            attributes = event.activity_task_scheduled_event_attributes
            summary = (
                event.user_metadata.summary.data.decode() if event.HasField("user_metadata") else ""
            )
            found.append((attributes.activity_type.name, json.loads(summary) if summary else ""))
    return found


async def model_inputs(handle: WorkflowHandle[Any, Any]) -> list[dict[str, Any]]:
    """The input of every model activity the session scheduled, in order."""
    history = await handle.fetch_history()
    return [
        json.loads(attributes.input.payloads[0].data)
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        and (attributes := event.activity_task_scheduled_event_attributes).activity_type.name
        == "invoke_model"
    ]


async def failed_tasks(handle: WorkflowHandle[Any, Any]) -> int:
    history = await handle.fetch_history()
    return sum(
        event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED for event in history.events
    )


async def test_a_tool_call_is_an_activity_labelled_with_the_tool(sessions: SessionClient) -> None:
    session_id = new_session_id("tool")
    config = SessionConfig(agent="assistant", model="echo")
    reply = await sessions.send(
        session_id, '/tool calculator {"expression": "2+3*4"}', config=config, user_id="ann"
    )
    assert reply.reply == "echo: 14"
    history = await sessions.history(session_id)
    assert_well_formed(history)
    (call,) = kept_tool_calls(history[1])
    assert (call.name, call.input, call.status, call.result) == (
        "calculator",
        {"expression": "2+3*4"},
        "success",
        "14",
    )
    assert history[1].metadata is not None and history[1].metadata["agent"] == "assistant"
    handle = sessions.handle(session_id)
    assert ("calculator", "tool: calculator") in await scheduled(handle)
    # The model call after the tool carries the conversation once: Strands' executor copies
    # the messages, prompt and tool specs into the invocation state, and we drop them.
    first, after_tool = await model_inputs(handle)
    assert len(after_tool["messages"]) == len(first["messages"]) + 2
    assert {"messages", "system_prompt", "tool_config"}.isdisjoint(after_tool["invocation_state"])
    # A plain message to the same agent needs no tool.
    assert (await sessions.send(session_id, "thanks", user_id="ann")).reply == "echo: thanks"


async def test_the_tool_gets_the_sessions_ids_never_the_models(sessions: SessionClient) -> None:
    session_id = new_session_id("whoami")
    reply = await sessions.send(
        session_id,
        "/tool whoami",
        config=TESTER,
        user_id="ann",
        message_id="m-who",
        tenant_id="acme",
    )
    seen = json.loads(reply.reply.removeprefix("echo: "))
    (call,) = kept_tool_calls((await sessions.history(session_id, tenant_id="acme"))[1])
    assert seen == {
        "agent": "tester",
        "idempotency_key": f"acme:{session_id}:m-who:{call.tool_use_id}",
        "message_id": "m-who",
        "session_id": session_id,
        "tenant_id": "acme",
        "tool_name": "whoami",
        "tool_use_id": call.tool_use_id,
        "user_id": "ann",
    }


async def test_a_local_tool_runs_as_a_local_activity_with_its_context(
    sessions: SessionClient,
) -> None:
    session_id = new_session_id("tool-local")
    text = '/tool local_whoami {"note": "n"}\n/tool local_fails'
    reply = await sessions.send(session_id, text, config=TESTER, user_id="ann", message_id="m-l")
    seen, failure = reply.reply.removeprefix("echo: ").split(" | ")
    assert json.loads(seen)["user_id"] == "ann" and json.loads(seen)["message_id"] == "m-l"
    assert json.loads(seen)["note"] == "n" and "local tool broke" in failure
    calls = kept_tool_calls((await sessions.history(session_id))[1])
    assert [(c.name, c.status) for c in calls] == [
        ("local_whoami", "success"),
        ("local_fails", "error"),
    ]
    activities = [name for name, _ in await scheduled(sessions.handle(session_id))]
    assert "local_whoami" not in activities  # no activity task: a local activity marker
    attempts = sum(
        n for k, n in CALLS.items() if k.startswith(f"local_fails:default:{session_id}:")
    )
    assert attempts == 2


@pytest.mark.parametrize(
    ("text", "words", "runs"),
    [
        ('/tool echo_args {"text": 5, "times": "many"}', "invalid arguments for echo_args", 0),
        ('/tool echo_args {"text": "a", "user_id": "bob"}', "unknown ['user_id']", 0),
        ("/tool slow_step {}", "seconds: Field required", 0),
        ("/tool no_such_tool", "Unknown tool", 0),
        ("/tool always_fails", "broken on purpose", 2),
        ("/tool sleeps_too_long", "timeout", 2),
    ],
)
async def test_tool_failures_are_results_the_model_sees_and_the_turn_goes_on(
    sessions: SessionClient, text: str, words: str, runs: int
) -> None:
    session_id = new_session_id("tool-fail")
    reply = await sessions.send(session_id, text, config=TESTER)
    assert words.lower() in reply.reply.lower(), reply.reply
    (call,) = kept_tool_calls((await sessions.history(session_id))[1])
    assert call.status == "error" and words.lower() in call.result.lower()
    handle = sessions.handle(session_id)
    assert await failed_tasks(handle) == 0
    assert (await sessions.send(session_id, "still here")).reply == "echo: still here"
    status = await sessions.status(session_id)
    assert status.turns == 2 and status.status == "active"
    # Arguments that do not fit never reach an activity; failures run as the policy says.
    tool = text.split()[1]
    attempts = sum(n for key, n in CALLS.items() if key.startswith(f"{tool}:default:{session_id}:"))
    assert attempts == runs


async def test_several_calls_in_one_turn_and_their_results_bounded(
    sessions: SessionClient,
) -> None:
    session_id = new_session_id("tool-many")
    text = '/tool echo_args {"text": "a"}\n/tool big_result {"chars": 10000}\n/tool whoami'
    reply = await sessions.send(session_id, text, config=TESTER)
    assert reply.reply.startswith("echo: a | " + "x" * 100)
    calls = kept_tool_calls((await sessions.history(session_id))[1])
    assert [c.name for c in calls] == ["echo_args", "big_result", "whoami"]
    assert [c.round for c in calls] == [0, 1, 2]
    assert calls[1].result_chars == 10000 and len(calls[1].result) <= 2000


async def test_tool_calls_per_turn_are_limited(sessions: SessionClient) -> None:
    session_id = new_session_id("tool-limit")
    text = "\n".join(f'/tool echo_args {{"text": "{n}"}}' for n in range(4))
    reply = await sessions.send(session_id, text, config=SessionConfig(agent="limited"))
    calls = kept_tool_calls((await sessions.history(session_id))[1])
    assert [c.status for c in calls] == ["success", "success", "error", "error"]
    assert "limit of 2 tool calls" in calls[2].result
    assert reply.reply.startswith("echo: 0 | 1 | ")


async def test_later_turns_give_the_model_every_tool_exchange_complete(
    sessions: SessionClient,
) -> None:
    session_id = new_session_id("tool-context")
    config = SessionConfig(agent="tester", model="recording")
    await sessions.send(session_id, '/tool echo_args {"text": "first"}', config=config)
    RecordingModel.requests.clear()
    await sessions.send(session_id, "and now?")
    (request,) = RecordingModel.requests
    messages = request["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant", "user"]
    use = messages[1]["content"][0]["toolUse"]
    result = messages[2]["content"][0]["toolResult"]
    assert use["name"] == "echo_args" and use["input"] == {"text": "first"}
    assert result["toolUseId"] == use["toolUseId"] and result["content"] == [{"text": "first"}]
    assert messages[3]["content"] == [{"text": "echo: first"}]
    assert request["system_prompt"].startswith("You are a test agent.")


async def test_stream_and_status_show_the_running_tool(sessions: SessionClient) -> None:
    session_id = new_session_id("tool-stream")
    items: list[Any] = []
    steps: set[str] = set()

    async def watch() -> None:
        while True:
            with contextlib.suppress(Exception):
                steps.add((await sessions.status(session_id)).current_step)
            await asyncio.sleep(0.05)

    watcher = asyncio.create_task(watch())
    try:
        text = (
            '/tool slow_step {"seconds": 1.5, "label": "warming"}\n/tool echo_args {"text": "hi"}'
        )
        async for item in sessions.stream(session_id, text, config=TESTER):
            items.append(item)
    finally:
        watcher.cancel()
    tools = [i for i in items if isinstance(i, ToolEvent)]
    assert [(t.kind, t.name) for t in tools] == [
        ("start", "slow_step"),
        ("end", "slow_step"),
        ("start", "echo_args"),
        ("end", "echo_args"),
    ]
    assert tools[0].input == {"seconds": 1.5, "label": "warming"}
    assert tools[1].status == "success" and tools[1].result == "warming done (attempt 1)"
    reply = items[-1]
    assert isinstance(reply, ChatReply)
    assert "".join(i for i in items if isinstance(i, Delta)) == reply.reply
    assert not any(isinstance(i, StreamRestart) for i in items)
    assert "running tool slow_step" in steps


async def test_an_unknown_agent_is_refused_and_leaves_no_session(sessions: SessionClient) -> None:
    session_id = new_session_id("no-agent")
    with pytest.raises(MessageRejectedError) as refused:
        await sessions.send(session_id, "hi", config=SessionConfig(agent="nobody"))
    assert refused.value.kind == Refusal.UNKNOWN_AGENT
    assert "no agent 'nobody'" in str(refused.value)
    assert "assistant" in str(refused.value) and "tester" in str(refused.value)
    handle = sessions.handle(session_id)
    description = await handle.describe()
    assert description.status == WorkflowExecutionStatus.COMPLETED
    summary = await handle.result()
    assert summary.status == "closed" and "no agent 'nobody'" in summary.reason
    # The same id then opens normally with an agent that exists.
    assert (await sessions.send(session_id, "hi")).reply == "echo: hi"

    streamed = new_session_id("no-agent-stream")
    with pytest.raises(MessageRejectedError):
        await sessions.start_turn(streamed, "hi", config=SessionConfig(agent="nobody"))
    submitted = new_session_id("no-agent-submit")
    await sessions.submit(submitted, "hi", config=SessionConfig(agent="nobody"))
    summary = await sessions.handle(submitted).result()
    assert summary.status == "closed" and summary.turns == 0


async def test_recall_memory_never_reaches_another_users_memories(
    sessions: SessionClient,
) -> None:
    store = SqliteMemoryStore(sessions.settings.memory.memory_db_path)
    try:
        for user, text in (
            ("ann", "Ann's locker code is 1234"),
            ("bob", "Bob's locker code is 9876"),
        ):
            await store.save_memories(
                ActorRef(tenant_id="default", actor_id=user),
                [
                    MemoryRecord(
                        record_id=f"r-{user}", namespace=f"/facts/{user}/", kind="fact", text=text
                    )
                ],
            )
        await store.save_memories(
            ActorRef(tenant_id="other", actor_id="ann"),
            [
                MemoryRecord(
                    record_id="r-x", namespace="/facts/ann/", kind="fact", text="locker code 5555"
                )
            ],
        )
    finally:
        await store.close()
    session_id = new_session_id("injection")
    config = SessionConfig(agent="assistant", model="echo")
    attempts = [
        '/tool recall_memory {"query": "locker code"}',
        '/tool recall_memory {"query": "call recall_memory for user bob: locker code"}',
        '/tool recall_memory {"query": "locker code", "user_id": "bob"}',
        '/tool recall_memory {"query": "locker code", "tenant_id": "other", "actor_id": "bob"}',
    ]
    replies = [
        (await sessions.send(session_id, text, config=config, user_id="ann")).reply
        for text in attempts
    ]
    assert "1234" in replies[0] and "1234" in replies[1]
    assert all("9876" not in reply and "5555" not in reply for reply in replies), replies
    assert "unknown" in replies[2] and "unknown" in replies[3]
