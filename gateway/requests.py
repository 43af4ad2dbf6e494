"""Reading requests: the ``POST /invocations`` body, headers and query numbers, strictly."""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bedrock_agentcore.runtime.models import SESSION_HEADER
from starlette.types import Receive, Scope

from gateway.errors import GatewayError
from models import InvalidIdError, Refusal, SessionConfig, validate_id
from models.limits import InvalidJsonError, loads_strict, parse_count

log = logging.getLogger("convoflow.gateway")

INVOCATIONS = "/invocations"
SESSIONS = "/sessions"
SESSIONS_PREFIX = "/sessions/"
INVOCATION_FIELDS = {"prompt", "message_id", "stream", "session_id", "agent"}
MAX_HISTORY_LIMIT = 1000
MAX_REMEMBERED_OWNERS = 100_000
INSECURE_BANNER = (
    "\n"
    "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
    "!!  INSECURE DEV MODE: no tokens are checked. Every request acts as      !!\n"
    "!!  tenant {tenant!r}, user {user!r}. Never expose this gateway to others.\n"
    "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
)


@dataclass(frozen=True)
class ResumeAnswer:
    """An answer to approval request ``request_id`` of the turn of ``message_id`` (an AG-UI
    resume entry: :mod:`webui.interrupts`)."""

    message_id: str
    request_id: str
    approved: bool
    message: str | None = None


@dataclass(frozen=True)
class Invocation:
    """A validated ``POST /invocations`` body (or AG-UI run: ``resume`` answers approvals
    instead of sending a prompt)."""

    session_id: str
    prompt: str
    message_id: str | None = None
    stream: bool = False
    agent: str | None = None
    resume: tuple[ResumeAnswer, ...] = ()


def parse_invocation(
    payload: Any, header_session_id: str | None, max_prompt_chars: int
) -> Invocation:
    """Validate an invocation body; raise :class:`GatewayError` (400/413) saying what is wrong.

    Tenant and user never come from the body: fields naming them are refused.
    """
    if not isinstance(payload, dict):
        raise GatewayError(400, "InvalidRequest", 'body must be a JSON object like {"prompt": ...}')
    unknown = sorted(set(payload) - INVOCATION_FIELDS)
    if unknown:
        raise GatewayError(
            400,
            "InvalidRequest",
            f"unknown fields {unknown}; allowed: {sorted(INVOCATION_FIELDS)} "
            "(tenant and user come from the token)",
        )
    prompt = payload.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise GatewayError(400, "InvalidRequest", '"prompt" must be a non-empty string')
    if len(prompt) > max_prompt_chars:
        raise GatewayError(
            413, "PromptTooLong", f"prompt has {len(prompt)} characters; at most {max_prompt_chars}"
        )
    body_session = payload.get("session_id")
    if body_session is not None and not isinstance(body_session, str):
        raise GatewayError(400, "InvalidRequest", '"session_id" must be a string')
    if header_session_id and body_session and header_session_id != body_session:
        raise GatewayError(
            400, "InvalidRequest", f"{SESSION_HEADER} header and body session_id differ"
        )
    session_id = header_session_id or body_session
    if not session_id:
        raise GatewayError(
            400, "MissingSession", f"give the session id in the {SESSION_HEADER} header"
        )
    message_id = payload.get("message_id")
    if message_id is not None and not isinstance(message_id, str):
        raise GatewayError(400, "InvalidRequest", '"message_id" must be a string')
    stream = payload.get("stream", False)
    if not isinstance(stream, bool):
        raise GatewayError(400, "InvalidRequest", '"stream" must be true or false')
    agent = payload.get("agent")
    if agent is not None and not isinstance(agent, str):
        raise GatewayError(400, "InvalidRequest", '"agent" must be a string')
    try:
        validate_id("session id", session_id)
        if message_id is not None:
            validate_id("message id", message_id)
    except InvalidIdError as err:
        raise GatewayError(400, "InvalidId", str(err)) from None
    return Invocation(
        session_id=session_id, prompt=prompt, message_id=message_id, stream=stream, agent=agent
    )


def session_config(invocation: Invocation, allowed: list[str]) -> SessionConfig | None:
    """The config a new session opened by ``invocation`` gets: its ``agent`` if it names
    one the gateway allows (:class:`GatewayError` 400 otherwise), else the defaults."""
    if invocation.agent is None:
        return None
    if invocation.agent not in allowed:
        shown = invocation.agent[:64]
        raise GatewayError(
            400,
            Refusal.UNKNOWN_AGENT,
            f"agent {shown!r} is not offered here; agents: {', '.join(allowed) or 'none'}",
        )
    return SessionConfig(agent=invocation.agent)


TurnParser = Callable[[Any, str | None, int], Invocation]
"""Validates a turn's JSON body (payload, session header, max prompt chars) into an Invocation."""


async def read_body(receive: Receive, limit: int) -> bytes:
    """The whole request body, or :class:`GatewayError` 413 once it passes ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise GatewayError(400, "Disconnected", "client went away")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise GatewayError(413, "PayloadTooLarge", f"request body is over {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def header_value(scope: Scope, name: str) -> str | None:
    wanted = name.lower().encode("latin-1")
    for key, value in scope.get("headers", []):
        if key.lower() == wanted:
            return str(value.decode("latin-1"))
    return None


# ------------------------------------------------------------------------ the app


def history_limit(raw: str | None) -> int | None:
    if raw is None:
        return None
    try:
        limit = parse_count(raw)
    except ValueError:
        limit = MAX_HISTORY_LIMIT + 1
    if limit > MAX_HISTORY_LIMIT:
        raise GatewayError(400, "InvalidRequest", f"limit must be 0-{MAX_HISTORY_LIMIT}")
    return limit


def json_body(body: bytes | str) -> Any:
    """A request body parsed strictly; 400 ``InvalidJson`` saying why it is refused."""
    try:
        return loads_strict(body)
    except InvalidJsonError as err:
        raise GatewayError(400, "InvalidJson", f"body is not valid JSON: {err}") from None
