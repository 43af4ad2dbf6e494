"""Session behaviour on a real dev server: ordering, dedupe, concurrency, trim, failures."""

import asyncio

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from activities.memory import SqliteMemoryStore
from client import MessageRejectedError, SessionClient, SessionNotFoundError, TurnFailedError
from models import InvalidIdError, SessionConfig, SessionRef
from models.settings import Settings
from tests.helpers import assert_well_formed, eventually, new_session_id, settled_event_count
from tests.providers import RecordingModel


async def test_concurrent_senders_to_one_session_are_serialised(sessions: SessionClient) -> None:
    session_id = new_session_id("order")
    await sessions.send(session_id, "opening")
    texts = [f"message {i:02d}" for i in range(20)]
    replies = await asyncio.gather(*(sessions.send(session_id, text) for text in texts))
    assert [r.reply for r in replies] == [f"echo: {text}" for text in texts]

    history = await sessions.history(session_id)
    assert len(history) == 42
    assert_well_formed(history)
    users = [m for m in history if m.role == "user"]
    stamps = [m.timestamp for m in users if m.timestamp is not None]
    assert len(stamps) == len(users)
    assert stamps == sorted(stamps), "processed out of arrival order"
    assert sorted(m.message for m in users[1:]) == texts


async def test_repeated_message_id_gets_first_reply_once(sessions: SessionClient) -> None:
    session_id = new_session_id("dedupe")
    first = await sessions.send(session_id, "charge my card", message_id="pay-1")
    again = await sessions.send(session_id, "charge my card", message_id="pay-1")
    concurrent = await asyncio.gather(
        *(sessions.send(session_id, "charge my card", message_id="pay-2") for _ in range(5))
    )
    await sessions.submit(session_id, "charge my card", message_id="pay-2")

    assert not first.duplicate and again.duplicate
    assert again.reply == first.reply and again.reply_message_id == first.reply_message_id
    assert len({r.reply_message_id for r in concurrent}) == 1
    assert sum(not r.duplicate for r in concurrent) == 1
    history = await sessions.history(session_id)
    assert [m.message_id for m in history if m.role == "user"] == ["pay-1", "pay-2"]
    assert_well_formed(history)


async def test_duplicate_of_trimmed_turn_is_answered_from_memory(sessions: SessionClient) -> None:
    session_id = new_session_id("dedupe-old")
    config = SessionConfig(max_messages=4)
    first = await sessions.send(session_id, "turn zero", message_id="t-0", config=config)
    for turn in range(1, 5):
        await sessions.send(session_id, f"turn {turn}", message_id=f"t-{turn}")
    assert all(m.message_id != "t-0" for m in await sessions.history(session_id))

    again = await sessions.send(session_id, "turn zero", message_id="t-0")
    assert again.duplicate and again.reply == first.reply
    assert (await sessions.status(session_id)).turns == 5


async def test_fifty_concurrent_sessions(sessions: SessionClient) -> None:
    session_ids = [new_session_id(f"many{i}") for i in range(50)]

    async def converse(session_id: str) -> None:
        for turn in range(3):
            reply = await sessions.send(session_id, f"{session_id} turn {turn}")
            assert reply.reply == f"echo: {session_id} turn {turn}"
            assert reply.session_id == session_id

    await asyncio.gather(*(converse(s) for s in session_ids))
    for session_id in session_ids:
        history = await sessions.history(session_id)
        assert len(history) == 6
        assert_well_formed(history)
        assert all(session_id in m.message for m in history)


async def test_count_trim_keeps_window_and_memory_keeps_everything(
    sessions: SessionClient,
) -> None:
    session_id = new_session_id("trim")
    config = SessionConfig(max_messages=6)
    for turn in range(10):
        await sessions.send(session_id, f"turn {turn}", config=config)
    history = await sessions.history(session_id)
    assert len(history) == 6 and history[0].seq == 14
    status = await sessions.status(session_id)
    assert (status.message_count, status.total_messages, status.trimmed_messages) == (6, 20, 14)
    assert [m.message for m in await sessions.history(session_id, limit=2)] == [
        "turn 9",
        "echo: turn 9",
    ]

    store = SqliteMemoryStore(sessions.settings.memory.memory_db_path)
    ref = SessionRef(tenant_id="default", session_id=session_id)
    stored = await eventually(
        lambda: store.recent_messages(ref, 100), lambda found: len(found) == 20
    )
    assert_well_formed(stored)


async def test_thousand_turns_cross_continue_as_new_with_nothing_lost(
    sessions: SessionClient,
) -> None:
    session_id = new_session_id("long")
    config = SessionConfig(max_messages=50, continue_as_new_events=300)
    await sessions.send(session_id, "turn 0000", config=config)

    async def sender(lane: int) -> None:
        for turn in range(lane, 1000, 8):
            if turn:
                reply = await sessions.send(session_id, f"turn {turn:04d}")
                assert reply.reply == f"echo: turn {turn:04d}"

    await asyncio.gather(*(sender(lane) for lane in range(8)))

    status = await sessions.status(session_id)
    assert status.turns == 1000 and status.total_messages == 2000
    assert status.run >= 4, f"expected several continue-as-new runs, got {status.run}"
    history = await sessions.history(session_id)
    assert len(history) == 50 and history[-1].seq == 1999
    assert_well_formed(history)

    store = SqliteMemoryStore(sessions.settings.memory.memory_db_path)
    ref = SessionRef(tenant_id="default", session_id=session_id)
    stored = await eventually(
        lambda: store.list_messages(ref, limit=5000), lambda found: len(found) == 2000
    )
    assert_well_formed(stored)
    assert sorted(m.message for m in stored if m.role == "user") == [
        f"turn {turn:04d}" for turn in range(1000)
    ]


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({"message": ""}, "message is empty"),
        ({"message": "x" * 101}, "allows 100"),
        ({"message": "hi", "message_id": "bad id!"}, "message_id"),
        ({"message": "hi", "role": "assistant"}, "role must be 'user'"),
        ("not an object", "expected a JSON object"),
    ],
)
async def test_bad_input_is_refused_before_history(
    sessions: SessionClient, payload: object, reason: str
) -> None:
    session_id = new_session_id("bad")
    await sessions.send(session_id, "valid", config=SessionConfig(max_message_chars=100))
    handle = sessions.handle(session_id)
    before = await settled_event_count(handle)

    with pytest.raises(WorkflowUpdateFailedError) as info:
        await handle.execute_update("send_message", payload)
    cause = info.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "InvalidMessage"
    assert reason in cause.message
    # A rejected update leaves no trace in the workflow's history.
    assert len((await handle.fetch_history()).events) == before
    assert (await sessions.status(session_id)).turns == 1


async def test_client_refuses_bad_ids_before_temporal(sessions: SessionClient) -> None:
    with pytest.raises(InvalidIdError, match="session id"):
        await sessions.send("no spaces allowed", "hi")
    with pytest.raises(InvalidIdError, match="tenant id"):
        await sessions.send("fine", "hi", tenant_id="a:b")
    with pytest.raises(MessageRejectedError, match="message is empty"):
        await sessions.send(new_session_id(), "   ")


async def test_failing_provider_leaves_error_and_session_keeps_working(
    sessions: SessionClient,
) -> None:
    session_id = new_session_id("fail")
    config = SessionConfig(model="failing", model_max_attempts=2)
    await sessions.send(session_id, "hello", config=config)
    with pytest.raises(TurnFailedError, match="provider exploded on purpose"):
        await sessions.send(session_id, "please fail now", message_id="boom-1")
    # A repeat of the failed id gets the same failure, not a second model call.
    with pytest.raises(TurnFailedError, match="provider exploded"):
        await sessions.send(session_id, "please fail now", message_id="boom-1")

    reply = await sessions.send(session_id, "hello again")
    assert reply.reply == "echo: hello again"
    history = await sessions.history(session_id)
    assert [m.role for m in history] == ["user", "assistant", "user", "error", "user", "assistant"]
    assert history[3].reply_to == "boom-1" and "provider exploded" in history[3].message
    status = await sessions.status(session_id)
    assert status.status == "active" and status.turns == 3
    assert any("boom-1 failed" in issue for issue in status.issues)


async def test_model_sees_system_prompt_context_and_recent_turns(sessions: SessionClient) -> None:
    session_id = new_session_id("context")
    config = SessionConfig(model="recording", system_prompt="Be terse.", context_messages=4)
    RecordingModel.requests.clear()
    await sessions.send(session_id, "one", config=config, initial_context={"project": "convoflow"})
    for text in ("two", "three", "four"):
        await sessions.send(session_id, text)
    last = RecordingModel.requests[-1]
    assert last["system_prompt"].startswith("Be terse.")
    assert '"project": "convoflow"' in last["system_prompt"]
    texts = [m["content"][0]["text"] for m in last["messages"]]
    assert texts == ["two", "echo: two", "three", "echo: three", "four"]
    history = await sessions.history(session_id)
    assert history[0].role == "system" and history[0].metadata == {
        "type": "system",
        "context": {"project": "convoflow"},
    }


async def test_signalled_messages_are_processed_in_order(sessions: SessionClient) -> None:
    session_id = new_session_id("signal")
    ids = [await sessions.submit(session_id, f"queued {i}") for i in range(5)]
    history = await eventually(lambda: sessions.history(session_id), lambda found: len(found) == 10)
    assert [m.message_id for m in history if m.role == "user"] == ids
    assert_well_formed(history)


async def test_other_users_get_nothing_from_a_session(sessions: SessionClient) -> None:
    session_id = new_session_id("owned")
    await sessions.send(session_id, "private note", user_id="alice")
    assert len(await sessions.history(session_id, user_id="alice")) == 2
    with pytest.raises(SessionNotFoundError, match="no such session"):
        await sessions.history(session_id, user_id="mallory")
    with pytest.raises(SessionNotFoundError, match="no such session"):
        await sessions.status(session_id, user_id="mallory")
    with pytest.raises(SessionNotFoundError, match="no such session"):
        await sessions.send(session_id, "let me in", user_id="mallory")
    with pytest.raises(SessionNotFoundError):
        await sessions.history("never-existed-owned", user_id="mallory")
    assert (await sessions.status(session_id)).turns == 1


async def test_the_worker_decides_the_model_of_a_session_that_names_none(
    sessions: SessionClient,
) -> None:
    # A client whose environment names no model (another shell next to `convoflow dev`):
    # before, it filled in its own default ("local") and the session ran on that.
    bare = Settings(
        temporal_address=sessions.settings.connection.temporal_address,
        task_queue=sessions.settings.connection.task_queue,
    )
    assert "model" not in bare.providers.model_fields_set
    client = SessionClient(sessions.temporal, bare)
    session_id = new_session_id("worker-model")
    reply = await client.send(session_id, "hi")
    worker_model = sessions.settings.providers.model  # the test worker's CONVOFLOW_MODEL
    assert reply.reply == "echo: hi" and worker_model == "echo"
    status = await client.status(session_id)
    assert (status.model, status.agent) == ("echo", "default")
    # A session that asks for a model keeps it.
    asked = new_session_id("asked-model")
    await sessions.send(asked, "hi", config=SessionConfig(model="slow-echo"))
    assert (await sessions.status(asked)).model == "slow-echo"
