"""Admission for protected routes, before anything reaches Temporal."""

import logging
from typing import TYPE_CHECKING

from bedrock_agentcore.runtime.models import SESSION_HEADER
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.errors import GatewayError
from gateway.requests import Invocation, TurnParser, header_value, json_body, read_body
from models.limits import too_long

if TYPE_CHECKING:
    from gateway.app import Gateway

log = logging.getLogger("convoflow.gateway")


class GuardMiddleware:
    """Admission for protected routes: auth, rate limit, body size, JSON, turns per session.

    Runs before the AgentCore app reads anything, so a refused request never reaches
    Temporal. The verified principal and the parsed invocation are left in the request
    state (``request.state.principal`` / ``.invocation``) for the handlers.
    """

    def __init__(self, app: ASGIApp, gateway: "Gateway") -> None:
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
        limit = settings.gateway.gateway_max_body_bytes
        length = header_value(scope, "content-length")
        if too_long(length, limit):
            raise GatewayError(413, "PayloadTooLarge", f"request body is over {limit} bytes")
        body = await read_body(receive, limit)
        payload = json_body(body)
        header_session = header_value(scope, SESSION_HEADER)
        invocation = parser(payload, header_session, settings.gateway.gateway_max_prompt_chars)
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
