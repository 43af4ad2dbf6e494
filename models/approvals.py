"""Approval of tool calls: the requests a paused turn waits on and the answers people give.

An agent (``AgentDefinition.require_approval``) or a session (``SessionConfig.
require_approval``) marks tools whose calls need a person's yes. When the model calls one,
the turn pauses (status ``waiting_for_approval``) with one :class:`ApprovalRequest` per such
call; the ``answer_approval`` update (:class:`ApprovalAnswer`) approves or denies it, and the
session's ``approval_timeout`` denies what nobody answered.
"""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from models.ids import ID_PATTERN

ANSWER_APPROVAL = "answer_approval"
"""Name of the update that approves or denies a pending request."""
APPROVALS_QUERY = "approvals"
"""Name of the query listing the pending requests."""

MAX_DENY_MESSAGE_CHARS = 2_000
"""Characters of a denial's message to the model."""

ApprovalState = Literal["pending", "approved", "denied", "timed_out", "cancelled"]


class ApprovalRequest(BaseModel):
    """One tool call waiting for (or given) a person's answer."""

    id: str = Field(..., description="The request's id, to answer it with")
    tool: str = Field(..., description="The tool the model wants to call")
    input: dict[str, Any] = Field(default_factory=dict, description="Its arguments (bounded)")
    reason: str = Field(..., description="Why the call needs approval")
    tool_use_id: str = Field(..., description="The model's id of the call")
    message_id: str = Field(..., description="The user message whose turn makes the call")
    asked_at: datetime
    deadline: datetime = Field(..., description="Denied when nobody answered by then")
    state: ApprovalState = "pending"
    message: str | None = Field(None, description="A denial's message to the model")
    answered_at: datetime | None = None
    answered_by: str | None = Field(None, description="The user who answered (None: operator)")


class ApprovalAnswer(BaseModel):
    """The ``answer_approval`` update: approve or deny request ``request_id``.

    With ``user_id`` only the session's owner may answer; without it (the Temporal CLI, an
    operator with access to the namespace) anyone who can reach the workflow.
    """

    model_config = ConfigDict(extra="forbid")

    request_id: str = Field(..., min_length=1, max_length=64, pattern=ID_PATTERN)
    approved: bool
    message: str | None = Field(None, max_length=MAX_DENY_MESSAGE_CHARS)
    user_id: str | None = Field(None, pattern=ID_PATTERN, description="The caller")
