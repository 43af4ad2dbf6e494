"""Pydantic models shared by the workflow, activities and clients."""

from models.chat import ChatMessage, ChatReply, Role, TokenUsage
from models.ids import InvalidIdError, parse_session_workflow_id, session_workflow_id, validate_id
from models.memory import (
    ActorRef,
    ArchiveSessionInput,
    ExtractMemoriesInput,
    FindReplyInput,
    MemoryRecord,
    PrepareTurnInput,
    PrepareTurnResult,
    RecentMessagesInput,
    RecordMessagesInput,
    SearchMemoriesInput,
    SessionRef,
)
from models.refusals import Refusal
from models.session import (
    SessionConfig,
    SessionInput,
    SessionState,
    SessionStatus,
    SessionStatusName,
    SessionSummary,
)

__all__ = [
    "ActorRef",
    "ArchiveSessionInput",
    "ChatMessage",
    "ChatReply",
    "ExtractMemoriesInput",
    "FindReplyInput",
    "InvalidIdError",
    "MemoryRecord",
    "PrepareTurnInput",
    "PrepareTurnResult",
    "RecentMessagesInput",
    "RecordMessagesInput",
    "Refusal",
    "Role",
    "SearchMemoriesInput",
    "SessionConfig",
    "SessionInput",
    "SessionRef",
    "SessionState",
    "SessionStatus",
    "SessionStatusName",
    "SessionSummary",
    "TokenUsage",
    "parse_session_workflow_id",
    "session_workflow_id",
    "validate_id",
]
