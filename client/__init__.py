"""Clients of Convoflow sessions: ``SessionClient``, the ``convoflow`` CLI."""

from client.errors import (
    ConvoflowError,
    MessageRejectedError,
    SessionNotFoundError,
    TurnFailedError,
)
from client.session_client import SessionClient, SessionInfo

__all__ = [
    "ConvoflowError",
    "MessageRejectedError",
    "SessionClient",
    "SessionInfo",
    "SessionNotFoundError",
    "TurnFailedError",
]
