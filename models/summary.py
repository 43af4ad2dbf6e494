"""The running summary of a conversation: what has left the model's context, in brief."""

from datetime import datetime

from pydantic import BaseModel, Field

SUMMARY_MAX_CHARS = 4_000
"""A summary never grows past this (it is pinned in every turn's system prompt)."""


class ConversationSummary(BaseModel):
    """The model-written (or, with ``echo``, rule-based) summary of a session so far."""

    text: str = Field(..., max_length=SUMMARY_MAX_CHARS)
    through_seq: int = Field(..., description="Covers every message up to this sequence number")
    updated_at: datetime | None = None
    updates: int = Field(1, ge=1, description="How many times it was written")
    by: str = Field("rules", description="The provider that wrote it, or 'rules'")
