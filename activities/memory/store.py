"""The one interface every memory backend implements."""

from abc import ABC, abstractmethod

from models import ChatMessage, SessionRef, SessionSummary
from models.memory import ActorRef, MemoryRecord


class MemoryStore(ABC):
    """Durable record of conversations, outside the workflow's bounded window.

    Every method is idempotent so a retried activity is harmless.
    """

    @abstractmethod
    async def record_messages(self, session: SessionRef, messages: list[ChatMessage]) -> int:
        """Store messages (ignoring ids already stored); return how many were new."""

    @abstractmethod
    async def recent_messages(self, session: SessionRef, limit: int) -> list[ChatMessage]:
        """Return the last ``limit`` messages of a session, oldest first."""

    @abstractmethod
    async def list_messages(
        self, session: SessionRef, *, after_seq: int = -1, limit: int = 100
    ) -> list[ChatMessage]:
        """Return up to ``limit`` messages with ``seq > after_seq``, oldest first."""

    @abstractmethod
    async def find_reply(self, session: SessionRef, message_id: str) -> ChatMessage | None:
        """Return the assistant or error message answering user message ``message_id``."""

    @abstractmethod
    async def archive_session(self, session: SessionRef, summary: SessionSummary) -> None:
        """Mark a finished session archived with its summary."""

    @abstractmethod
    async def session_summary(self, session: SessionRef) -> SessionSummary | None:
        """Return the archived summary of a session, if it was archived."""

    # Full tool results: the history keeps a bounded part (models/tools.py), the store the rest.

    @abstractmethod
    async def save_tool_result(
        self, session: SessionRef, message_id: str, tool_use_id: str, text: str
    ) -> None:
        """Keep the whole result of tool call ``tool_use_id`` of the turn answering
        ``message_id``, for the session's owner (``session.user_id``). Saving it again
        replaces it (a retried call's result is the one the model saw)."""

    @abstractmethod
    async def tool_result(
        self, session: SessionRef, message_id: str, tool_use_id: str
    ) -> str | None:
        """The whole result saved for that call, or None: also when ``session`` names another
        tenant or user than the one the result was saved for."""

    # Long-term memory: facts, preferences and session summaries per actor.

    @abstractmethod
    async def save_memories(self, actor: ActorRef, records: list[MemoryRecord]) -> int:
        """Store extracted records (ignoring record ids already stored); return how many were new.

        Backends whose service extracts memories itself (AgentCore) may store nothing.
        """

    @abstractmethod
    async def search_memories(
        self, actor: ActorRef, query: str, *, top_k: int = 5, namespaces: list[str] | None = None
    ) -> list[MemoryRecord]:
        """The ``top_k`` records of ``actor`` most relevant to ``query``, best first."""

    @abstractmethod
    async def list_memories(
        self, actor: ActorRef, *, namespace: str | None = None, limit: int = 100
    ) -> list[MemoryRecord]:
        """Records of ``actor`` (optionally in one namespace), newest first."""

    async def close(self) -> None:  # noqa: B027 - optional hook, most stores hold nothing
        """Release resources held by the store."""
