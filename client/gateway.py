"""The HTTP gateway: Convoflow sessions behind the Amazon Bedrock AgentCore Runtime contract.

The app is a :class:`bedrock_agentcore.runtime.BedrockAgentCoreApp` (a Starlette app), so the
same code deploys to AgentCore Runtime and runs locally (``convoflow gateway``, port 8080):

- ``POST /invocations`` with ``{"prompt": "...", "message_id"?: "...", "stream"?: true}``; the
  session id comes from the ``X-Amzn-Bedrock-AgentCore-Runtime-Session-Id`` header (or
  ``session_id`` in the body, for local use). Without ``stream`` the answer is one JSON
  object (the ``ChatReply``); with it, Server-Sent Events: ``{"type": "delta", "text": ...}``
  as the reply is produced (``{"type": "restart"}`` if a retried model attempt starts over:
  drop the text so far), then ``{"type": "done", "reply": ..., "message_id": ...}`` or
  ``{"type": "error", "code": ..., "message": ...}``.
- ``GET /ping``: ``Healthy``, or ``HealthyBusy`` while turns are in progress.
- ``GET /sessions/{id}/history[?limit=N]`` and ``GET /sessions/{id}/status`` for UIs.

Who is calling comes only from a verified bearer token (:mod:`client.auth`): its tenant
picks the workflow id (``convoflow:{tenant}:{session}``) and its user is passed to every
update and query, so the session workflow refuses anyone but the owner ("no such session").

Before anything reaches Temporal, :class:`GuardMiddleware` answers 401 (no valid token),
429 (per-user token bucket, with ``Retry-After``), 413 (body or prompt too large), 400
(malformed JSON or fields) and 409 (the session already has its running turn and a full
queue). Errors are ``{"error": {"code": ..., "message": ...}}`` with a matching status.
"""

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from bedrock_agentcore.runtime import BedrockAgentCoreApp, PingStatus, RequestContext
from bedrock_agentcore.runtime.models import SESSION_HEADER
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.client import WorkflowExecutionStatus, WorkflowUpdateHandle
from temporalio.service import RPCError, RPCStatusCode

from client.auth import AuthError, Principal, TokenVerifier, bearer_token, verifier_from_settings
from client.errors import (
    ConvoflowError,
    MessageRejectedError,
    SessionNotFoundError,
    TurnFailedError,
)
from client.limits import RateLimiter, TurnGate, retry_after_header
from client.session_client import SessionClient
from client.streaming import Delta, StreamRestart
from models import ChatReply, InvalidIdError, validate_id
from models import search_attributes as sa
from models.settings import Settings

log = logging.getLogger("convoflow.gateway")

INVOCATIONS = "/invocations"
SESSIONS = "/sessions"
SESSIONS_PREFIX = "/sessions/"
INVOCATION_FIELDS = {"prompt", "message_id", "stream", "session_id"}
MAX_HISTORY_LIMIT = 1000
MAX_REMEMBERED_OWNERS = 100_000
INSECURE_BANNER = (
    "\n"
    "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
    "!!  INSECURE DEV MODE: no tokens are checked. Every request acts as      !!\n"
    "!!  tenant {tenant!r}, user {user!r}. Never expose this gateway to others.\n"
    "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
)


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


def error_for(err: BaseException) -> GatewayError:
    """The HTTP answer for an error raised while serving a request."""
    if isinstance(err, GatewayError):
        return err
    if isinstance(err, InvalidIdError):
        return GatewayError(400, "InvalidId", str(err))
    if isinstance(err, SessionNotFoundError):
        # The same words whether the session does not exist or belongs to someone else.
        return GatewayError(404, "SessionNotFound", "no such session")
    if isinstance(err, MessageRejectedError):
        status = {"InvalidMessage": 400, "UnknownMessage": 404}.get(err.kind, 409)
        return GatewayError(status, err.kind, str(err))
    if isinstance(err, TurnFailedError):
        return GatewayError(502, "TurnFailed", str(err))
    if isinstance(err, ConvoflowError):
        return GatewayError(503, "Unavailable", str(err))
    if isinstance(err, RPCError):
        return GatewayError(503, "TemporalUnavailable", "Temporal is not reachable; try again")
    log.error("unexpected error serving a request", exc_info=err)
    return GatewayError(500, "InternalError", "internal error")


# ------------------------------------------------------------------------ requests


@dataclass(frozen=True)
class Invocation:
    """A validated ``POST /invocations`` body."""

    session_id: str
    prompt: str
    message_id: str | None = None
    stream: bool = False


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
    try:
        validate_id("session id", session_id)
        if message_id is not None:
            validate_id("message id", message_id)
    except InvalidIdError as err:
        raise GatewayError(400, "InvalidId", str(err)) from None
    return Invocation(session_id=session_id, prompt=prompt, message_id=message_id, stream=stream)


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


def _header(scope: Scope, name: str) -> str | None:
    wanted = name.lower().encode("latin-1")
    for key, value in scope.get("headers", []):
        if key.lower() == wanted:
            return str(value.decode("latin-1"))
    return None


# ------------------------------------------------------------------------ the app


@dataclass
class Gateway:
    """State shared by the middleware and the handlers of one gateway app."""

    settings: Settings
    verifier: TokenVerifier | None
    insecure_principal: Principal | None = None
    sessions: SessionClient | None = None
    limiter: RateLimiter = field(init=False)
    gate: TurnGate = field(init=False)
    # Routes that start a turn: path -> parser of its body (the web UI adds /ag-ui).
    turn_parsers: dict[str, TurnParser] = field(init=False)
    # Other protected paths (guarded for auth and rate only), HTTP or WebSocket.
    guarded_paths: set[str] = field(init=False)
    # (tenant, session, user) seen owning a session; touched only on the handler loop.
    _owners: set[tuple[str, str, str]] = field(init=False, default_factory=set)

    def __post_init__(self) -> None:
        """Build the limits from the settings."""
        self.limiter = RateLimiter(self.settings.gateway_rate_per_user, self.settings.gateway_burst)
        self.gate = TurnGate(self.settings.gateway_queue_depth)
        self.turn_parsers = {INVOCATIONS: parse_invocation}
        self.guarded_paths = {SESSIONS}

    def guards(self, path: str) -> bool:
        """Whether ``path`` needs a caller (token, rate limit) before it is served."""
        return (
            path in self.turn_parsers
            or path in self.guarded_paths
            or (path.startswith(SESSIONS_PREFIX))
        )

    @property
    def client(self) -> SessionClient:
        """The connected SessionClient (connected at startup)."""
        if self.sessions is None:
            raise GatewayError(503, "Unavailable", "gateway is starting")
        return self.sessions

    async def authenticate(self, scope: Scope) -> Principal:
        """The caller, from a verified bearer token (or the fixed insecure-dev identity)."""
        if self.insecure_principal is not None:
            return self.insecure_principal
        assert self.verifier is not None
        try:
            token = bearer_token(_header(scope, "authorization"))
            if self.verifier.fetches_keys:
                return await asyncio.to_thread(self.verifier.verify, token)
            return self.verifier.verify(token)
        except AuthError as err:
            raise GatewayError(
                401, "Unauthorized", str(err), {"WWW-Authenticate": 'Bearer error="invalid_token"'}
            ) from None

    def throttle(self, principal: Principal) -> None:
        """Spend one of the caller's request tokens, or raise 429 with ``Retry-After``."""
        wait = self.limiter.take(principal.key)
        if wait is not None:
            raise GatewayError(
                429,
                "RateLimited",
                f"too many requests; retry in {wait:.1f}s",
                {"Retry-After": retry_after_header(wait)},
            )

    async def check_reuse(self, principal: Principal, session_id: str) -> None:
        """Refuse to reopen a finished session that belonged to someone else.

        A send to a finished session starts a new run owned by the sender, and a new run
        restores the session's last messages from memory: without this check another user
        of the tenant could reopen someone's ended session and read its restored messages.
        Running sessions check the caller themselves. Verified owners are remembered.
        """
        key = (principal.tenant_id, session_id, principal.user_id)
        if key in self._owners:
            return
        client = self.client
        try:
            description = await client.handle(session_id, principal.tenant_id).describe()
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                return  # a new session
            raise
        if description.status == WorkflowExecutionStatus.RUNNING:
            return
        owner = description.typed_search_attributes.get(sa.USER)
        if owner is None:
            # No search attribute (ownerless, or attributes off): ask the last run itself.
            await client.status(
                session_id, tenant_id=principal.tenant_id, user_id=principal.user_id
            )
        elif owner != principal.user_id:
            raise SessionNotFoundError("no such session")

    def remember_owner(self, principal: Principal, session_id: str) -> None:
        """``principal`` had a turn accepted in ``session_id``: it owns that session."""
        if len(self._owners) >= MAX_REMEMBERED_OWNERS:
            self._owners.clear()
        self._owners.add((principal.tenant_id, session_id, principal.user_id))

    def ping(self) -> PingStatus:
        """HealthyBusy while any turn is in progress (AgentCore keeps the session alive)."""
        return PingStatus.HEALTHY_BUSY if self.gate.in_progress() else PingStatus.HEALTHY


class GuardMiddleware:
    """Admission for protected routes: auth, rate limit, body size, JSON, turns per session.

    Runs before the AgentCore app reads anything, so a refused request never reaches
    Temporal. The verified principal and the parsed invocation are left in the request
    state (``request.state.principal`` / ``.invocation``) for the handlers.
    """

    def __init__(self, app: ASGIApp, gateway: Gateway) -> None:
        """Wrap ``app``."""
        self.app = app
        self.gateway = gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Admit or refuse one request."""
        path = scope.get("path", "")
        if scope["type"] not in ("http", "websocket") or not self.gateway.guards(path):
            await self.app(scope, receive, send)
            return
        gateway = self.gateway
        if scope["type"] == "websocket":
            receive = await _connected(receive)
        if gateway.insecure_principal is not None:
            send = _with_header(send, b"x-convoflow-insecure-dev", b"true")
        turn_key: str | None = None
        try:
            principal = await gateway.authenticate(scope)
            gateway.throttle(principal)
            state = scope.setdefault("state", {})
            state["principal"] = principal
            parser = gateway.turn_parsers.get(path)
            if parser is not None and scope["type"] == "http" and scope.get("method") == "POST":
                receive, invocation = await self._admit_invocation(scope, receive, parser)
                state["invocation"] = invocation
                key = f"{principal.tenant_id}:{invocation.session_id}"
                if not gateway.gate.enter(key):
                    raise GatewayError(
                        409,
                        "SessionBusy",
                        f"session already has {gateway.gate.limit} turns in progress; "
                        "wait for a reply and try again",
                    )
                turn_key = key
        except GatewayError as err:
            await err.response()(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            if turn_key is not None:
                gateway.gate.leave(turn_key)

    async def _admit_invocation(
        self, scope: Scope, receive: Receive, parser: "TurnParser"
    ) -> tuple[Receive, Invocation]:
        """Read and check the body; return a ``receive`` that replays it, and the invocation."""
        settings = self.gateway.settings
        limit = settings.gateway_max_body_bytes
        length = _header(scope, "content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            raise GatewayError(413, "PayloadTooLarge", f"request body is over {limit} bytes")
        body = await read_body(receive, limit)
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError) as err:
            raise GatewayError(400, "InvalidJson", f"body is not valid JSON: {err}") from None
        header_session = _header(scope, SESSION_HEADER)
        invocation = parser(payload, header_session, settings.gateway_max_prompt_chars)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return replay, invocation


async def _connected(receive: Receive) -> Receive:
    """Take a WebSocket's ``websocket.connect`` (so a refusal can answer the handshake with an
    HTTP status) and return a ``receive`` that replays it to the app."""
    first = await receive()
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return first
        return await receive()

    return replay


def _with_header(send: Send, name: bytes, value: bytes) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), (name, value)]}
        await send(message)

    return wrapped


class _TurnSessions(SessionClient):
    """A per-request view of the gateway's SessionClient that notes when the session
    accepted the message (its update validator passed), so a streamed turn answers a
    refusal with an HTTP status and starts the event stream only once it is accepted."""

    def __init__(self, base: SessionClient) -> None:
        super().__init__(base.temporal, base.settings)
        self.accepted = asyncio.Event()

    async def _start_turn(self, *args: Any, **kwargs: Any) -> WorkflowUpdateHandle[ChatReply]:
        handle = await super()._start_turn(*args, **kwargs)
        # A refused update comes back already completed (its failure is the outcome); only
        # an update still running was accepted. (temporalio keeps that outcome privately;
        # if it ever goes, refusals arrive as an error event instead of a status.)
        if getattr(handle, "_known_outcome", None) is None:
            self.accepted.set()
        return handle


def _event(item: Delta | StreamRestart | ChatReply) -> dict[str, Any]:
    if isinstance(item, ChatReply):
        return {"type": "done", **item.model_dump(mode="json")}
    if isinstance(item, StreamRestart):
        return {"type": "restart"}
    return {"type": "delta", "text": str(item)}


async def _events(
    first: "asyncio.Future[Delta | StreamRestart | ChatReply]",
    items: AsyncIterator[Delta | StreamRestart | ChatReply],
) -> AsyncIterator[dict[str, Any]]:
    """The SSE payloads of a streamed turn; a failure ends the stream with an error event."""
    try:
        yield _event(await first)
        async for item in items:
            yield _event(item)
    except Exception as err:
        yield error_for(err).event()
    finally:
        with contextlib.suppress(Exception):
            await items.aclose()  # type: ignore[attr-defined]


def _state(context: RequestContext) -> tuple[Principal, Invocation]:
    request = context.request
    if not isinstance(request, Request):
        raise GatewayError(500, "InternalError", "no request in the invocation context")
    return request.state.principal, request.state.invocation


def build_gateway(
    settings: Settings,
    *,
    sessions: SessionClient | None = None,
    insecure_dev: bool = False,
    verifier: TokenVerifier | None = None,
    log_requests: bool = False,
) -> BedrockAgentCoreApp:
    """The gateway app. Without ``sessions`` it connects to Temporal at startup.

    The AgentCore app logs one JSON line per request; with ``log_requests`` false only its
    warnings (error responses) are kept.

    Raises :class:`client.auth.AuthConfigError` when tokens cannot be verified and
    ``insecure_dev`` is not set.
    """
    insecure_principal = None
    if insecure_dev:
        insecure_principal = Principal(
            tenant_id=validate_id("tenant id", settings.tenant),
            user_id=validate_id("user id", settings.user or "dev"),
        )
        verifier = None
    elif verifier is None:
        verifier = verifier_from_settings(settings)
    gateway = Gateway(settings, verifier, insecure_principal, sessions)

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        if gateway.sessions is None:
            gateway.sessions = await SessionClient.connect(settings)
        if insecure_principal is not None:
            log.warning(
                INSECURE_BANNER.format(
                    tenant=insecure_principal.tenant_id, user=insecure_principal.user_id
                )
            )
        yield

    app = BedrockAgentCoreApp(
        lifespan=lifespan, middleware=[Middleware(GuardMiddleware, gateway=gateway)]
    )
    app.state.gateway = gateway
    app.logger.setLevel(logging.INFO if log_requests else logging.WARNING)
    app.logger.propagate = False  # it has its own JSON handler
    app.ping(gateway.ping)

    @app.entrypoint
    async def invoke(payload: Any, context: RequestContext) -> Any:
        """One turn: a JSON reply, or (``stream``) an async generator of SSE payloads."""
        try:
            principal, invocation = _state(context)
            await gateway.check_reuse(principal, invocation.session_id)
            if invocation.stream:
                return await _start_stream(gateway, principal, invocation)
            reply = await gateway.client.send(
                invocation.session_id,
                invocation.prompt,
                tenant_id=principal.tenant_id,
                user_id=principal.user_id,
                message_id=invocation.message_id,
            )
            gateway.remember_owner(principal, invocation.session_id)
            return JSONResponse(reply.model_dump(mode="json"))
        except Exception as err:
            return error_for(err).response()

    async def history(request: Request) -> Response:
        principal: Principal = request.state.principal
        try:
            limit = _limit(request.query_params.get("limit"))
            session_id = validate_id("session id", request.path_params["session_id"])
            messages = await gateway.client.history(
                session_id, tenant_id=principal.tenant_id, limit=limit, user_id=principal.user_id
            )
        except Exception as err:
            return error_for(err).response()
        return JSONResponse(
            {
                "session_id": session_id,
                "messages": [message.model_dump(mode="json") for message in messages],
            }
        )

    async def status(request: Request) -> Response:
        principal: Principal = request.state.principal
        try:
            session_id = validate_id("session id", request.path_params["session_id"])
            found = await gateway.client.status(
                session_id, tenant_id=principal.tenant_id, user_id=principal.user_id
            )
        except Exception as err:
            return error_for(err).response()
        return JSONResponse(found.model_dump(mode="json"))

    app.add_route("/sessions/{session_id}/history", history, methods=["GET"])
    app.add_route("/sessions/{session_id}/status", status, methods=["GET"])
    from webui.routes import mount_web_ui  # the chat page and AG-UI (it imports this module)

    mount_web_ui(app, gateway)
    return app


def _limit(raw: str | None) -> int | None:
    if raw is None:
        return None
    if not raw.isdigit() or int(raw) > MAX_HISTORY_LIMIT:
        raise GatewayError(400, "InvalidRequest", f"limit must be 0-{MAX_HISTORY_LIMIT}")
    return int(raw)


async def _start_stream(
    gateway: Gateway, principal: Principal, invocation: Invocation
) -> AsyncIterator[dict[str, Any]] | Response:
    """Start a streamed turn; a refusal before acceptance is an ordinary error response."""
    turn = _TurnSessions(gateway.client)
    items = turn.stream(
        invocation.session_id,
        invocation.prompt,
        tenant_id=principal.tenant_id,
        user_id=principal.user_id,
        message_id=invocation.message_id,
    ).__aiter__()
    first: asyncio.Future[Delta | StreamRestart | ChatReply] = asyncio.ensure_future(_next(items))
    accepted = asyncio.ensure_future(turn.accepted.wait())
    waiting: set[asyncio.Future[Any]] = {first, accepted}
    try:
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
    finally:
        accepted.cancel()
    if first.done() and first.exception() is not None:
        error = first.exception()
        with contextlib.suppress(Exception):
            await items.aclose()  # type: ignore[attr-defined]
        assert error is not None
        return error_for(error).response()
    gateway.remember_owner(principal, invocation.session_id)
    return _events(first, items)


async def _next(
    items: AsyncIterator[Delta | StreamRestart | ChatReply],
) -> Delta | StreamRestart | ChatReply:
    return await items.__anext__()


# ------------------------------------------------------------------------ serving


async def _start(server: uvicorn.Server) -> tuple["asyncio.Task[None]", str]:
    """Start ``server``; return its task and base URL once it listens."""
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            await task  # raises why it could not start
            raise RuntimeError("the gateway did not start (see the log above)")
        await asyncio.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    return task, f"http://{server.config.host}:{port}"


def _server(app: ASGIApp, host: str, port: int) -> uvicorn.Server:
    return uvicorn.Server(
        uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
    )


@contextlib.asynccontextmanager
async def serving(app: ASGIApp, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn for the ``async with`` block; yield its base URL.

    ``port=0`` picks a free port.
    """
    server = _server(app, host, port)
    task, url = await _start(server)
    try:
        yield url
    finally:
        server.should_exit = True
        await task


async def serve_gateway(
    settings: Settings,
    *,
    insecure_dev: bool = False,
    ready: Callable[[str], None] | None = None,
    log_requests: bool = False,
) -> None:
    """Run the gateway until SIGINT/SIGTERM (uvicorn handles the signals).

    ``ready`` is called with the base URL once it listens.
    """
    app = build_gateway(settings, insecure_dev=insecure_dev, log_requests=log_requests)
    # Connect before listening, so an unreachable Temporal is a plain error, not a traceback.
    app.state.gateway.sessions = await SessionClient.connect(settings)
    task, url = await _start(_server(app, settings.gateway_host, settings.gateway_port))
    if ready is not None:
        ready(url)
    await task
