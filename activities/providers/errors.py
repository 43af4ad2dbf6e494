"""Which model-call errors end a turn at once, and which Temporal retries.

A model call is a Temporal activity, and Temporal retries a failed activity with backoff (the
SDK clients' own retries are off). That is right for throttling, 5xx and broken connections,
but pointless for a request the provider will never accept: a bad model id, missing IAM
permissions, a wrong API key. :class:`ClassifiedModel` wraps a Strands ``Model`` and turns
those terminal errors into ``ApplicationError(non_retryable=True)``, which is how an activity
tells Temporal not to retry; the turn then fails at once and its message (written for a
person, it becomes the error message shown in the chat session) names the provider, what was
wrong, the provider's own words and the model.

Everything else is re-raised unchanged and stays retryable, including Strands' own
translations: ``ModelThrottledException`` (Bedrock ``ThrottlingException``, OpenAI 429) is
retried, and ``ContextWindowOverflowException`` is made non-retryable by the Strands plugin's
failure converter. An error we do not recognise stays retryable too: the session's retry
policy bounds the attempts.

===========================  ===================================================  ============
source                       errors                                               outcome
===========================  ===================================================  ============
botocore ``ClientError``     ``ValidationException``, ``AccessDeniedException``,  end the turn
(by error code; stream       ``UnrecognizedClientException``,
errors' lower-case codes     ``ResourceNotFoundException``, signature/token/
count the same)              opt-in errors, ``SerializationException``
botocore ``ClientError``     ``ThrottlingException``, ``ServiceUnavailable…``,    retry
                             ``InternalServer…``, ``ModelNotReady…``,
                             ``ModelTimeout…``, ``ModelError…``,
                             ``ModelStreamError…``, ``ServiceQuotaExceeded…``
botocore ``ClientError``     other codes: HTTP 4xx except 408/409/429             end the turn
botocore, no response        ``NoCredentialsError``, ``PartialCredentialsError``, end the turn
                             ``NoRegionError``, ``ParamValidationError``, …
botocore, no response        connection and timeout errors                        retry
openai ``APIStatusError``    400, 401, 403, 404, 422 (``BadRequestError``,        end the turn
                             ``AuthenticationError``, ``PermissionDeniedError``,
                             ``NotFoundError``, ``UnprocessableEntityError``)
                             and any other 4xx except 408/409/429
openai                       ``RateLimitError`` (429, as Strands'                 retry
                             ``ModelThrottledException``), 408, 409,
                             ``InternalServerError`` (5xx), ``APIConnectionError``,
                             ``APITimeoutError``
openai ``OpenAIError``       not an ``APIError`` (client configuration, e.g. no   end the turn
                             API key)
===========================  ===================================================  ============
"""

import logging
import sys
from collections.abc import AsyncGenerator, AsyncIterable
from typing import Any, TypeVar

from botocore.exceptions import (  # type: ignore[import-untyped, unused-ignore]
    BotoCoreError,
    ClientError,
    InvalidConfigError,
    InvalidRegionError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
    ProfileNotFound,
    UnknownServiceError,
)
from pydantic import BaseModel
from strands.models import Model
from strands.types.content import Messages, SystemContentBlock
from strands.types.streaming import StreamEvent
from strands.types.tools import ToolSpec
from temporalio.exceptions import ApplicationError

T = TypeVar("T", bound=BaseModel)

logger = logging.getLogger(__name__)

# Longest provider message quoted in a user-facing error.
MAX_PROVIDER_MESSAGE = 500

# AWS error codes a retry cannot fix, with what they mean for the person reading the error.
TERMINAL_AWS_CODES: dict[str, str] = {
    "ValidationException": "rejected the request as invalid",
    "AccessDeniedException": (
        "denied access: check the worker's IAM permissions (streaming needs "
        "bedrock:InvokeModelWithResponseStream) and that this model is enabled in the region"
    ),
    "UnrecognizedClientException": (
        "did not recognise the worker's AWS credentials (unknown access key or invalid token)"
    ),
    "ResourceNotFoundException": "could not find the model: check the model id and the region",
    "InvalidSignatureException": "rejected the request signature: check the AWS secret key",
    "SignatureDoesNotMatch": "rejected the request signature: check the AWS secret key",
    "IncompleteSignatureException": "rejected the request signature",
    "IncompleteSignature": "rejected the request signature",
    "MissingAuthenticationTokenException": "got a request without AWS credentials",
    "MissingAuthenticationToken": "got a request without AWS credentials",
    "InvalidClientTokenId": "did not recognise the worker's AWS access key",
    "ExpiredTokenException": "rejected the worker's AWS credentials: they have expired",
    "ExpiredToken": "rejected the worker's AWS credentials: they have expired",
    "NotAuthorized": "denied access: the worker's AWS credentials are not authorised",
    "OptInRequired": "refused the request: the AWS account is not subscribed to the service",
    "SerializationException": "could not read the request",
    "UnknownOperationException": "does not know the requested operation",
}

# AWS error codes that are worth another attempt (capacity, throttling, server-side faults).
RETRYABLE_AWS_CODES: frozenset[str] = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "LimitExceededException",
        "ServiceQuotaExceededException",
        "ServiceUnavailableException",
        "ServiceUnavailable",
        "InternalServerException",
        "InternalFailure",
        "InternalError",
        "ModelNotReadyException",
        "ModelTimeoutException",
        "ModelErrorException",
        "ModelStreamErrorException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)

# HTTP statuses below 500 that are still worth another attempt.
RETRYABLE_CLIENT_STATUSES: frozenset[int] = frozenset({408, 409, 429})

# Botocore errors raised before any response: the worker's configuration is wrong.
_TERMINAL_BOTOCORE: dict[type[BotoCoreError], str] = {
    NoCredentialsError: "found no AWS credentials on the worker",
    PartialCredentialsError: "found incomplete AWS credentials on the worker",
    NoRegionError: "has no AWS region configured",
    InvalidRegionError: "has an invalid AWS region configured",
    ParamValidationError: "could not build a valid request",
    ProfileNotFound: "names an AWS profile that does not exist",
    InvalidConfigError: "has an invalid AWS configuration",
    UnknownServiceError: "does not know the AWS service",
}

# OpenAI-compatible statuses a retry cannot fix, with what they mean.
_TERMINAL_HTTP_REASONS: dict[int, str] = {
    400: "rejected the request as invalid",
    401: "rejected the API key",
    403: "denied access to the model",
    404: "could not find the model or the API path: check the model name and base URL",
    422: "could not process the request",
}


def _aws_code(code: str) -> str:
    """Error codes inside a ConverseStream event stream start lower-case
    (``validationException``): compare them in their usual spelling."""
    return code[:1].upper() + code[1:]


def _quote(text: str) -> str:
    text = " ".join(text.split())
    if len(text) > MAX_PROVIDER_MESSAGE:
        text = text[: MAX_PROVIDER_MESSAGE - 1] + "…"
    return text


def _compose(subject: str, reason: str, name: str, said: str, target: str | None) -> str:
    message = f"{subject[:1].upper()}{subject[1:]} {reason} ({name})"
    if said:
        message += f": {_quote(said).rstrip('.')}"
    if target:
        message += f" [{target}]"
    return message + "."


def _client_error(error: ClientError, provider: str, target: str | None) -> ApplicationError | None:
    details = error.response.get("Error", {})
    code = _aws_code(str(details.get("Code") or "")) or "ClientError"
    metadata = error.response.get("ResponseMetadata", {})
    status = metadata.get("HTTPStatusCode")
    if code in RETRYABLE_AWS_CODES:
        return None
    reason = TERMINAL_AWS_CODES.get(code)
    if reason is None:
        if not isinstance(status, int) or not 400 <= status < 500:
            return None
        if status in RETRYABLE_CLIENT_STATUSES:
            return None
        reason = f"refused the request (HTTP {status})"
    said = str(details.get("Message") or "")
    return ApplicationError(
        _compose(provider, reason, code, said, target),
        {
            "provider": provider,
            "code": code,
            "status": status,
            "request_id": metadata.get("RequestId"),
            "provider_message": said,
            "target": target,
        },
        type=code,
        non_retryable=True,
    )


def _botocore_error(
    error: BotoCoreError, provider: str, target: str | None
) -> ApplicationError | None:
    for kind, reason in _TERMINAL_BOTOCORE.items():
        if isinstance(error, kind):
            name = type(error).__name__
            return ApplicationError(
                _compose(f"the model client for {provider}", reason, name, str(error), target),
                {"provider": provider, "code": name, "provider_message": str(error)},
                type=name,
                non_retryable=True,
            )
    return None


def _openai_said(error: Any) -> str:
    """The provider's own message: ``{"error": {"message": ...}}`` bodies are unwrapped by the
    client into ``body``; anything else falls back to the client's message."""
    body = getattr(error, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
        if isinstance(inner, str) and inner:
            return inner
    if isinstance(body, str) and body.strip():
        return body
    return str(getattr(error, "message", "") or error)


def _openai_error(error: Exception, provider: str, target: str | None) -> ApplicationError | None:
    # Only an error from the openai package can be one of its exceptions, and if that package
    # was never imported there is none: importing it here would cost ~0.4 s for nothing.
    if "openai" not in sys.modules:
        return None
    import openai

    if not isinstance(error, openai.OpenAIError):
        return None
    name = type(error).__name__
    if isinstance(error, openai.APIStatusError):
        status = error.status_code
        if status >= 500 or status in RETRYABLE_CLIENT_STATUSES:
            return None
        reason = _TERMINAL_HTTP_REASONS.get(status, f"refused the request (HTTP {status})")
        said = _openai_said(error)
        return ApplicationError(
            _compose(provider, reason, f"{status} {name}", said, target),
            {
                "provider": provider,
                "code": error.code,
                "status": status,
                "request_id": error.request_id,
                "provider_message": said,
                "target": target,
            },
            type=name,
            non_retryable=True,
        )
    if isinstance(error, openai.APIError):
        # Connection failures, timeouts, unreadable responses, errors sent mid-stream.
        return None
    return ApplicationError(
        _compose(f"the model client for {provider}", "is misconfigured", name, str(error), target),
        {"provider": provider, "code": name, "provider_message": str(error)},
        type=name,
        non_retryable=True,
    )


def terminal_error(
    error: BaseException, *, provider: str, target: str | None = None
) -> ApplicationError | None:
    """The non-retryable ``ApplicationError`` to raise for ``error``, or ``None`` to retry it.

    ``provider`` names the service in the message ("Amazon Bedrock"); ``target`` says which
    model (and region or endpoint) the request went to.
    """
    if isinstance(error, ApplicationError) or not isinstance(error, Exception):
        return None
    if isinstance(error, ClientError):
        return _client_error(error, provider, target)
    if isinstance(error, BotoCoreError):
        return _botocore_error(error, provider, target)
    return _openai_error(error, provider, target)


async def _close(events: AsyncIterable[Any]) -> None:
    """Close the wrapped stream when the consumer stops early, so the provider cleans up now."""
    aclose = getattr(events, "aclose", None)
    if aclose is not None:
        await aclose()


def is_retryable(error: BaseException) -> bool:
    """Whether Temporal should retry a model call that failed with ``error``."""
    if isinstance(error, ApplicationError):
        return not error.non_retryable
    return terminal_error(error, provider="provider") is None


class ClassifiedModel(Model):
    """A Strands ``Model`` whose terminal errors end the turn instead of being retried.

    Delegates everything to ``inner``; see the module docstring for the classification.
    """

    def __init__(self, inner: Model, *, provider: str, target: str | None = None) -> None:
        """Wrap ``inner``; ``provider`` and ``target`` name the service and model in messages."""
        self._inner = inner
        self.provider = provider
        self.target = target
        self._supports_structured_output = inner._supports_structured_output

    @property
    def inner(self) -> Model:
        """The wrapped provider model."""
        return self._inner

    @property
    def stateful(self) -> bool:
        """Whether the wrapped model keeps conversation state server-side."""
        return self._inner.stateful

    def update_config(self, **model_config: Any) -> None:
        """Update the wrapped model's configuration."""
        self._inner.update_config(**model_config)

    def get_config(self) -> Any:
        """The wrapped model's configuration."""
        return self._inner.get_config()

    def _classify(self, error: Exception) -> None:
        """Raise the non-retryable form of ``error`` if it has one; else return."""
        terminal = terminal_error(error, provider=self.provider, target=self.target)
        if terminal is None:
            return
        logger.warning("model call failed, not retrying: %s", terminal.message, exc_info=error)
        # Not chained: the session shows the innermost cause's message, which must be ours.
        # The original is logged above and summarised in the error's details.
        raise terminal from None

    async def stream(
        self,
        messages: Messages,
        tool_specs: list[ToolSpec] | None = None,
        system_prompt: str | None = None,
        **kwargs: Any,
    ) -> AsyncGenerator[StreamEvent, None]:
        """Stream from the wrapped model, classifying any error it raises."""
        events = self._inner.stream(messages, tool_specs, system_prompt, **kwargs)
        try:
            async for event in events:
                yield event
        except Exception as error:
            self._classify(error)
            raise
        finally:
            await _close(events)

    async def structured_output(
        self,
        output_model: type[T],
        prompt: Messages,
        system_prompt: str | None = None,
        **kwargs: Any,
    ) -> AsyncGenerator[dict[str, T | Any], None]:
        """Structured output from the wrapped model, classifying any error it raises."""
        events = self._inner.structured_output(output_model, prompt, system_prompt, **kwargs)
        try:
            async for event in events:
                yield event
        except Exception as error:
            self._classify(error)
            raise
        finally:
            await events.aclose()

    async def count_tokens(
        self,
        messages: Messages,
        tool_specs: list[ToolSpec] | None = None,
        system_prompt: str | None = None,
        system_prompt_content: list[SystemContentBlock] | None = None,
    ) -> int:
        """The wrapped model's token estimate."""
        return await self._inner.count_tokens(
            messages, tool_specs, system_prompt, system_prompt_content
        )


def classified(model: Model, *, provider: str, target: str | None = None) -> ClassifiedModel:
    """Wrap ``model`` so its terminal errors are non-retryable (see :class:`ClassifiedModel`)."""
    return ClassifiedModel(model, provider=provider, target=target)
