"""Inputs of the summary activities (apart from ``models.summary``, which the session's
state uses, to keep the import order of ``models`` acyclic)."""

from pydantic import BaseModel, Field

from models.chat import ChatMessage
from models.memory import ActorRef, SessionRef
from models.summary import ConversationSummary


class SummariseInput(BaseModel):
    """Update ``previous`` with ``messages`` (which just left the context)."""

    session: SessionRef
    actor: ActorRef | None = Field(None, description="Whose long-term memory keeps a copy")
    model: str | None = Field(None, description="Provider that writes it; None: rules")
    previous: ConversationSummary | None = None
    messages: list[ChatMessage] = Field(..., min_length=1)


class PreviousSummaryInput(BaseModel):
    """The summary an ended session with this id was archived with."""

    session: SessionRef
