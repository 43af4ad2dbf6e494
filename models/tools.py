"""What a tool call is made of: the context a tool activity runs in, and the record of a call
the history keeps (``metadata["tool_calls"]`` of the reply)."""

from typing import Any, Literal

from pydantic import BaseModel, Field

MAX_TOOL_RESULT_CHARS = 2_000
"""Characters of a tool result kept in the history (the model saw all of it)."""
MAX_TOOL_INPUT_CHARS = 2_000
"""Characters of a tool call's JSON input kept in the history."""

ToolStatus = Literal["success", "error"]


class ToolContext(BaseModel):
    """Who a tool call acts for, set by the session workflow (never by the model).

    A tool activity reads it with :func:`agents.tool_context`. ``idempotency_key`` is the
    same on every attempt of one call (a retry after a crash included) and different for
    every other call, so a tool with side effects can dedupe on it.
    """

    tenant_id: str
    session_id: str
    user_id: str | None = None
    message_id: str = Field(..., description="The user message whose turn makes the call")
    tool_use_id: str = Field(..., description="The model's id of this call")
    tool_name: str
    agent: str

    @property
    def idempotency_key(self) -> str:
        """One key per tool call of one turn of one session."""
        return f"{self.tenant_id}:{self.session_id}:{self.message_id}:{self.tool_use_id}"


class ToolCall(BaseModel):
    """One tool call of a turn, as the history keeps it (result bounded in size)."""

    tool_use_id: str
    name: str
    input: dict[str, Any] = Field(default_factory=dict)
    status: ToolStatus
    result: str = Field("", description=f"At most {MAX_TOOL_RESULT_CHARS} characters")
    result_chars: int = Field(0, description="Length of the whole result the model saw")
    full_result_stored: bool = Field(
        False,
        description="The whole result (longer than the bound) is in the session owner's memory"
        " store: MemoryStore.tool_result(session, reply_to, tool_use_id)",
    )
    round: int = Field(0, description="Model round of the turn that asked for it (0 first)")
