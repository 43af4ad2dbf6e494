"""The token-stream contract between the session workflow and streaming clients.

A streamed turn publishes to topic ``turn.<message_id>`` of the session's workflow stream:
raw Strands stream events from the model activity (``messageStart``, ``contentBlockDelta``,
..., ``metadata``; a retried model attempt starts again at ``messageStart``), then one
``{"turnEnd": {"ok": bool, "error": str | None}}`` item published by the workflow.

A turn whose agent calls tools has one model round per call batch; the workflow publishes
``{"toolStart": {"toolUseId", "name", "input"}}`` before each call runs and
``{"toolEnd": {"toolUseId", "name", "status", "result"}}`` (result cut short) after it, and
the next round starts again at ``messageStart``. Only the last round's text is the reply.

A call that needs a person's approval publishes ``{"approvalRequired": <ApprovalRequest>}``
when the turn pauses for it, and ``{"approvalAnswered": <ApprovalRequest>}`` once it is
answered (approved, denied or timed out); the turn then goes on.
"""

from datetime import datetime

from pydantic import BaseModel

TURN_END = "turnEnd"
TOOL_START = "toolStart"
TOOL_END = "toolEnd"
APPROVAL_REQUIRED = "approvalRequired"
APPROVAL_ANSWERED = "approvalAnswered"


def turn_topic(message_id: str) -> str:
    """Topic carrying the stream of the turn answering ``message_id``."""
    return f"turn.{message_id}"


class StreamMark(BaseModel):
    """Where a streamed turn's items end in the stream log, and when it ended."""

    end_offset: int
    ended_at: datetime
