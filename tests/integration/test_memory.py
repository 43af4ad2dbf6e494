"""Long-term memory across sessions, isolation, recall failures, and sessions that come back."""

import sqlite3

from activities.memory import SqliteMemoryStore
from client import SessionClient
from models import SessionConfig
from models.memory import ActorRef
from tests.helpers import assert_well_formed, eventually, new_session_id
from tests.providers import RecordingModel

RECORDING = SessionConfig(model="recording", memory_extraction="rules")


def last_system_prompt() -> str:
    return str(RecordingModel.requests[-1]["system_prompt"])


async def test_preference_from_one_session_reaches_the_model_in_another(
    sessions: SessionClient,
) -> None:
    tenant = new_session_id("tenant")
    store = SqliteMemoryStore(sessions.settings.memory.memory_db_path)
    await sessions.send(
        new_session_id("a"),
        "I prefer window seats on long flights.",
        tenant_id=tenant,
        user_id="alice",
        config=RECORDING,
    )
    await eventually(
        lambda: store.list_memories(ActorRef(tenant_id=tenant, actor_id="alice")),
        lambda found: len(found) == 1,
    )

    await sessions.send(
        new_session_id("b"),
        "Book me a seat on the flight to Oslo.",
        tenant_id=tenant,
        user_id="alice",
        config=RECORDING,
    )
    prompt = last_system_prompt()
    assert "<recalled_memories>" in prompt
    assert "User prefers window seats on long flights" in prompt
    # It is context for the model, never a message the user said.
    user_texts = [m["content"][0]["text"] for m in RecordingModel.requests[-1]["messages"]]
    assert not any("window seats" in text for text in user_texts)

    for other_tenant, other_user in ((tenant, "bob"), (new_session_id("tenant"), "alice")):
        await sessions.send(
            new_session_id("c"),
            "Book me a seat on the flight to Oslo.",
            tenant_id=other_tenant,
            user_id=other_user,
            config=RECORDING,
        )
        assert "window seats" not in last_system_prompt()


async def test_recall_failure_degrades_to_no_memories(sessions: SessionClient) -> None:
    tenant = new_session_id("broken")
    session_id = new_session_id("recall")
    # Break the memories index for real: the FTS table is gone, searches raise.
    database = sqlite3.connect(sessions.settings.memory.memory_db_path)
    database.execute("ALTER TABLE memories_fts RENAME TO memories_fts_away")
    database.commit()
    try:
        reply = await sessions.send(
            session_id, "hello", tenant_id=tenant, user_id="carol", config=RECORDING
        )
    finally:
        database.execute("ALTER TABLE memories_fts_away RENAME TO memories_fts")
        database.commit()
        database.close()
    assert reply.reply == "echo: hello"
    status = await sessions.status(session_id, tenant_id=tenant)
    assert any("recall failed" in issue for issue in status.issues)
    assert status.status == "active"


async def test_closed_session_comes_back_with_its_context(sessions: SessionClient) -> None:
    session_id = new_session_id("comeback")
    first = await sessions.send(session_id, "remember the code word: tangerine", config=RECORDING)
    await sessions.send(session_id, "second turn", config=RECORDING)
    await sessions.close(session_id, reason="user left")

    reply = await sessions.send(session_id, "what was the code word?", config=RECORDING)
    assert reply.reply == "echo: what was the code word?"
    seen = [m["content"][0]["text"] for m in RecordingModel.requests[-1]["messages"]]
    assert seen[:2] == ["remember the code word: tangerine", first.reply]

    history = await sessions.history(session_id)
    assert [m.seq for m in history] == list(range(6))
    assert_well_formed(history)
    status = await sessions.status(session_id)
    assert status.total_messages == 6 and status.run == 1

    # A repeat of a message answered before the close gets that answer, not a new turn.
    again = await sessions.send(session_id, "second turn?", message_id=history[2].message_id)
    assert again.duplicate and again.reply == "echo: second turn"
    assert (await sessions.status(session_id)).total_messages == 6
