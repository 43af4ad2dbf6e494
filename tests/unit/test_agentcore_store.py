"""The AgentCore memory store against the real ``bedrock-agentcore`` API model.

Most tests put a ``botocore.stub.Stubber`` on the very client the SDK's
``MemorySessionManager`` built, so every request is checked against the service model and
against the parameters we expect; a few use the wire-level fake (``tests/fakes``) where
HTTP behaviour matters (retries, client-side validation, concurrent searches).
"""

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import ANY, Stubber  # type: ignore[import-untyped, unused-ignore]
from temporalio.exceptions import ApplicationError

from activities.memory import (
    AgentCoreMemoryStore,
    MemoryBackendError,
    MemoryRejectedError,
    MemoryUnavailableError,
    open_agentcore_store,
)
from activities.memory.agentcore import (
    agentcore_actor_id,
    agentcore_session_id,
    session_id_from_agentcore,
)
from models import ChatMessage, SessionRef, SessionSummary
from models.memory import ActorRef
from models.settings import Settings
from tests.fakes.agentcore import FakeAgentCore

MEMORY_ID = "convoflow-AbCdEf1234"
SESSION = SessionRef(tenant_id="acme", session_id="chat.1", user_id="alice")
ACTOR = "t-acme:u-alice"
SESSION_ID = "s-chat_d1"
ALICE = ActorRef(tenant_id="acme", actor_id="alice")
T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
HEX64 = re.compile(r"[0-9a-f]{64}")


def use_dummy_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Dummy credentials, and no instance metadata or local AWS config."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> AgentCoreMemoryStore:
    use_dummy_aws(monkeypatch, tmp_path)
    return AgentCoreMemoryStore(MEMORY_ID, region_name="us-east-1")


@pytest.fixture
def stub(store: AgentCoreMemoryStore) -> Iterator[Stubber]:
    with Stubber(store.client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


class Capture:
    """Matches anything in a Stubber expectation and remembers what it matched."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def __eq__(self, other: object) -> bool:
        self.values.append(other)
        return True

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return "<Capture>"


def turn(n: int, *, at: datetime = T0) -> list[ChatMessage]:
    """User message ``u{n}`` (seq 2n) and its reply ``a{n}`` (seq 2n+1)."""
    when = at + timedelta(seconds=n)
    return [
        ChatMessage(message_id=f"u{n}", message=f"q{n}", seq=2 * n, timestamp=when),
        ChatMessage(
            message_id=f"a{n}",
            role="assistant",
            message=f"a{n}",
            seq=2 * n + 1,
            reply_to=f"u{n}",
            timestamp=when,
        ),
    ]


def equals(key: str, value: Any) -> dict[str, Any]:
    return {
        "left": {"metadataKey": key},
        "operator": "EQUALS_TO",
        "right": {"metadataValue": {"stringValue": value}},
    }


def list_params(
    *, filters: list[dict[str, Any]], payloads: bool = True, token: str | None = None
) -> dict[str, Any]:
    """The ListEvents parameters the store must send for SESSION."""
    params: dict[str, Any] = {
        "memoryId": MEMORY_ID,
        "actorId": ACTOR,
        "sessionId": SESSION_ID,
        "maxResults": 100,
        "includePayloads": payloads,
        "filter": {"eventMetadata": filters},
    }
    if token is not None:
        params["nextToken"] = token
    return params


def wire_event(
    messages: list[ChatMessage], number: int, metadata: dict[str, str] | None = None
) -> dict[str, Any]:
    """An event as ListEvents returns it, in the documented payload format."""
    payload: list[dict[str, Any]] = []
    entries = []
    for message in messages:
        entry = message.model_dump(mode="json", exclude_none=True)
        if message.role in ("user", "assistant") and message.message:
            role = message.role.upper()
            payload.append({"conversational": {"content": {"text": message.message}, "role": role}})
            del entry["message"]
        entries.append(entry)
    payload.append({"blob": json.dumps({"convoflow": 1, "messages": entries})})
    meta = {"convoflow.kind": "messages", "convoflow.event": f"{number:064x}"}
    for position, message in enumerate(messages):
        meta[f"message.{position}.id"] = str(message.message_id)
        meta[f"message.{position}.seq"] = str(message.seq)
        meta[f"message.{position}.role"] = message.role
        if message.reply_to:
            meta["reply_to"] = message.reply_to
    meta.update(metadata or {})
    return {
        "memoryId": MEMORY_ID,
        "actorId": ACTOR,
        "sessionId": SESSION_ID,
        "eventId": f"{1700000000000 + number:013d}#{number:04x}",
        "eventTimestamp": T0 + timedelta(seconds=number),
        "payload": payload,
        "metadata": {key: {"stringValue": value} for key, value in meta.items()},
    }


def created(params: dict[str, Any]) -> dict[str, Any]:
    """A CreateEvent response for ``params``."""
    return {
        "event": {
            "memoryId": MEMORY_ID,
            "actorId": params["actorId"],
            "sessionId": params["sessionId"],
            "eventId": "1700000000000#abcdef",
            "eventTimestamp": T0,
            "payload": [],
        }
    }


# --- id mapping -----------------------------------------------------------------------------


def test_ids_map_into_the_api_patterns_without_collisions(store: AgentCoreMemoryStore) -> None:
    model = store.client.meta.service_model
    actor_shape = model.shape_for("ActorId").metadata
    session_shape = model.shape_for("SessionId").metadata

    assert agentcore_actor_id("acme", "alice") == "t-acme:u-alice"
    assert agentcore_actor_id("acme", None) == "t-acme:anonymous"
    assert agentcore_session_id("chat.1") == "s-chat_d1"

    tricky = ["a.b", "a_b", "a_db", "a_ub", "-a", ".a", "_a", "anonymous", "A", "a", "x" * 128]
    tricky += ["." * 127 + "a", "_" * 128, "a" * 127 + ".", "a" * 127 + "_"]
    actors = {agentcore_actor_id(tenant, user) for tenant in tricky for user in [*tricky, None]}
    assert len(actors) == len(tricky) * (len(tricky) + 1)
    for actor in actors:
        assert re.fullmatch(actor_shape["pattern"], actor), actor
        assert len(actor) <= actor_shape["max"]
    sessions = {agentcore_session_id(session) for session in tricky}
    assert len(sessions) == len(tricky)
    for session in sessions:
        assert re.fullmatch(session_shape["pattern"], session), session
        assert len(session) <= session_shape["max"]
    for session in tricky:
        back = session_id_from_agentcore(agentcore_session_id(session))
        assert back in (session, None)  # None only for hashed (very long) ids
    assert session_id_from_agentcore(agentcore_session_id("chat_1.x")) == "chat_1.x"

    with pytest.raises(ValueError, match="tenant id"):
        agentcore_actor_id("acme:evil", "alice")


def test_memory_id_and_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    use_dummy_aws(monkeypatch, tmp_path)
    monkeypatch.delenv("CONVOFLOW_AGENTCORE_MEMORY_ID", raising=False)
    with pytest.raises(ValueError, match="invalid AgentCore memory id"):
        AgentCoreMemoryStore("nope", region_name="us-east-1")
    with pytest.raises(ValueError, match="CONVOFLOW_AGENTCORE_MEMORY_ID"):
        open_agentcore_store(Settings())

    monkeypatch.setenv("CONVOFLOW_AGENTCORE_MEMORY_ID", MEMORY_ID)
    monkeypatch.setenv("CONVOFLOW_AGENTCORE_REGION", "eu-west-1")
    monkeypatch.setenv("CONVOFLOW_AGENTCORE_NAMESPACES", '{"fact": "/kb/{actorId}/facts/"}')
    settings = Settings()
    assert settings.memory.agentcore_memory_id == MEMORY_ID
    assert settings.memory.agentcore_region == "eu-west-1"
    opened = open_agentcore_store(settings)
    assert opened.memory_id == MEMORY_ID and opened.region == "eu-west-1"
    assert opened.namespace_for(ALICE, "fact") == "/kb/t-acme:u-alice/facts/"
    assert opened.namespace_for(ALICE, "preference") == "/preferences/t-acme:u-alice/"
    # Temporal retries activities: botocore must not retry on its own.
    assert opened.client.meta.config.retries == {"total_max_attempts": 1, "mode": "standard"}


# --- writing turns --------------------------------------------------------------------------


async def test_record_writes_a_turn_per_event_with_ids_metadata_and_client_token(
    store: AgentCoreMemoryStore, stub: Stubber
) -> None:
    system = ChatMessage(message_id="s0", role="system", message="be brief", seq=2, timestamp=T0)
    token, blob = Capture(), Capture()
    # First: which of these ids do the newest events already hold? (metadata only)
    stub.add_response(
        "list_events",
        {"events": []},
        list_params(filters=[equals("convoflow.kind", "messages")], payloads=False),
    )
    turn_params = {
        "memoryId": MEMORY_ID,
        "actorId": ACTOR,
        "sessionId": SESSION_ID,
        "eventTimestamp": T0,
        "payload": [
            {"conversational": {"content": {"text": "q0"}, "role": "USER"}},
            {"conversational": {"content": {"text": "a0"}, "role": "ASSISTANT"}},
            {"blob": blob},
        ],
        "metadata": {
            "convoflow.kind": {"stringValue": "messages"},
            "convoflow.event": {"stringValue": token},
            "message.0.id": {"stringValue": "u0"},
            "message.0.seq": {"stringValue": "0"},
            "message.0.role": {"stringValue": "user"},
            "message.1.id": {"stringValue": "a0"},
            "message.1.seq": {"stringValue": "1"},
            "message.1.role": {"stringValue": "assistant"},
            "reply_to": {"stringValue": "u0"},
        },
        "clientToken": token,
    }
    stub.add_response("create_event", created(turn_params), turn_params)
    system_params = {
        "memoryId": MEMORY_ID,
        "actorId": ACTOR,
        "sessionId": SESSION_ID,
        "eventTimestamp": T0,
        "payload": [{"blob": blob}],  # system text is not conversational: never extracted
        "metadata": {
            "convoflow.kind": {"stringValue": "messages"},
            "convoflow.event": {"stringValue": token},
            "message.0.id": {"stringValue": "s0"},
            "message.0.seq": {"stringValue": "2"},
            "message.0.role": {"stringValue": "system"},
        },
        "clientToken": token,
    }
    stub.add_response("create_event", created(system_params), system_params)

    assert await store.record_messages(SESSION, [*turn(0), system]) == 3

    # Each event's clientToken is its convoflow.event key.
    tokens = token.values
    assert tokens[0] == tokens[1] and tokens[2] == tokens[3] and tokens[0] != tokens[2]
    assert all(HEX64.fullmatch(value) for value in tokens)
    turn_blob, system_blob = (json.loads(value) for value in blob.values)
    assert [entry["message_id"] for entry in turn_blob["messages"]] == ["u0", "a0"]
    assert "message" not in turn_blob["messages"][0]  # the text is in the conversational item
    assert system_blob["messages"] == [json.loads(system.model_dump_json(exclude_none=True))]


async def test_retry_after_a_partial_write_sends_only_the_rest_with_the_same_token(
    store: AgentCoreMemoryStore, stub: Stubber
) -> None:
    messages = turn(0) + turn(1)
    first_tokens, retry_tokens = Capture(), Capture()

    def create(token: Capture) -> dict[str, Any]:
        return {
            "memoryId": MEMORY_ID,
            "actorId": ACTOR,
            "sessionId": SESSION_ID,
            "eventTimestamp": ANY,
            "payload": ANY,
            "metadata": ANY,
            "clientToken": token,
        }

    check = list_params(filters=[equals("convoflow.kind", "messages")], payloads=False)
    stub.add_response("list_events", {"events": []}, check)
    stub.add_response("create_event", created(create(first_tokens)), create(first_tokens))
    stub.add_client_error(
        "create_event",
        service_error_code="ThrottledException",
        service_message="Rate exceeded",
        http_status_code=429,
        expected_params=create(first_tokens),
    )
    with pytest.raises(MemoryUnavailableError) as failed:
        await store.record_messages(SESSION, messages)
    assert not failed.value.non_retryable and failed.value.code == "ThrottledException"

    # Temporal retries the activity: the newest events show u0 and a0 stored, so only the
    # second turn is sent again, with the token of the failed attempt.
    written = wire_event(turn(0), 1)
    written["payload"] = []  # includePayloads=false (the service omits them; the model requires)
    stub.add_response("list_events", {"events": [written]}, check)
    stub.add_response("create_event", created(create(retry_tokens)), create(retry_tokens))
    assert await store.record_messages(SESSION, messages) == 2

    assert retry_tokens.values == [first_tokens.values[-1]]
    assert first_tokens.values[0] != first_tokens.values[-1]

    # A later call overlapping what is stored writes (and counts) only the new ids.
    check_again = {"events": [wire_event(turn(1), 2), wire_event(turn(0), 1)]}
    for event in check_again["events"]:
        event["payload"] = []
    stub.add_response("list_events", check_again, check)
    third = Capture()
    stub.add_response("create_event", created(create(third)), create(third))
    assert await store.record_messages(SESSION, messages + turn(2)) == 2


# --- reading --------------------------------------------------------------------------------


async def test_recent_and_list_messages_follow_next_token_and_order_by_seq(
    store: AgentCoreMemoryStore, stub: Stubber
) -> None:
    kind = [equals("convoflow.kind", "messages")]
    newest = {"events": [wire_event(turn(2), 3), wire_event(turn(1), 2)], "nextToken": "page-2"}
    oldest = {"events": [wire_event(turn(0), 1)]}
    for _ in range(2):
        stub.add_response("list_events", newest, list_params(filters=kind))
        stub.add_response("list_events", oldest, list_params(filters=kind, token="page-2"))

    recent = await store.recent_messages(SESSION, 3)
    assert [m.seq for m in recent] == [3, 4, 5]
    assert recent == (turn(1) + turn(2))[1:]  # rebuilt exactly, timestamps included
    page = await store.list_messages(SESSION, after_seq=0, limit=2)
    assert [m.message_id for m in page] == ["a0", "u1"]


async def test_find_reply_reads_past_empty_filtered_pages(
    store: AgentCoreMemoryStore, stub: Stubber
) -> None:
    by_reply = [equals("reply_to", "u0")]
    # maxResults bounds the events scanned, so a filtered page may be empty yet not the last.
    stub.add_response(
        "list_events", {"events": [], "nextToken": "t2"}, list_params(filters=by_reply)
    )
    stub.add_response(
        "list_events",
        {"events": [wire_event(turn(0), 1)], "nextToken": "t3"},
        list_params(filters=by_reply, token="t2"),
    )
    reply = await store.find_reply(SESSION, "u0")
    assert reply == turn(0)[1]  # found on page 2; page 3 is never asked for


async def test_archive_writes_a_summary_event_and_the_newest_summary_wins(
    store: AgentCoreMemoryStore, stub: Stubber
) -> None:
    summary = SessionSummary(
        session_id="chat.1",
        tenant_id="acme",
        user_id="alice",
        status="closed",
        reason="done",
        turns=1,
        total_messages=2,
        created_at=T0,
        ended_at=T0 + timedelta(minutes=5),
    )
    key, blob = Capture(), Capture()
    stub.add_response(
        "list_events",
        {"events": []},
        list_params(filters=[equals("convoflow.event", key)], payloads=False),
    )
    params = {
        "memoryId": MEMORY_ID,
        "actorId": ACTOR,
        "sessionId": SESSION_ID,
        "eventTimestamp": ANY,
        "payload": [{"blob": blob}],
        "metadata": {
            "convoflow.kind": {"stringValue": "summary"},
            "convoflow.event": {"stringValue": key},
        },
        "clientToken": key,
    }
    stub.add_response("create_event", created(params), params)
    await store.archive_session(SESSION, summary)
    assert len(set(key.values)) == 1
    assert SessionSummary.model_validate(json.loads(blob.values[0])["summary"]) == summary

    later = summary.model_copy(update={"reason": "closed again"})

    def summary_event(value: SessionSummary, second: int) -> dict[str, Any]:
        body = {"convoflow": 1, "summary": value.model_dump(mode="json")}
        return {
            "memoryId": MEMORY_ID,
            "actorId": ACTOR,
            "sessionId": SESSION_ID,
            "eventId": f"{1700000000000 + second:013d}#aa",
            "eventTimestamp": T0 + timedelta(seconds=second),
            "payload": [{"blob": json.dumps(body)}],
            "metadata": {"convoflow.kind": {"stringValue": "summary"}},
        }

    stub.add_response(
        "list_events",
        {"events": [summary_event(summary, 1), summary_event(later, 9)]},
        list_params(filters=[equals("convoflow.kind", "summary")]),
    )
    assert await store.session_summary(SESSION) == later


# --- long-term memory -----------------------------------------------------------------------


def record_summary(record_id: str, namespace: str, text: str, **extra: Any) -> dict[str, Any]:
    return {
        "memoryRecordId": record_id,
        "content": {"text": text},
        "memoryStrategyId": "semantic-AbCdEf1234",
        "namespaces": [namespace],
        "createdAt": extra.pop("created_at", T0),
        **extra,
    }


async def test_search_sends_namespace_not_prefix_and_top_k(
    store: AgentCoreMemoryStore, stub: Stubber
) -> None:
    facts = "/facts/t-acme:u-alice/"
    stub.add_response(
        "retrieve_memory_records",
        {
            "memoryRecordSummaries": [
                record_summary("mem-" + "1" * 36, facts, "Alice lives in Lisbon", score=0.9),
                record_summary("mem-" + "2" * 36, facts, "Alice has a dog", score=0.4),
            ]
        },
        {
            "memoryId": MEMORY_ID,
            "namespace": facts,
            "searchCriteria": {"searchQuery": "where does Alice live?", "topK": 3},
            "maxResults": 3,
        },
    )
    found = await store.search_memories(
        ALICE, "  where does Alice live?  ", top_k=3, namespaces=["/facts/{actorId}/"]
    )
    assert [(r.text, r.kind, r.score) for r in found] == [
        ("Alice lives in Lisbon", "fact", 0.9),
        ("Alice has a dog", "fact", 0.4),
    ]

    # A {sessionId} template searches all of the actor's sessions: a path prefix.
    summaries = "/summaries/t-acme:u-alice/"
    stub.add_response(
        "retrieve_memory_records",
        {
            "memoryRecordSummaries": [
                record_summary("mem-" + "3" * 36, summaries + "s-chat_d1/", "Planned a trip")
            ]
        },
        {
            "memoryId": MEMORY_ID,
            "namespacePath": summaries,
            "searchCriteria": {"searchQuery": "trip", "topK": 5},
            "maxResults": 5,
        },
    )
    [summary] = await store.search_memories(
        ALICE, "trip", namespaces=["/summaries/{actorId}/{sessionId}/"]
    )
    assert (summary.kind, summary.session_id) == ("summary", "chat.1")


async def test_list_memories_is_newest_first(store: AgentCoreMemoryStore, stub: Stubber) -> None:
    prefs = "/preferences/t-acme:u-alice/"
    stub.add_response(
        "list_memory_records",
        {
            "memoryRecordSummaries": [
                record_summary("mem-" + "1" * 36, prefs, "likes tea", created_at=T0),
                record_summary(
                    "mem-" + "2" * 36, prefs, "likes coffee", created_at=T0 + timedelta(hours=1)
                ),
            ]
        },
        {"memoryId": MEMORY_ID, "namespace": prefs},
    )
    listed = await store.list_memories(ALICE, namespace=prefs)
    assert [r.text for r in listed] == ["likes coffee", "likes tea"]
    assert all(r.kind == "preference" and r.created_at is not None for r in listed)


async def test_memories_stay_inside_the_actor_and_save_is_a_no_op(
    store: AgentCoreMemoryStore, stub: Stubber
) -> None:
    # No responses are stubbed: any request here would fail the test.
    with pytest.raises(ValueError, match="not scoped to actor"):
        await store.search_memories(ALICE, "x", namespaces=["/facts/alice/"])
    with pytest.raises(ValueError, match="not scoped to actor"):
        await store.list_memories(ALICE, namespace="/facts/t-other:u-alice/")
    assert await store.search_memories(ALICE, "   ") == []
    assert await store.save_memories(ALICE, []) == 0


# --- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "status", "retryable"),
    [
        ("ResourceNotFoundException", 404, False),
        ("AccessDeniedException", 403, False),
        ("ValidationException", 400, False),
        ("InvalidInputException", 400, False),
        ("ThrottledException", 429, True),
        ("ThrottlingException", 400, True),
        ("ServiceQuotaExceededException", 402, True),
        ("ServiceException", 500, True),
        ("SomethingNew", 503, True),
        ("SomethingElse", 409, False),
    ],
)
async def test_aws_errors_become_temporal_outcomes(
    store: AgentCoreMemoryStore, stub: Stubber, code: str, status: int, retryable: bool
) -> None:
    stub.add_client_error(
        "list_events",
        service_error_code=code,
        service_message="boom",
        http_status_code=status,
        expected_params=list_params(filters=[equals("reply_to", "u0")]),
    )
    with pytest.raises(MemoryBackendError) as raised:
        await store.find_reply(SESSION, "u0")
    error = raised.value
    assert isinstance(error, ApplicationError)
    assert error.non_retryable is not retryable
    assert isinstance(error, MemoryUnavailableError if retryable else MemoryRejectedError)
    assert error.type == type(error).__name__
    assert (error.code, error.operation, error.memory_id) == (code, "ListEvents", MEMORY_ID)
    assert MEMORY_ID in str(error) and code in str(error) and "us-east-1" in str(error)


async def test_botocore_does_not_retry_and_invalid_input_is_not_retryable(
    store: AgentCoreMemoryStore,
) -> None:
    fake = FakeAgentCore(MEMORY_ID).attach(store.client)
    fake.fail("ListEvents", "ServiceException", 500)  # a botocore retry would then succeed
    with pytest.raises(MemoryUnavailableError):
        await store.find_reply(SESSION, "u0")
    assert len(fake.calls("ListEvents")) == 1  # one HTTP request: retrying is Temporal's job

    huge = ChatMessage(message_id="u0", message="x" * 100_001, seq=0)  # over the API's limit
    with pytest.raises(MemoryRejectedError, match="ValidationException") as raised:
        await store.record_messages(SESSION, [huge])
    assert raised.value.non_retryable and raised.value.operation == "CreateEvent"


async def test_unknown_memory_is_not_retryable_and_names_the_memory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    use_dummy_aws(monkeypatch, tmp_path)
    store = AgentCoreMemoryStore("missing-AbCdEf1234", region_name="us-east-1")
    FakeAgentCore(MEMORY_ID).attach(store.client)
    with pytest.raises(MemoryRejectedError) as raised:
        await store.record_messages(SESSION, turn(0))
    assert raised.value.non_retryable
    assert "'missing-AbCdEf1234'" in str(raised.value)
    assert "CONVOFLOW_AGENTCORE_MEMORY_ID" in str(raised.value)
    await store.close()


async def test_default_search_reads_every_namespace_of_the_actor(
    store: AgentCoreMemoryStore,
) -> None:
    fake = FakeAgentCore(MEMORY_ID).attach(store.client)
    fake.add_record(MEMORY_ID, store.namespace_for(ALICE, "fact"), "Alice lives in Lisbon")
    fake.add_record(MEMORY_ID, store.namespace_for(ALICE, "preference"), "Alice likes Lisbon")
    fake.add_record(
        MEMORY_ID, store.namespace_for(ALICE, "summary", "chat.1"), "Booked flights to Lisbon"
    )
    bob = ActorRef(tenant_id="acme", actor_id="bob")
    fake.add_record(MEMORY_ID, store.namespace_for(bob, "fact"), "Bob lives in Lisbon")

    found = await store.search_memories(ALICE, "Lisbon", top_k=10)
    assert {(r.kind, r.text) for r in found} == {
        ("fact", "Alice lives in Lisbon"),
        ("preference", "Alice likes Lisbon"),
        ("summary", "Booked flights to Lisbon"),
    }
    sent = [
        {key: call[key] for key in ("namespace", "namespacePath") if key in call}
        for call in fake.calls("RetrieveMemoryRecords")
    ]
    assert sorted(sent, key=str) == sorted(
        [
            {"namespace": "/facts/t-acme:u-alice/"},
            {"namespace": "/preferences/t-acme:u-alice/"},
            {"namespacePath": "/summaries/t-acme:u-alice/"},
        ],
        key=str,
    )
    assert all("namespacePrefix" not in call for call in fake.calls("RetrieveMemoryRecords"))
