"""The store: its SDK session manager and client, calls in threads, short-term events."""

import asyncio
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

import boto3  # type: ignore[import-untyped, unused-ignore]
from bedrock_agentcore.memory.session import MemorySessionManager
from botocore.config import Config  # type: ignore[import-untyped, unused-ignore]

from activities.memory.agentcore._constants import (
    KIND_KEY,
    KIND_MESSAGES,
    KIND_SUMMARY,
    MEMORY_ID,
    NO_RETRIES,
    PAGE_SIZE,
    REPLY_TO_KEY,
    TOOL_CALL_KEY,
)
from activities.memory.agentcore._errors import AWS_ERRORS, classify
from activities.memory.agentcore._events import (
    Event,
    decode_messages,
    decode_summary,
    decode_tool_result,
    group_turns,
    inject_client_token,
    message_event,
    seq,
    summary_event,
    tool_call_key,
    tool_result_event,
)
from activities.memory.agentcore._ids import (
    agentcore_actor_id,
    agentcore_session_id,
    equals,
    fits_metadata,
)
from activities.memory.agentcore._long_term import LongTermMemory, resolve_namespaces
from activities.memory.agentcore._session_events import SessionEvents
from activities.memory.store import MemoryStore
from models import ChatMessage, SessionRef, SessionSummary
from models.memory import ActorRef, MemoryKind, MemoryRecord
from models.settings import Settings

T = TypeVar("T")


class AgentCoreMemoryStore(MemoryStore):
    """Memory store on an AgentCore Memory resource (see the package docstring for the mapping).

    ``boto3_session`` supplies credentials (default: the standard chain); ``client_config``
    is merged into the client's config, except retries, which stay off. ``namespaces`` maps
    each memory kind to the namespace template of the strategy producing it; templates may
    use ``{actorId}`` and ``{sessionId}``.
    """

    def __init__(
        self,
        memory_id: str,
        *,
        region_name: str | None = None,
        boto3_session: boto3.Session | None = None,
        namespaces: Mapping[MemoryKind, str] | None = None,
        client_config: Config | None = None,
    ) -> None:
        """Build the SDK session manager (and its botocore client) for ``memory_id``."""
        if not MEMORY_ID.fullmatch(memory_id):
            raise ValueError(
                f"invalid AgentCore memory id {memory_id!r}: expected a memory id such as"
                " 'convoflow-AbCdEf1234' or its ARN"
            )
        self.memory_id = memory_id
        self.namespaces: dict[MemoryKind, str] = resolve_namespaces(namespaces)
        config = Config(connect_timeout=5, read_timeout=20)
        if client_config is not None:
            config = config.merge(client_config)
        config = config.merge(Config(retries=dict(NO_RETRIES)))
        self._manager = MemorySessionManager(
            memory_id,
            region_name=region_name,
            boto3_session=boto3_session,
            boto_client_config=config,
        )
        self.region = self._manager.region_name
        self._client.meta.events.register(
            "provide-client-params.bedrock-agentcore.CreateEvent",
            inject_client_token,
            unique_id="convoflow-client-token",
        )
        self._long_term = LongTermMemory(self.namespaces, self._manager, self._call)

    @property
    def manager(self) -> MemorySessionManager:
        """The SDK session manager this store writes and searches through."""
        return self._manager

    @property
    def client(self) -> Any:
        """The botocore ``bedrock-agentcore`` client the SDK built (for ListEvents and tests).

        The SDK has no public accessor for it; ``_data_plane_client`` is where 1.x keeps it.
        """
        return self._client

    @property
    def _client(self) -> Any:
        return self._manager._data_plane_client

    # --- plumbing ---------------------------------------------------------------------------

    async def _call(self, action: str, fn: Callable[[], T]) -> T:
        """Run blocking SDK/boto work in a thread, mapping AWS failures to our errors."""
        try:
            return await asyncio.to_thread(fn)
        except AWS_ERRORS as err:
            raise classify(
                err, memory_id=self.memory_id, region=self.region, action=action
            ) from err

    def address(self, session: SessionRef) -> tuple[str, str]:
        """``(actorId, sessionId)`` of a session's events."""
        return (
            agentcore_actor_id(session.tenant_id, session.user_id),
            agentcore_session_id(session.session_id),
        )

    def _session_events(self, session: SessionRef) -> SessionEvents:
        """The events of a session, to read in a thread (``_call``)."""
        actor, session_id = self.address(session)
        return SessionEvents(self._client, self.memory_id, actor, session_id)

    def _write(self, events: SessionEvents, event: Event) -> None:
        self._manager.add_turns(
            events.actor,
            events.session,
            event.payload,
            metadata=event.metadata,
            event_timestamp=event.timestamp,
        )

    # --- conversation -----------------------------------------------------------------------

    async def record_messages(self, session: SessionRef, messages: list[ChatMessage]) -> int:
        """Write messages as turn events, skipping ids already written; count the new ones."""
        unique: dict[str, ChatMessage] = {}
        for message in messages:
            if message.message_id is None or message.seq is None:
                raise ValueError("only messages accepted by a session (id and seq set) are stored")
            unique.setdefault(message.message_id, message)
        if not unique:
            return 0
        events = self._session_events(session)

        def write() -> int:
            stored = events.recent_ids(max_pages=1 + len(unique) // PAGE_SIZE)
            fresh = [message for key, message in unique.items() if key not in stored]
            written = 0
            for group in group_turns(fresh):
                self._write(
                    events, message_event(self.memory_id, events.actor, events.session, group)
                )
                written += len(group)
            return written

        return await self._call("record_messages", write)

    async def recent_messages(self, session: SessionRef, limit: int) -> list[ChatMessage]:
        """The last ``limit`` messages by ``seq``, oldest first (reads the whole session)."""
        events = self._session_events(session)
        messages = await self._call("recent_messages", events.messages)
        return messages[-limit:] if limit > 0 else []

    async def list_messages(
        self, session: SessionRef, *, after_seq: int = -1, limit: int = 100
    ) -> list[ChatMessage]:
        """Up to ``limit`` messages with ``seq > after_seq``, in ``seq`` order."""
        events = self._session_events(session)
        messages = await self._call("list_messages", events.messages)
        return [message for message in messages if seq(message) > after_seq][:limit]

    async def find_reply(self, session: SessionRef, message_id: str) -> ChatMessage | None:
        """The message whose ``reply_to`` is ``message_id`` (filtered on ``reply_to``)."""
        events = self._session_events(session)
        key, value = (
            (REPLY_TO_KEY, message_id) if fits_metadata(message_id) else (KIND_KEY, KIND_MESSAGES)
        )

        def read() -> ChatMessage | None:
            for page in events.pages(filters=[equals(key, value)]):
                found = [
                    message
                    for event in page
                    for message in decode_messages(event)
                    if message.reply_to == message_id
                ]
                if found:
                    return min(found, key=seq)
            return None

        return await self._call("find_reply", read)

    async def archive_session(self, session: SessionRef, summary: SessionSummary) -> None:
        """Write the summary as a blob event (``convoflow.kind=summary``), once per summary."""
        events = self._session_events(session)
        event = summary_event(self.memory_id, events.actor, events.session, summary)

        def write() -> None:
            if not events.event_written(event.key):
                self._write(events, event)

        await self._call("archive_session", write)

    async def session_summary(self, session: SessionRef) -> SessionSummary | None:
        """The newest archived summary of the session, if any."""
        events = self._session_events(session)

        def read() -> SessionSummary | None:
            best: tuple[datetime, SessionSummary] | None = None
            for page in events.pages(filters=[equals(KIND_KEY, KIND_SUMMARY)]):
                for event in page:
                    summary = decode_summary(event)
                    stamp = event.get("eventTimestamp")
                    if summary is None or not isinstance(stamp, datetime):
                        continue
                    if best is None or stamp > best[0]:
                        best = (stamp, summary)
            return None if best is None else best[1]

        return await self._call("session_summary", read)

    # --- full tool results --------------------------------------------------------------------

    async def save_tool_result(
        self, session: SessionRef, message_id: str, tool_use_id: str, text: str
    ) -> None:
        """Write the result as a blob event under the session's actor (once per text)."""
        events = self._session_events(session)
        call = (message_id, tool_use_id)
        event = tool_result_event(self.memory_id, events.actor, events.session, call, text)

        def write() -> None:
            if not events.event_written(event.key):
                self._write(events, event)

        await self._call("save_tool_result", write)

    async def tool_result(
        self, session: SessionRef, message_id: str, tool_use_id: str
    ) -> str | None:
        """The newest saved result of the call (events of another actor are never read)."""
        events = self._session_events(session)
        call = (message_id, tool_use_id)
        filters = [equals(TOOL_CALL_KEY, tool_call_key(*call))]

        def read() -> str | None:
            best: tuple[datetime, str] | None = None
            for page in events.pages(filters=filters):
                for event in page:
                    text = decode_tool_result(event, call)
                    stamp = event.get("eventTimestamp")
                    if text is None or not isinstance(stamp, datetime):
                        continue
                    if best is None or stamp > best[0]:  # ties: the first listed, the newest
                        best = (stamp, text)
            return None if best is None else best[1]

        return await self._call("tool_result", read)

    # --- long-term memory (see _long_term) --------------------------------------------------

    def namespace_for(
        self, actor: ActorRef, kind: MemoryKind, session_id: str | None = None
    ) -> str:
        """The namespace holding ``actor``'s records of ``kind`` (summaries: of one session)."""
        return self._long_term.namespace_for(actor, kind, session_id)

    async def save_memories(self, actor: ActorRef, records: list[MemoryRecord]) -> int:
        """Store nothing: AgentCore's strategies extract long-term memories themselves."""
        return 0

    async def search_memories(
        self, actor: ActorRef, query: str, *, top_k: int = 5, namespaces: list[str] | None = None
    ) -> list[MemoryRecord]:
        """Semantic search in each namespace (in parallel), merged by score, best first."""
        return await self._long_term.search_records(
            actor, query, top_k=top_k, namespaces=namespaces
        )

    async def list_memories(
        self, actor: ActorRef, *, namespace: str | None = None, limit: int = 100
    ) -> list[MemoryRecord]:
        """Records of ``actor`` (in ``namespace``, or in every configured one), newest first."""
        return await self._long_term.list_records(actor, namespace=namespace, limit=limit)

    async def close(self) -> None:
        """Close the client's connection pool."""
        await asyncio.to_thread(self._client.close)


def open_agentcore_store(settings: Settings) -> AgentCoreMemoryStore:
    """The AgentCore store the settings describe (``CONVOFLOW_AGENTCORE_*``)."""
    if not settings.memory.agentcore_memory_id:
        raise ValueError(
            "the agentcore memory backend needs a memory id: set CONVOFLOW_AGENTCORE_MEMORY_ID"
            " (and CONVOFLOW_AGENTCORE_REGION, default us-east-1)"
        )
    return AgentCoreMemoryStore(
        settings.memory.agentcore_memory_id,
        region_name=settings.memory.agentcore_region,
        namespaces=settings.memory.agentcore_namespaces,
    )
