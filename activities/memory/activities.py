"""Memory activities: the workflow's only way to reach a memory store."""

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from strands.models import Model
from temporalio import activity

from activities.memory.extract import (
    EXTRACTION_PROMPT,
    extract_by_rules,
    parse_model_extraction,
    summarise_by_rules,
)
from activities.memory.store import MemoryStore
from models import (
    ArchiveSessionInput,
    ChatMessage,
    ExtractMemoriesInput,
    FindReplyInput,
    MemoryRecord,
    PrepareTurnInput,
    PrepareTurnResult,
    RecentMessagesInput,
    RecordMessagesInput,
    SearchMemoriesInput,
    SessionSummary,
)

log = logging.getLogger(__name__)

# How long a turn's preparation waits for recording before leaving it to the record activity.
PREPARE_RECORD_SECONDS = 2.0


class MemoryActivities:
    """Activities bound to one memory store; register ``all()`` on a worker.

    ``models`` are the provider factories, used for model-based memory extraction.
    """

    def __init__(
        self, store: MemoryStore, models: dict[str, Callable[[], Model]] | None = None
    ) -> None:
        """Bind the activities to ``store`` (and the model providers, for extraction)."""
        self.store = store
        self._factories = models or {}
        self._models: dict[str, Model] = {}

    @activity.defn(name="record_messages")
    async def record_messages(self, request: RecordMessagesInput) -> int:
        """Record messages idempotently; return how many were new."""
        return await self.store.record_messages(request.session, request.messages)

    @activity.defn(name="extract_memories")
    async def extract_memories(self, request: ExtractMemoriesInput) -> int:
        """Mine user messages for long-term memories and summarise trimmed ones; return how
        many records were new. Best effort and separate from recording, so a slow or
        failing model can never hold up the conversation's record."""
        records = await self._extract(request)
        summary = summarise_by_rules(
            request.actor, request.session.session_id, request.trimmed, activity.info().started_time
        )
        if summary is not None:
            records.append(summary)
        if not records:
            return 0
        return await self.store.save_memories(request.actor, records)

    @activity.defn(name="prepare_turn")
    async def prepare_turn(self, request: PrepareTurnInput) -> PrepareTurnResult:
        """Record earlier turns and recall memories for the next, concurrently.

        Neither failure fails the activity: a recording that fails or takes longer than
        ``PREPARE_RECORD_SECONDS`` is reported back (the workflow records it later), and a
        recall failure only means no memories.
        """

        async def recall() -> tuple[list[MemoryRecord], str | None]:
            if request.recall is None:
                return [], None
            try:
                return await self.recall_memories(request.recall), None
            except Exception as err:
                return [], f"{type(err).__name__}: {err}"

        async def record() -> tuple[int, str | None]:
            if request.record is None:
                return 0, None
            try:
                # A slow store must not hold up the turn: the workflow's record activity
                # takes over what does not land in time.
                recorded = await asyncio.wait_for(
                    self.store.record_messages(request.record.session, request.record.messages),
                    PREPARE_RECORD_SECONDS,
                )
            except Exception as err:
                return 0, f"{type(err).__name__}: {err}"
            return recorded, None

        (memories, recall_error), (recorded, record_error) = await asyncio.gather(
            recall(), record()
        )
        return PrepareTurnResult(
            memories=memories,
            recorded=recorded,
            recall_error=recall_error,
            record_error=record_error,
        )

    @activity.defn(name="recent_messages")
    async def recent_messages(self, request: RecentMessagesInput) -> list[ChatMessage]:
        """Return the last messages of a session, oldest first."""
        return await self.store.recent_messages(request.session, request.limit)

    @activity.defn(name="find_reply")
    async def find_reply(self, request: FindReplyInput) -> ChatMessage | None:
        """Return the reply recorded for a user message id, if any."""
        return await self.store.find_reply(request.session, request.message_id)

    @activity.defn(name="archive_session")
    async def archive_session(self, request: ArchiveSessionInput) -> SessionSummary | None:
        """Archive a finished session with its summary; return it (what the UI shows; None
        in histories recorded before 0.1.0)."""
        await self.store.archive_session(request.session, request.summary)
        return request.summary

    @activity.defn(name="recall_memories")
    async def recall_memories(self, request: SearchMemoriesInput) -> list[MemoryRecord]:
        """The actor's long-term memories most relevant to the prompt, best first."""
        return await self.store.search_memories(
            request.actor, request.query, top_k=request.top_k, namespaces=request.namespaces
        )

    async def _extract(self, request: ExtractMemoriesInput) -> list[MemoryRecord]:
        """Facts and preferences: listed by the model (``request.model``) or by rules."""
        users = [m for m in request.messages if m.role == "user"]
        if not users:
            return []
        if request.model is None or request.model not in self._factories:
            return extract_by_rules(request.actor, users)
        model = self._models.get(request.model)
        if model is None:
            model = self._models[request.model] = self._factories[request.model]()
        said = "\n".join(f"- {m.message}" for m in users)
        prompt = f"{EXTRACTION_PROMPT}\n\nUser messages:\n{said}"
        answer = ""
        async for event in model.stream([{"role": "user", "content": [{"text": prompt}]}]):
            delta: Any = event.get("contentBlockDelta", {}).get("delta", {})
            answer += delta.get("text", "") if isinstance(delta, dict) else ""
            activity.heartbeat()
        records = parse_model_extraction(request.actor, users[-1], answer)
        log.debug("model extraction found %d records", len(records))
        return records

    def all(self) -> list[Callable[..., Any]]:
        """Every memory activity, for ``Worker(activities=...)``."""
        return [
            self.record_messages,
            self.extract_memories,
            self.recent_messages,
            self.find_reply,
            self.archive_session,
            self.recall_memories,
            self.prepare_turn,
        ]
