"""Gateway errors: one HTTP status per refusal kind, and the error body every route answers."""

import logging
from typing import Any

from starlette.responses import JSONResponse
from temporalio.service import RPCError

from client.errors import (
    ConvoflowError,
    MessageRejectedError,
    SessionNotFoundError,
    TurnFailedError,
)
from models import InvalidIdError, Refusal

log = logging.getLogger("convoflow.gateway")


class GatewayError(Exception):
    """A request the gateway answers with an error status (and nothing written)."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        """``code`` is stable (for programs), ``message`` is for people."""
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def response(self) -> JSONResponse:
        """The JSON error response."""
        return JSONResponse(
            {"error": {"code": self.code, "message": self.message}},
            status_code=self.status,
            headers=self.headers,
        )

    def event(self) -> dict[str, Any]:
        """The same error as a Server-Sent Event payload."""
        return {"type": "error", "code": self.code, "message": self.message}


HTTP_STATUS: dict[Refusal, int] = {
    Refusal.INVALID_MESSAGE: 400,
    Refusal.SESSION_NOT_FOUND: 404,
    Refusal.UNKNOWN_MESSAGE: 404,
    Refusal.SESSION_BUSY: 409,
    Refusal.SESSION_CLOSING: 409,
    Refusal.SESSION_CONTINUING: 409,
    Refusal.DUPLICATE_MESSAGE: 409,
    Refusal.TURN_FAILED: 502,
    Refusal.NOTHING_TO_REGENERATE: 409,
    Refusal.SESSION_EXISTS: 409,
    Refusal.UNKNOWN_AGENT: 400,
    Refusal.UNKNOWN_APPROVAL: 404,
}
"""The HTTP status of every refusal kind (the body's ``code`` is the kind itself)."""


def error_for(err: BaseException) -> GatewayError:
    """The HTTP answer for an error raised while serving a request."""
    if isinstance(err, GatewayError):
        return err
    if isinstance(err, InvalidIdError):
        return GatewayError(400, "InvalidId", str(err))
    if isinstance(err, SessionNotFoundError):
        # The same words whether the session does not exist or belongs to someone else.
        kind = Refusal.SESSION_NOT_FOUND
        return GatewayError(HTTP_STATUS[kind], kind, "no such session")
    if isinstance(err, MessageRejectedError):
        status = HTTP_STATUS.get(Refusal(err.kind), 409) if err.kind in set(Refusal) else 409
        return GatewayError(status, err.kind, str(err))
    if isinstance(err, TurnFailedError):
        return GatewayError(HTTP_STATUS[Refusal.TURN_FAILED], Refusal.TURN_FAILED, str(err))
    if isinstance(err, ConvoflowError):
        return GatewayError(503, "Unavailable", str(err))
    if isinstance(err, RPCError):
        return GatewayError(503, "TemporalUnavailable", "Temporal is not reachable; try again")
    log.error("unexpected error serving a request", exc_info=err)
    return GatewayError(500, "InternalError", "internal error")
