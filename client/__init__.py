"""Clients of Convoflow sessions: ``SessionClient``, the ``convoflow`` CLI."""

from client.errors import (
    ConvoflowError,
    MessageRejectedError,
    SessionNotFoundError,
    TurnFailedError,
)
from client.session_client import SessionClient, SessionInfo
from client.streaming import Delta, StreamRestart

__all__ = [
    "ConvoflowError",
    "Delta",
    "MessageRejectedError",
    "SessionClient",
    "SessionInfo",
    "SessionNotFoundError",
    "StreamRestart",
    "TurnFailedError",
]
