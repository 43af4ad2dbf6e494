"""The HTTP gateway: Convoflow sessions behind the Amazon Bedrock AgentCore Runtime contract.

The app is a :class:`bedrock_agentcore.runtime.BedrockAgentCoreApp` (a Starlette app), so the
same code deploys to AgentCore Runtime and runs locally (``convoflow gateway``, port 8080):

- ``POST /invocations`` with ``{"prompt": "...", "message_id"?: "...", "stream"?: true,
  "agent"?: "..."}`` (an agent from ``CONVOFLOW_GATEWAY_AGENTS``, for a new session); the
  session id comes from the ``X-Amzn-Bedrock-AgentCore-Runtime-Session-Id`` header (or
  ``session_id`` in the body, for local use). Without ``stream`` the answer is one JSON
  object (the ``ChatReply``); with it, Server-Sent Events: ``{"type": "delta", "text": ...}``
  as the reply is produced (``{"type": "restart"}`` if a retried model attempt starts over:
  drop the text so far), ``{"type": "tool_start", "tool_use_id", "name", "input"}`` and
  ``{"type": "tool_end", "tool_use_id", "name", "status", "result"}`` around each tool call
  of the agent, ``{"type": "approval_required", "request": {...}}`` when a call waits for
  approval (answered with ``POST /sessions/{id}/approvals/{request_id}``) and
  ``{"type": "approval_answered", "request": {...}}``, then ``{"type": "done", "reply": ...,
  "message_id": ...}`` or
  ``{"type": "error", "code": ..., "message": ...}``.
- ``GET /ping``: ``Healthy``, or ``HealthyBusy`` while turns are in progress.
- ``GET /sessions/{id}/history[?limit=N]`` and ``GET /sessions/{id}/status`` for UIs;
  ``GET /sessions/{id}/approvals``, ``POST /sessions/{id}/approvals/{request_id}`` and
  ``POST /sessions/{id}/cancel|regenerate|fork`` to steer (:mod:`gateway.steering`).

Who is calling comes only from a verified bearer token (:mod:`gateway.auth`): its tenant
picks the workflow id (``convoflow:{tenant}:{session}``) and its user is passed to every
update and query, so the session workflow refuses anyone but the owner ("no such session").

Before anything reaches Temporal, :class:`GuardMiddleware` answers 401 (no valid token),
429 (per-user token bucket, with ``Retry-After``), 413 (body or prompt too large), 400
(malformed JSON or fields) and 409 (the session already has its running turn and a full
queue). Errors are ``{"error": {"code": ..., "message": ...}}`` with a matching status."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from bedrock_agentcore.runtime import BedrockAgentCoreApp, PingStatus, RequestContext
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Scope
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from client.errors import (
    SessionNotFoundError,
)
from client.session_client import SessionClient
from gateway.auth import AuthError, Principal, TokenVerifier, bearer_token, verifier_from_settings
from gateway.errors import GatewayError, error_for
from gateway.limits import RateLimiter, TurnGate, retry_after_header
from gateway.middleware import GuardMiddleware
from gateway.requests import (
    INSECURE_BANNER,
    INVOCATIONS,
    MAX_REMEMBERED_OWNERS,
    SESSIONS,
    SESSIONS_PREFIX,
    Invocation,
    TurnParser,
    header_value,
    history_limit,
    parse_invocation,
    session_config,
)
from gateway.steering import mount_steering
from gateway.streaming import start_stream
from models import search_attributes as sa
from models import validate_id
from models.settings import Settings
from worker.lifecycle import serve_until_stopped
from worker.tracing import SpanKind, turn_span

log = logging.getLogger("convoflow.gateway")


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
        self.limiter = RateLimiter(
            self.settings.gateway.gateway_rate_per_user, self.settings.gateway.gateway_burst
        )
        self.gate = TurnGate(self.settings.gateway.gateway_queue_depth)
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
            token = bearer_token(header_value(scope, "authorization"))
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

    Raises :class:`gateway.auth.AuthConfigError` when tokens cannot be verified and
    ``insecure_dev`` is not set.
    """
    insecure_principal = None
    if insecure_dev:
        insecure_principal = Principal(
            tenant_id=validate_id("tenant id", settings.cli.tenant),
            user_id=validate_id("user id", settings.cli.user or "dev"),
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
        except Exception as err:
            return error_for(err).response()
        # The request's span (continuing a caller's W3C trace): the turn's trace root.
        headers = dict(context.request.headers) if context.request is not None else {}
        with turn_span(
            "POST /invocations",
            principal.tenant_id,
            invocation.session_id,
            invocation.message_id,
            kind=SpanKind.SERVER,
            carrier=headers,
        ):
            try:
                config = session_config(invocation, settings.gateway.gateway_agents)
                await gateway.check_reuse(principal, invocation.session_id)
                if invocation.stream:
                    return await start_stream(gateway, principal, invocation)
                reply = await gateway.client.send(
                    invocation.session_id,
                    invocation.prompt,
                    tenant_id=principal.tenant_id,
                    user_id=principal.user_id,
                    message_id=invocation.message_id,
                    config=config,
                )
                gateway.remember_owner(principal, invocation.session_id)
                return JSONResponse(reply.model_dump(mode="json"))
            except Exception as err:
                return error_for(err).response()

    async def history(request: Request) -> Response:
        principal: Principal = request.state.principal
        try:
            limit = history_limit(request.query_params.get("limit"))
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
    mount_steering(app, gateway)  # cancel, regenerate, fork
    from webui.routes import mount_web_ui  # the chat page and AG-UI (it imports this module)

    mount_web_ui(app, gateway)
    return app


# ------------------------------------------------------------------------ serving


async def serve_gateway(
    settings: Settings,
    *,
    insecure_dev: bool = False,
    ready: Callable[[str], None] | None = None,
    log_requests: bool = False,
) -> None:
    """Run the gateway until SIGINT/SIGTERM, then stop gracefully.

    ``ready`` is called with the base URL once it listens.
    """
    app = build_gateway(settings, insecure_dev=insecure_dev, log_requests=log_requests)
    # Connect before listening, so an unreachable Temporal is a plain error, not a traceback.
    app.state.gateway.sessions = await SessionClient.connect(settings)
    await serve_until_stopped(
        app, settings.gateway.gateway_host, settings.gateway.gateway_port, ready=ready
    )
