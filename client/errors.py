"""Errors a Convoflow client raises, each with a message a person can act on."""

from temporalio.api.errordetails.v1 import MultiOperationExecutionFailure, WorkflowNotReadyFailure
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from models.refusals import Refusal


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


CLIENT_ERRORS: dict[Refusal, type[ConvoflowError]] = {
    Refusal.INVALID_MESSAGE: MessageRejectedError,
    Refusal.SESSION_NOT_FOUND: SessionNotFoundError,
    Refusal.SESSION_BUSY: MessageRejectedError,
    Refusal.SESSION_CLOSING: MessageRejectedError,
    Refusal.SESSION_CONTINUING: MessageRejectedError,
    Refusal.UNKNOWN_MESSAGE: MessageRejectedError,
    Refusal.DUPLICATE_MESSAGE: MessageRejectedError,
    Refusal.TURN_FAILED: TurnFailedError,
    Refusal.NOTHING_TO_REGENERATE: MessageRejectedError,
    Refusal.SESSION_EXISTS: MessageRejectedError,
    Refusal.UNKNOWN_AGENT: MessageRejectedError,
    Refusal.UNKNOWN_APPROVAL: MessageRejectedError,
}
"""The exception a client raises for every refusal kind."""


def error_from_update(err: WorkflowUpdateFailedError) -> ConvoflowError:
    """Translate a failed update into the client error it stands for."""
    cause = err.cause
    if not isinstance(cause, ApplicationError):
        return ConvoflowError(str(cause or err))
    kind = Refusal(cause.type) if cause.type in set(Refusal) else None
    error = CLIENT_ERRORS.get(kind) if kind is not None else MessageRejectedError
    if error is SessionNotFoundError:
        return SessionNotFoundError("no such session")
    if error is TurnFailedError:
        return TurnFailedError(cause.message)
    return MessageRejectedError(cause.message, cause.type or "Rejected")


def workflow_not_ready(err: RPCError) -> bool:
    """Whether the server dropped an update it had not accepted because the session's
    workflow task failed or is failing (``WorkflowNotReady``): nothing was written, and the
    same message can be sent again. The server fails a task on its own when it cannot apply
    the completion, e.g. a continue-as-new racing a new event (``UnhandledCommand``)."""
    if err.status != RPCStatusCode.FAILED_PRECONDITION:
        return False
    details = list(err.grpc_status.details)
    multi = MultiOperationExecutionFailure()
    if details and details[0].Unpack(multi):  # update-with-start: each operation's status
        details += [detail for status in multi.statuses for detail in status.details]
    return any(detail.Is(WorkflowNotReadyFailure.DESCRIPTOR) for detail in details)
