"""Errors a Convoflow client raises, each with a message a person can act on."""

from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError


class ConvoflowError(Exception):
    """Base of every error the Convoflow client raises."""


class MessageRejectedError(ConvoflowError):
    """The session refused the message before processing it (nothing was written)."""

    def __init__(self, message: str, kind: str) -> None:
        """``kind`` is the refusal type: InvalidMessage, SessionBusy, SessionClosing, ..."""
        super().__init__(message)
        self.kind = kind


class TurnFailedError(ConvoflowError):
    """The model turn failed after its retries; the session recorded an error message."""


class SessionNotFoundError(ConvoflowError):
    """No session with that tenant and id exists."""


def error_from_update(err: WorkflowUpdateFailedError) -> ConvoflowError:
    """Translate a failed update into the client error it stands for."""
    cause = err.cause
    if isinstance(cause, ApplicationError):
        if cause.type == "TurnFailed":
            return TurnFailedError(cause.message)
        if cause.type == "SessionNotFound":
            return SessionNotFoundError("no such session")
        return MessageRejectedError(cause.message, cause.type or "Rejected")
    return ConvoflowError(str(cause or err))
