"""Inputs and outputs of the memory activities."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from models.chat import ChatMessage
from models.session import SessionSummary


class SessionRef(BaseModel):
    """Identifies one session's records in a memory store."""

    tenant_id: str
    session_id: str
    user_id: str | None = None


class RecordMessagesInput(BaseModel):
    """Messages to record; recording is idempotent by ``message_id``."""

    session: SessionRef
    messages: list[ChatMessage]


class ExtractMemoriesInput(BaseModel):
    """Mine user messages (and trimmed ones, for the session summary) for memories of
    ``actor``: best effort, in an activity of its own."""

    session: SessionRef
    actor: "ActorRef"
    model: str | None = Field(None, description="Provider for model-based extraction; None: rules")
    messages: list[ChatMessage] = Field(default_factory=list, description="To mine for facts")
    trimmed: list[ChatMessage] = Field(
        default_factory=list, description="Messages just trimmed from the window, to summarise"
    )


class RecentMessagesInput(BaseModel):
    """Ask for the last ``limit`` messages of a session, oldest first."""

    session: SessionRef
    limit: int = Field(10, ge=1, le=10_000)


class FindReplyInput(BaseModel):
    """Ask for the reply (assistant or error message) to a user message id."""

    session: SessionRef
    message_id: str


class ArchiveSessionInput(BaseModel):
    """Mark a session archived with its final summary."""

    session: SessionRef
    summary: SessionSummary


class ActorRef(BaseModel):
    """Whose long-term memories: a user within a tenant (never shared across tenants)."""

    tenant_id: str
    actor_id: str


MemoryKind = Literal["fact", "preference", "summary"]


class MemoryRecord(BaseModel):
    """One long-term memory about an actor (a fact, a preference, or a session summary)."""

    record_id: str
    namespace: str
    kind: MemoryKind
    text: str
    session_id: str | None = None
    created_at: datetime | None = None
    score: float | None = Field(None, description="Relevance to the query (higher is better)")


class SearchMemoriesInput(BaseModel):
    """Top-k long-term memories of an actor relevant to ``query``."""

    actor: ActorRef
    query: str
    top_k: int = Field(5, ge=1, le=100)
    namespaces: list[str] | None = None


class PrepareTurnInput(BaseModel):
    """Before a model call, in one local activity: record what earlier turns left
    unrecorded, and recall memories for the new prompt."""

    record: RecordMessagesInput | None = None
    recall: SearchMemoriesInput | None = None


class PrepareTurnResult(BaseModel):
    """Recalled memories (empty when recall failed: ``recall_error`` says why)."""

    memories: list[MemoryRecord] = Field(default_factory=list)
    recorded: int = 0
    recall_error: str | None = None
    record_error: str | None = Field(None, description="Set when the batch was not recorded")


ExtractMemoriesInput.model_rebuild()
