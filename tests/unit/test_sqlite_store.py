"""The embedded SQLite memory store."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from activities.memory import SqliteMemoryStore
from models import ChatMessage, SessionRef, SessionSummary

SESSION = SessionRef(tenant_id="t1", session_id="s1", user_id="u1")
OTHER = SessionRef(tenant_id="t2", session_id="s1", user_id="u1")


def _turn(seq: int) -> list[ChatMessage]:
    user = ChatMessage(message_id=f"u{seq}", message=f"q{seq}", seq=2 * seq)
    reply = ChatMessage(
        message_id=f"a{seq}",
        role="assistant",
        message=f"a{seq}",
        seq=2 * seq + 1,
        reply_to=f"u{seq}",
    )
    return [user, reply]


@pytest.fixture
async def store(tmp_path: Path) -> SqliteMemoryStore:
    return SqliteMemoryStore(tmp_path / "memory.db")


async def test_record_is_idempotent_by_message_id(store: SqliteMemoryStore) -> None:
    assert await store.record_messages(SESSION, _turn(0)) == 2
    assert await store.record_messages(SESSION, _turn(0)) == 0
    assert [m.message_id for m in await store.recent_messages(SESSION, 10)] == ["u0", "a0"]


async def test_recent_and_paged_reads_are_in_order(store: SqliteMemoryStore) -> None:
    for seq in reversed(range(5)):  # written out of order on purpose
        await store.record_messages(SESSION, _turn(seq))
    recent = await store.recent_messages(SESSION, 3)
    assert [m.seq for m in recent] == [7, 8, 9]
    page = await store.list_messages(SESSION, after_seq=3, limit=4)
    assert [m.seq for m in page] == [4, 5, 6, 7]


async def test_tenants_are_isolated(store: SqliteMemoryStore) -> None:
    await store.record_messages(SESSION, _turn(0))
    assert await store.recent_messages(OTHER, 10) == []
    assert await store.find_reply(OTHER, "u0") is None


async def test_find_reply(store: SqliteMemoryStore) -> None:
    await store.record_messages(SESSION, _turn(0) + _turn(1))
    reply = await store.find_reply(SESSION, "u1")
    assert reply is not None and reply.message == "a1"
    assert await store.find_reply(SESSION, "missing") is None


async def test_archive_round_trip(store: SqliteMemoryStore) -> None:
    now = datetime.now(UTC)
    summary = SessionSummary(
        session_id="s1",
        tenant_id="t1",
        user_id="u1",
        status="expired",
        reason="idle timeout",
        turns=3,
        total_messages=6,
        created_at=now,
        ended_at=now,
    )
    assert await store.session_summary(SESSION) is None
    await store.archive_session(SESSION, summary)
    await store.archive_session(SESSION, summary)
    assert await store.session_summary(SESSION) == summary


async def test_refuses_messages_without_id_or_seq(store: SqliteMemoryStore) -> None:
    with pytest.raises(ValueError, match="accepted by a session"):
        await store.record_messages(SESSION, [ChatMessage(message="loose")])


async def test_store_survives_reopen(tmp_path: Path) -> None:
    first = SqliteMemoryStore(tmp_path / "m.db")
    await first.record_messages(SESSION, _turn(0))
    await first.close()
    second = SqliteMemoryStore(tmp_path / "m.db")
    assert len(await second.recent_messages(SESSION, 10)) == 2


async def test_long_term_memories_rank_and_isolate(store: SqliteMemoryStore) -> None:
    from models.memory import ActorRef, MemoryRecord

    alice = ActorRef(tenant_id="t1", actor_id="alice")
    records = [
        MemoryRecord(
            record_id="r1",
            namespace="/preferences/alice/",
            kind="preference",
            text="Alice prefers window seats on flights",
        ),
        MemoryRecord(
            record_id="r2", namespace="/facts/alice/", kind="fact", text="Alice lives in Lisbon"
        ),
        MemoryRecord(
            record_id="r3",
            namespace="/facts/alice/",
            kind="fact",
            text="Alice's dog is called Biscuit",
        ),
    ]
    assert await store.save_memories(alice, records) == 3
    assert await store.save_memories(alice, records) == 0
    found = await store.search_memories(alice, "which seats on flights?", top_k=2)
    assert found[0].record_id == "r1" and found[0].score is not None
    only_facts = await store.search_memories(alice, "Alice", namespaces=["/facts/alice/"])
    assert {r.record_id for r in only_facts} == {"r2", "r3"}
    assert await store.search_memories(alice, "'\"*()") == []
    other_tenant = ActorRef(tenant_id="t2", actor_id="alice")
    assert await store.search_memories(other_tenant, "flights") == []
    listed = await store.list_memories(alice, namespace="/facts/alice/")
    assert [r.record_id for r in listed] == ["r3", "r2"]
