"""The Python client library of Convoflow sessions: ``SessionClient``."""

from client.errors import (
    ConvoflowError,
    MessageRejectedError,
    SessionNotFoundError,
    TurnFailedError,
)
from client.listing import SessionInfo
from client.session_client import SessionClient, Turn
from client.streaming import ApprovalEvent, Delta, StreamRestart, ToolEvent, TurnEvent

__all__ = [
    "ApprovalEvent",
    "ConvoflowError",
    "Delta",
    "MessageRejectedError",
    "SessionClient",
    "SessionInfo",
    "SessionNotFoundError",
    "StreamRestart",
    "ToolEvent",
    "Turn",
    "TurnEvent",
    "TurnFailedError",
]
