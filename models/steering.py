"""Inputs and answers of steering a session: cancelling a turn, regenerating, forking."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from models.chat import ChatReply
from models.ids import ID_PATTERN

CANCEL_TURN = "cancel_turn"
"""Name of the update that cancels the running turn."""
REGENERATE = "regenerate"
"""Name of the update that runs the last user message again."""


class SteerRequest(BaseModel):
    """Who asks (``cancel_turn``, ``regenerate``): with a user, only the session's owner."""

    model_config = ConfigDict(extra="forbid")

    user_id: str | None = Field(None, pattern=ID_PATTERN, description="The caller")


class CancelResult(BaseModel):
    """What a cancel did: the running turn cancelled, already finished, or nothing ran."""

    status: Literal["cancelled", "finished", "idle"]
    detail: str = Field(..., description="The same, for people")
    message_id: str | None = Field(None, description="The user message whose turn it was")
    reply: ChatReply | None = Field(
        None, description="The turn's reply: partial with stop_reason 'cancelled', or whole"
    )


class ForkResult(BaseModel):
    """A new session started from another one's messages."""

    session_id: str
    tenant_id: str
    user_id: str | None
    forked_from: str
    at_seq: int
    messages: int = Field(..., description="Messages the new session starts with")
