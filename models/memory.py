"""Inputs and outputs of the memory activities."""

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
