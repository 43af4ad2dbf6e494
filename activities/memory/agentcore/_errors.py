"""The store's errors, and the one place AWS failures are classified into them."""

from collections.abc import Mapping
from typing import Any, Final

from botocore.exceptions import (  # type: ignore[import-untyped, unused-ignore]
    BotoCoreError,
    ClientError,
    CredentialRetrievalError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
)
from temporalio.exceptions import ApplicationError


class MemoryBackendError(ApplicationError):
    """A memory backend call failed; ``non_retryable`` tells Temporal whether to retry it."""

    def __init__(
        self, message: str, *, memory_id: str, operation: str, code: str, retryable: bool
    ) -> None:
        """Build the error; its Temporal ``type`` is the class name."""
        super().__init__(message, type=type(self).__name__, non_retryable=not retryable)
        self.memory_id = memory_id
        self.operation = operation
        self.code = code

    @property
    def retryable(self) -> bool:
        """Whether a later attempt may succeed."""
        return not self.non_retryable


class MemoryUnavailableError(MemoryBackendError):
    """A transient failure (throttling, quota, 5xx, network): the activity is retried."""

    def __init__(self, message: str, *, memory_id: str, operation: str, code: str) -> None:
        """Build a retryable error."""
        super().__init__(
            message, memory_id=memory_id, operation=operation, code=code, retryable=True
        )


class MemoryRejectedError(MemoryBackendError):
    """A request that cannot succeed as sent (no such memory, no access, invalid input)."""

    def __init__(self, message: str, *, memory_id: str, operation: str, code: str) -> None:
        """Build a non-retryable error."""
        super().__init__(
            message, memory_id=memory_id, operation=operation, code=code, retryable=False
        )


RETRYABLE_CODES = frozenset(
    {
        "ThrottledException",  # AgentCore's name (HTTP 429)
        "ThrottlingException",
        "TooManyRequestsException",
        "ServiceQuotaExceededException",
        "ServiceException",
        "InternalServerException",
        "ServiceUnavailableException",
        "RetryableConflictException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)
REJECTED_CODES = frozenset(
    {
        "ResourceNotFoundException",
        "AccessDeniedException",
        "ValidationException",
        "InvalidInputException",
        "UnrecognizedClientException",
        "InvalidSignatureException",
    }
)
_REJECTED_HINTS: Final[Mapping[str, str]] = {
    "ResourceNotFoundException": (
        "check CONVOFLOW_AGENTCORE_MEMORY_ID and CONVOFLOW_AGENTCORE_REGION"
    ),
    "AccessDeniedException": "check the worker's IAM permissions for bedrock-agentcore",
}
_CREDENTIAL_ERRORS = (
    NoCredentialsError,
    PartialCredentialsError,
    CredentialRetrievalError,
    NoRegionError,
)

# What ``classify`` accepts: every failure a boto call raises that is the service's or the SDK's.
AWS_ERRORS = (ClientError, BotoCoreError)


def classify(err: Exception, *, memory_id: str, region: str, action: str) -> MemoryBackendError:
    """Our error for a failed boto call (one of ``AWS_ERRORS``) of store method ``action``.

    Client errors go by code (then HTTP status); invalid parameters and missing credentials
    or region are rejected; any other botocore failure (connection errors, timeouts,
    truncated reads) is unavailable.
    """
    if isinstance(err, ClientError):
        return _client_error(err, memory_id=memory_id, region=region, action=action)
    if isinstance(err, ParamValidationError):
        return _rejected(memory_id, region, action, "ParamValidationError", str(err))
    if isinstance(err, _CREDENTIAL_ERRORS):
        return _rejected(memory_id, region, action, type(err).__name__, str(err))
    return MemoryUnavailableError(
        _describe(memory_id, region, action, type(err).__name__, str(err)),
        memory_id=memory_id,
        operation=action,
        code=type(err).__name__,
    )


def _describe(memory_id: str, region: str, operation: str, code: str, detail: str) -> str:
    return f"AgentCore memory {memory_id!r} ({region}): {operation} failed: {code}: {detail}"


def _rejected(
    memory_id: str, region: str, operation: str, code: str, detail: str
) -> MemoryRejectedError:
    message = _describe(memory_id, region, operation, code, detail)
    if code in _REJECTED_HINTS:
        message += f" ({_REJECTED_HINTS[code]})"
    return MemoryRejectedError(message, memory_id=memory_id, operation=operation, code=code)


def _client_error(err: Any, *, memory_id: str, region: str, action: str) -> MemoryBackendError:
    error = err.response.get("Error", {})
    code = str(error.get("Code") or "Unknown")
    detail = str(error.get("Message") or err)
    status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    operation = str(getattr(err, "operation_name", None) or action)
    if code in REJECTED_CODES:
        retryable = False
    elif code in RETRYABLE_CODES:
        retryable = True
    else:  # unknown codes: server faults and throttling retry, other client errors do not
        retryable = status is None or status >= 500 or status == 429
    if not retryable:
        return _rejected(memory_id, region, operation, code, detail)
    return MemoryUnavailableError(
        _describe(memory_id, region, operation, code, detail),
        memory_id=memory_id,
        operation=operation,
        code=code,
    )
