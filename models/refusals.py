"""Every way a session refuses or fails a request: one enum for workflow, client and gateway.

The value is the ``ApplicationError.type`` the workflow raises (and the ``kind`` a
``MessageRejectedError`` carries, and the ``code`` of a gateway error body), so the three
places can never drift apart.
"""

from enum import StrEnum


class Refusal(StrEnum):
    """Why a session did not (or could not) answer a request."""

    INVALID_MESSAGE = "InvalidMessage"
    """The input is malformed or breaks a limit; nothing was written."""
    SESSION_NOT_FOUND = "SessionNotFound"
    """No such session, or it belongs to someone else (the same answer on purpose)."""
    SESSION_BUSY = "SessionBusy"
    """Too many messages already wait; try again after a reply."""
    SESSION_CLOSING = "SessionClosing"
    """The session is archiving; send again to open a new session."""
    SESSION_CONTINUING = "SessionContinuing"
    """The session is handing over to a new run; the client retries on its own."""
    UNKNOWN_MESSAGE = "UnknownMessage"
    """A reconnect named a message id the session never received."""
    DUPLICATE_MESSAGE = "DuplicateMessage"
    """The id was received before but its reply is no longer available."""
    TURN_FAILED = "TurnFailed"
    """The model turn failed after its retries; the session recorded an error message."""
    NOTHING_TO_REGENERATE = "NothingToRegenerate"
    """A regenerate in a session without a user message to run again."""
    SESSION_EXISTS = "SessionExists"
    """A fork named a session id that is already taken."""
    UNKNOWN_AGENT = "UnknownAgent"
    """The session names an agent its worker does not define (or the gateway does not allow);
    a new session refused this way ends at once."""
    UNKNOWN_APPROVAL = "UnknownApproval"
    """An approval answer named a request the session is not waiting on (never asked, or
    already answered)."""

    @property
    def transient(self) -> bool:
        """A refusal the same request may overcome by waiting and trying again."""
        return self in (Refusal.SESSION_BUSY, Refusal.SESSION_CONTINUING)
