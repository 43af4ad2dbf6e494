"""Session configuration, workflow input, carried state, status and summary."""

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from temporalio.contrib.workflow_streams import WorkflowStreamState

from models.approvals import ApprovalRequest
from models.chat import ChatMessage, TokenUsage
from models.ids import AGENT_NAME_PATTERN, ID_MAX_LENGTH, ID_PATTERN, TOOL_NAME_PATTERN
from models.limits import check_free_json
from models.stream import StreamMark
from models.summary import ConversationSummary

WORKER_MODEL = "worker"
"""A session that names no model runs on its worker's default provider (``CONVOFLOW_MODEL``)."""

SessionStatusName = Literal[
    "active", "processing", "waiting_for_approval", "closing", "expired", "closed"
]


class SessionConfig(BaseModel):
    """Per-session behaviour. Defaults follow the seed (100 kept, 10 in context, 24 h idle)."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(
        WORKER_MODEL,
        min_length=1,
        description="Registered model provider name; 'worker': the worker's CONVOFLOW_MODEL,"
        " decided when the session starts",
    )
    agent: str = Field(
        "default",
        pattern=AGENT_NAME_PATTERN,
        description="The agent (prompt, tools, MCP servers) defined on the worker",
    )
    system_prompt: str = Field(
        "You are a helpful assistant. Answer briefly and accurately.", max_length=32_000
    )
    max_messages: int = Field(100, ge=2, le=10_000, description="Messages kept in the workflow")
    context_messages: int = Field(10, ge=0, le=1_000, description="Messages sent to the model")
    idle_timeout: timedelta = Field(timedelta(hours=24), description="Expire after this idle")
    message_ttl: timedelta | None = Field(None, description="Drop kept messages older than this")
    max_message_chars: int = Field(32_000, ge=1, le=1_000_000)
    max_queued_messages: int = Field(100, ge=1, le=10_000, description="Turns waiting at once")
    continue_as_new_events: int = Field(
        2_000, ge=100, le=40_000, description="Start a new run past this many history events"
    )
    continue_as_new_bytes: int = Field(
        8_000_000,
        ge=100_000,
        le=40_000_000,
        description="Start a new run past this many history bytes (the server stops at 50 MB)",
    )
    dedupe_window: int = Field(1_000, ge=10, le=100_000, description="Message ids remembered")
    model_timeout: timedelta = Field(timedelta(minutes=2), description="One model attempt")
    model_heartbeat_timeout: timedelta | None = Field(
        timedelta(seconds=30), description="A model attempt on a dead worker retries after this"
    )
    model_max_attempts: int = Field(5, ge=1, le=100)
    stream_batch_interval: timedelta = Field(
        timedelta(milliseconds=100), description="How often streamed tokens are published"
    )
    recall_top_k: int = Field(5, ge=0, le=50, description="Long-term memories per turn (0: off)")
    memory_extraction: Literal["auto", "rules", "model", "off"] = Field(
        "auto", description="auto: the session's model if it is a real LLM, else rules"
    )
    record_delay: timedelta = Field(
        timedelta(seconds=5),
        description="Finished turns go to memory with the next turn's preparation, or at "
        "most this long after (0: a record activity right after every reply)",
    )
    restore_messages: int = Field(
        10, ge=0, le=1_000, description="Messages restored from memory when a session comes back"
    )
    search_attributes: bool = Field(
        True, description="Upsert Convoflow* search attributes (must be registered)"
    )
    # Context that fits (issue 14): a token budget and a running summary.
    context_tokens: int | None = Field(
        None,
        ge=64,
        le=2_000_000,
        description="Input tokens the model gets (None: the provider's window minus its reply)",
    )
    context_summary: bool = Field(
        True, description="Summarise what leaves the context and pin it in the system prompt"
    )
    # Steering (issue 13): tools whose calls wait for a person's approval.
    require_approval: list[Annotated[str, Field(pattern=TOOL_NAME_PATTERN)]] = Field(
        default_factory=list,
        max_length=100,
        description="Tools whose calls need approval, besides the agent's own (never fewer)",
    )
    approval_timeout: timedelta = Field(
        timedelta(hours=1),
        description="A pending approval is denied when nobody answers within this",
    )

    @model_validator(mode="after")
    def _check_durations(self) -> "SessionConfig":
        if self.idle_timeout <= timedelta(0):
            raise ValueError("idle_timeout must be positive")
        if self.message_ttl is not None and self.message_ttl <= timedelta(0):
            raise ValueError("message_ttl must be positive")
        if self.record_delay < timedelta(0):
            raise ValueError("record_delay must not be negative")
        if self.model_timeout <= timedelta(0):
            raise ValueError("model_timeout must be positive")
        if not timedelta(seconds=1) <= self.approval_timeout <= timedelta(days=30):
            raise ValueError("approval_timeout must be between 1 second and 30 days")
        return self


class SessionState(BaseModel):
    """The session's live state: one object, owned by the running workflow and handed as a
    whole to the next run through continue-as-new (nothing is copied field by field)."""

    messages: list[ChatMessage] = Field(default_factory=list, description="The kept window")
    next_seq: int = 0
    turns: int = 0
    recent_message_ids: list[str] = Field(
        default_factory=list, description="Ids answered or queued lately, oldest first (dedupe)"
    )
    pending: list[ChatMessage] = Field(default_factory=list, description="Accepted, not yet run")
    issues: list[str] = Field(default_factory=list, description="The last issues, stamped")
    issue_count: int = Field(0, description="Issues ever, in every run")
    last_issue_at: datetime | None = None
    usage: TokenUsage = Field(default_factory=TokenUsage)
    created_at: datetime
    last_activity: datetime
    runs: int = 1
    stream_state: WorkflowStreamState | None = None
    stream_marks: list[StreamMark] = Field(default_factory=list)
    unmined: list[ChatMessage] = Field(
        default_factory=list, description="Recorded user messages not yet mined for memories"
    )
    trimmed: list[ChatMessage] = Field(
        default_factory=list, description="Messages trimmed from the window, to summarise"
    )
    summary: ConversationSummary | None = Field(
        None, description="The running summary of what left the model's context"
    )


class SessionInput(BaseModel):
    """The session workflow's single argument."""

    session_id: str = Field(..., pattern=ID_PATTERN, max_length=ID_MAX_LENGTH)
    tenant_id: str = Field("default", pattern=ID_PATTERN, max_length=ID_MAX_LENGTH)
    user_id: str | None = Field(None, pattern=ID_PATTERN, max_length=ID_MAX_LENGTH)
    config: SessionConfig = Field(default_factory=SessionConfig)
    initial_context: dict[str, Any] | None = None
    carried: SessionState | None = None
    seed_messages: list[ChatMessage] | None = Field(
        None, max_length=10_000, description="A fork's first messages (another session's)"
    )

    @field_validator("initial_context")
    @classmethod
    def _bounded_context(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None:
            check_free_json(value, "initial_context")
        return value


class SessionStatus(BaseModel):
    """The seed's StatusModel plus counts and timing, answered by the ``status`` query."""

    status: SessionStatusName
    current_step: str
    progress: int = Field(..., ge=0, le=100)
    issues: list[str] = Field(default_factory=list)
    issue_count: int = Field(0, description="Issues ever (issues lists only the last ones)")
    updated_at: datetime
    session_id: str
    tenant_id: str
    user_id: str | None = None
    message_count: int = Field(..., description="Messages kept in the workflow")
    total_messages: int = Field(..., description="Messages in the whole conversation")
    trimmed_messages: int = Field(..., description="Earlier messages kept only in memory")
    turns: int
    queued: int
    last_activity: datetime
    expires_at: datetime
    run: int = Field(..., description="Run number (continue-as-new count + 1)")
    usage: TokenUsage = Field(default_factory=TokenUsage)
    summary: ConversationSummary | None = Field(None, description="The running summary")
    model: str | None = Field(None, description="The model provider the session runs on")
    agent: str | None = Field(None, description="The session's agent")
    approvals: list[ApprovalRequest] = Field(
        default_factory=list, description="Tool calls waiting for approval"
    )


class SessionSummary(BaseModel):
    """The result of a finished session."""

    session_id: str
    tenant_id: str
    user_id: str | None
    status: Literal["expired", "closed"]
    reason: str
    turns: int
    total_messages: int
    created_at: datetime
    ended_at: datetime
    usage: TokenUsage = Field(default_factory=TokenUsage)
    conversation_summary: ConversationSummary | None = None
