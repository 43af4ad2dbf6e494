"""What a run knows that is never carried to the next one (the carried part is
``models.SessionState``, owned by the workflow and handed over whole)."""

from dataclasses import dataclass, field
from datetime import datetime

from opentelemetry.context import Context

from models import ChatMessage, ChatReply, SessionStatusName
from models.approvals import ApprovalRequest

Outcome = ChatReply | str
"""How a turn ended: the reply, or why it failed."""


@dataclass
class RunState:
    """Per-run state: progress shown to operators and flags the handlers and loop share."""

    updated_at: datetime
    status: SessionStatusName = "active"
    step: str = "waiting for messages"
    progress: int = 100
    current: ChatMessage | None = None
    close_reason: str | None = None
    idle_due: bool = False
    draining: bool = False
    """Handing over to a new run: updates are refused (the client retries on the next run)."""
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    in_flight: set[str] = field(default_factory=set)
    search_attributes_seq: int = -1
    """``next_seq`` at the last search-attribute upsert (upsert only when it moved)."""
    traces: dict[str, Context] = field(default_factory=dict)
    """Trace context of each queued message's request (``workflows.session.tracing``)."""
    approvals: dict[str, ApprovalRequest] = field(default_factory=dict)
    """The running turn's approval requests by id (``workflows.session.approvals``)."""

    def pending_approvals(self) -> list[ApprovalRequest]:
        """The running turn's approval requests that wait for an answer, oldest first."""
        return [r for r in self.approvals.values() if r.state == "pending"]

    @property
    def ending(self) -> bool:
        """Closing, closed or expired: no new message is accepted."""
        return self.close_reason is not None or self.status in ("closing", "closed", "expired")
