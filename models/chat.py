"""Chat messages and the replies a session gives."""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from models.ids import ID_MAX_LENGTH, ID_PATTERN

Role = Literal["user", "assistant", "system", "error"]


class ChatMessage(BaseModel):
    """One message of a conversation (the seed's ChatMessage, plus id, role and sequence).

    Clients send ``role="user"`` messages; ``message_id`` makes a send idempotent. The
    workflow fills in ``message_id`` (when absent), ``session_id``, ``timestamp`` and ``seq``
    when it accepts a message, so every stored message has them.
    """

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "message_id": "m-0001",
                "message": "Review PR #123 in the agent-tasks folder",
                "session_id": "sess_abc123",
                "user_id": "user_github_456",
                "metadata": {"intent": "pr_review", "pr_number": 123},
            }
        },
    )

    message_id: str | None = Field(
        None, pattern=ID_PATTERN, max_length=ID_MAX_LENGTH, description="Idempotency key"
    )
    session_id: str | None = Field(
        None, pattern=ID_PATTERN, max_length=ID_MAX_LENGTH, description="Session identifier"
    )
    role: Role = Field("user", description="Who wrote the message")
    message: str = Field(..., description="Message content")
    user_id: str | None = Field(
        None, pattern=ID_PATTERN, max_length=ID_MAX_LENGTH, description="User identifier"
    )
    timestamp: datetime | None = Field(None, description="When the session accepted it (UTC)")
    metadata: dict[str, Any] | None = Field(None, description="Additional context")
    reply_to: str | None = Field(None, description="For replies and errors: the user message id")
    seq: int | None = Field(None, ge=0, description="Position in the whole conversation")
    stream: bool = Field(False, description="Publish this turn's tokens to the session stream")


class TokenUsage(BaseModel):
    """Token counts the model reported for one turn."""

    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0


class ChatReply(BaseModel):
    """The answer to one user message."""

    message_id: str = Field(..., description="The user message this answers")
    reply_message_id: str = Field(..., description="Id of the assistant message")
    session_id: str
    tenant_id: str
    reply: str
    stop_reason: str | None = None
    usage: TokenUsage = Field(default_factory=TokenUsage)
    duplicate: bool = Field(False, description="True when this answers a repeated message_id")
    seq: int | None = Field(None, description="Sequence number of the assistant message")
