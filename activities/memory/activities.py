"""Memory activities: the workflow's only way to reach a memory store."""

from collections.abc import Callable
from typing import Any

from temporalio import activity

from activities.memory.store import MemoryStore
from models import (
    ArchiveSessionInput,
    ChatMessage,
    FindReplyInput,
    RecentMessagesInput,
    RecordMessagesInput,
)


class MemoryActivities:
    """Activities bound to one memory store; register ``all()`` on a worker."""

    def __init__(self, store: MemoryStore) -> None:
        """Bind the activities to ``store``."""
        self.store = store

    @activity.defn(name="record_messages")
    async def record_messages(self, request: RecordMessagesInput) -> int:
        """Record messages idempotently; return how many were new."""
        return await self.store.record_messages(request.session, request.messages)

    @activity.defn(name="recent_messages")
    async def recent_messages(self, request: RecentMessagesInput) -> list[ChatMessage]:
        """Return the last messages of a session, oldest first."""
        return await self.store.recent_messages(request.session, request.limit)

    @activity.defn(name="find_reply")
    async def find_reply(self, request: FindReplyInput) -> ChatMessage | None:
        """Return the reply recorded for a user message id, if any."""
        return await self.store.find_reply(request.session, request.message_id)

    @activity.defn(name="archive_session")
    async def archive_session(self, request: ArchiveSessionInput) -> None:
        """Archive a finished session with its summary."""
        await self.store.archive_session(request.session, request.summary)

    def all(self) -> list[Callable[..., Any]]:
        """Every memory activity, for ``Worker(activities=...)``."""
        return [self.record_messages, self.recent_messages, self.find_reply, self.archive_session]
