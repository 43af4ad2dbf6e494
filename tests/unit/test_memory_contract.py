"""One behavioural suite for every ``MemoryStore`` backend.

Each test runs against the embedded SQLite store and against the AgentCore store. The
AgentCore store talks to ``tests.fakes.agentcore.FakeAgentCore`` through its real botocore
client: requests are validated and serialised against the service model, responses parsed
from HTTP, so the store's wire behaviour (pagination, filters, tokens) is what is tested.
"""

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from activities.memory import AgentCoreMemoryStore, MemoryStore, SqliteMemoryStore
from models import ChatMessage, SessionRef, SessionSummary
from models.memory import ActorRef, MemoryKind, MemoryRecord
from tests.fakes.agentcore import FakeAgentCore

MEMORY_ID = "convoflow-AbCdEf1234"
SESSION = SessionRef(tenant_id="t1", session_id="s1", user_id="u1")
OTHER_TENANT = SessionRef(tenant_id="t2", session_id="s1", user_id="u1")
ALICE = ActorRef(tenant_id="t1", actor_id="alice")
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

Seed = Callable[[ActorRef, list[tuple[MemoryKind, str]]], Awaitable[None]]


@dataclass
class Backend:
    """A store, how long-term records get into it, and where it files each kind."""

    store: MemoryStore
    seed: Seed
    namespace: Callable[[ActorRef, MemoryKind], str]
    fake: FakeAgentCore | None = None


def _sqlite_backend(tmp_path: Path) -> Backend:
    store = SqliteMemoryStore(tmp_path / "memory.db")
    plural = {"fact": "facts", "preference": "preferences", "summary": "summaries"}

    def namespace(actor: ActorRef, kind: MemoryKind) -> str:
        return f"/{plural[kind]}/{actor.actor_id}/"

    async def seed(actor: ActorRef, items: list[tuple[MemoryKind, str]]) -> None:
        records = [
            MemoryRecord(
                record_id=f"r{index}",
                namespace=namespace(actor, kind),
                kind=kind,
                text=text,
                created_at=T0 + timedelta(minutes=index),
            )
            for index, (kind, text) in enumerate(items)
        ]
        assert await store.save_memories(actor, records) == len(records)

    return Backend(store, seed, namespace)


def _agentcore_backend(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Backend:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    store = AgentCoreMemoryStore(MEMORY_ID, region_name="us-east-1")
    fake = FakeAgentCore(MEMORY_ID).attach(store.client)

    def namespace(actor: ActorRef, kind: MemoryKind) -> str:
        return store.namespace_for(actor, kind, "s1" if kind == "summary" else None)

    async def seed(actor: ActorRef, items: list[tuple[MemoryKind, str]]) -> None:
        # AgentCore's strategies extract records from the conversation; the fake stands in.
        assert await store.save_memories(actor, []) == 0
        for index, (kind, text) in enumerate(items):
            created_at = T0 + timedelta(minutes=index)
            fake.add_record(MEMORY_ID, namespace(actor, kind), text, created_at=created_at)

    return Backend(store, seed, namespace, fake)


@pytest.fixture(params=["sqlite", "agentcore"])
async def backend(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> AsyncIterator[Backend]:
    if request.param == "sqlite":
        built = _sqlite_backend(tmp_path)
    else:
        built = _agentcore_backend(monkeypatch, tmp_path)
    yield built
    await built.store.close()


def turn(n: int) -> list[ChatMessage]:
    """User message ``u{n}`` (seq 2n) and the reply ``a{n}`` (seq 2n+1)."""
    at = T0 + timedelta(seconds=n)
    return [
        ChatMessage(message_id=f"u{n}", message=f"q{n}", seq=2 * n, timestamp=at),
        ChatMessage(
            message_id=f"a{n}",
            role="assistant",
            message=f"a{n}",
            seq=2 * n + 1,
            reply_to=f"u{n}",
            timestamp=at,
        ),
    ]


def summary_of(reason: str) -> SessionSummary:
    return SessionSummary(
        session_id="s1",
        tenant_id="t1",
        user_id="u1",
        status="expired",
        reason=reason,
        turns=3,
        total_messages=6,
        created_at=T0,
        ended_at=T0 + timedelta(hours=24),
    )


async def test_record_is_idempotent_by_message_id(backend: Backend) -> None:
    store = backend.store
    assert await store.record_messages(SESSION, turn(0)) == 2
    assert await store.record_messages(SESSION, turn(0)) == 0
    assert await store.record_messages(SESSION, turn(0) + turn(1)) == 2
    assert await store.record_messages(SESSION, [turn(2)[0], turn(2)[0]]) == 1
    recent = await store.recent_messages(SESSION, 10)
    assert [m.message_id for m in recent] == ["u0", "a0", "u1", "a1", "u2"]


async def test_recent_and_paged_reads_are_in_seq_order(backend: Backend) -> None:
    store = backend.store
    for n in reversed(range(5)):  # written out of order on purpose
        await store.record_messages(SESSION, turn(n))
    assert [m.seq for m in await store.recent_messages(SESSION, 3)] == [7, 8, 9]
    assert [m.seq for m in await store.list_messages(SESSION, after_seq=3, limit=4)] == [4, 5, 6, 7]
    assert [m.seq for m in await store.list_messages(SESSION, after_seq=8)] == [9]
    assert await store.list_messages(SESSION, after_seq=9) == []


async def test_find_reply(backend: Backend) -> None:
    store = backend.store
    failed = ChatMessage(
        message_id="e2",
        role="error",
        message="turn failed",
        seq=5,
        reply_to="u2",
        metadata={"error": "model timed out"},
    )
    await store.record_messages(SESSION, turn(0) + turn(1) + [turn(2)[0], failed])
    reply = await store.find_reply(SESSION, "u1")
    assert reply is not None and (reply.message_id, reply.message) == ("a1", "a1")
    assert await store.find_reply(SESSION, "u2") == failed
    assert await store.find_reply(SESSION, "missing") is None


async def test_tenants_are_isolated(backend: Backend) -> None:
    store = backend.store
    await store.record_messages(SESSION, turn(0))
    await store.archive_session(SESSION, summary_of("idle timeout"))
    assert await store.recent_messages(OTHER_TENANT, 10) == []
    assert await store.list_messages(OTHER_TENANT) == []
    assert await store.find_reply(OTHER_TENANT, "u0") is None
    assert await store.session_summary(OTHER_TENANT) is None
    # The same ids in the other tenant are new messages there, not duplicates.
    assert await store.record_messages(OTHER_TENANT, turn(0)) == 2


async def test_archive_round_trip(backend: Backend) -> None:
    store = backend.store
    assert await store.session_summary(SESSION) is None
    await store.archive_session(SESSION, summary_of("idle timeout"))
    await store.archive_session(SESSION, summary_of("idle timeout"))
    assert await store.session_summary(SESSION) == summary_of("idle timeout")
    await store.archive_session(SESSION, summary_of("closed by user"))
    assert await store.session_summary(SESSION) == summary_of("closed by user")


async def test_refuses_messages_without_id_or_seq(backend: Backend) -> None:
    with pytest.raises(ValueError, match="accepted by a session"):
        await backend.store.record_messages(SESSION, [ChatMessage(message="loose")])
    with pytest.raises(ValueError, match="accepted by a session"):
        await backend.store.record_messages(SESSION, [ChatMessage(message_id="m", message="x")])


async def test_messages_round_trip_exactly(backend: Backend) -> None:
    anonymous = SessionRef(tenant_id="t1", session_id="s.2")  # no user: the tenant's own
    context = ChatMessage(
        message_id="ctx",
        session_id="s.2",
        role="system",
        message='{"intent": "pr_review"}',
        seq=0,
        timestamp=T0,
        metadata={"initial_context": True},
    )
    user = ChatMessage(
        message_id="m-1",
        session_id="s.2",
        message="Review PR #123 ✓ — naïve café",
        user_id="user_github_456",
        seq=1,
        timestamp=T0 + timedelta(milliseconds=1),
        metadata={"intent": "pr_review", "pr_number": 123, "tags": ["a", "b"]},
        stream=True,
    )
    empty_reply = ChatMessage(
        message_id="r-1", role="assistant", message="", reply_to="m-1", seq=2, timestamp=T0
    )
    messages = [context, user, empty_reply]
    assert await backend.store.record_messages(anonymous, messages) == 3
    assert await backend.store.recent_messages(anonymous, 10) == messages
    assert await backend.store.find_reply(anonymous, "m-1") == empty_reply


async def test_long_sessions_page_through(backend: Backend) -> None:
    store = backend.store
    messages = [message for n in range(130) for message in turn(n)]
    assert await store.record_messages(SESSION, messages) == 260
    assert await store.record_messages(SESSION, messages) == 0
    assert [m.seq for m in await store.recent_messages(SESSION, 4)] == [256, 257, 258, 259]
    page = await store.list_messages(SESSION, after_seq=200, limit=10)
    assert [m.seq for m in page] == list(range(201, 211))
    everything = await store.list_messages(SESSION, limit=1000)
    assert everything == messages
    oldest = await store.find_reply(SESSION, "u0")  # the oldest turn: behind every page
    assert oldest == messages[1]
    if backend.fake is not None:  # 130 events: reads took more than one ListEvents page
        assert any("nextToken" in call for call in backend.fake.calls("ListEvents"))
        stored = backend.fake.events(MEMORY_ID, "t-t1:u-u1", "s-s1")
        assert len(stored) == 130  # one event per turn, nothing written twice


async def test_long_term_memories_rank_list_and_isolate(backend: Backend) -> None:
    store = backend.store
    await backend.seed(
        ALICE,
        [
            ("preference", "Alice prefers window seats on flights"),
            ("fact", "Alice lives in Lisbon"),
            ("fact", "Alice's dog is called Biscuit"),
        ],
    )
    found = await store.search_memories(ALICE, "which seats on flights?", top_k=2)
    assert found[0].text == "Alice prefers window seats on flights"
    assert found[0].kind == "preference" and found[0].score is not None
    assert len(found) <= 2

    facts = backend.namespace(ALICE, "fact")
    only_facts = await store.search_memories(ALICE, "Alice", namespaces=[facts])
    assert {r.text for r in only_facts} == {
        "Alice lives in Lisbon",
        "Alice's dog is called Biscuit",
    }
    assert all(r.kind == "fact" and r.namespace == facts for r in only_facts)

    listed = await store.list_memories(ALICE, namespace=facts)
    assert [r.text for r in listed] == ["Alice's dog is called Biscuit", "Alice lives in Lisbon"]
    everything = await store.list_memories(ALICE)
    assert [r.kind for r in everything] == ["fact", "fact", "preference"]
    assert len(await store.list_memories(ALICE, limit=1)) == 1

    other_tenant = ActorRef(tenant_id="t2", actor_id="alice")
    assert await store.search_memories(other_tenant, "flights") == []
    assert await store.list_memories(other_tenant) == []
    other_user = ActorRef(tenant_id="t1", actor_id="bob")
    assert await store.search_memories(other_user, "flights") == []


async def test_full_tool_results_are_kept_for_the_owner_only(backend: Backend) -> None:
    store = backend.store
    text = "é" * 3000 + "".join(f"line {n}\n" for n in range(1000))  # long, not ASCII
    await store.save_tool_result(SESSION, "m-1", "tooluse_ab/+=", text)
    await store.save_tool_result(SESSION, "m-1", "tooluse_ab/+=", text)  # a retry
    await store.save_tool_result(SESSION, "m-1", "odd id ✓", "other call")
    assert await store.tool_result(SESSION, "m-1", "tooluse_ab/+=") == text
    assert await store.tool_result(SESSION, "m-1", "odd id ✓") == "other call"
    assert await store.tool_result(SESSION, "m-2", "tooluse_ab/+=") is None
    other_user = SessionRef(tenant_id="t1", session_id="s1", user_id="mallory")
    anonymous = SessionRef(tenant_id="t1", session_id="s1")
    for stranger in (OTHER_TENANT, other_user, anonymous):
        assert await store.tool_result(stranger, "m-1", "tooluse_ab/+=") is None
    # A call that ran again (its first result kept, then the retry's): the newest wins.
    await store.save_tool_result(SESSION, "m-1", "odd id ✓", "the retry's result")
    assert await store.tool_result(SESSION, "m-1", "odd id ✓") == "the retry's result"
    if backend.fake is not None:  # one event per distinct text, none for the repeat
        kinds = [
            event["metadata"]["convoflow.kind"]["stringValue"]
            for event in backend.fake.events(MEMORY_ID, "t-t1:u-u1", "s-s1")
        ]
        assert kinds == ["tool_result"] * 3
