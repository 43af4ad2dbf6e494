"""Steering routes of the gateway: approvals, cancel the running turn, regenerate, fork.

- ``GET /sessions/{id}/approvals``: ``{"session_id", "approvals": [ApprovalRequest]}``, the
  running turn's requests (pending first).
- ``POST /sessions/{id}/approvals/{request_id}`` with ``{"approved": BOOL, "message": "..."}``
  (the message tells the model why not): the answered ``ApprovalRequest``; 404
  ``UnknownApproval`` for a request that does not wait (never asked, or answered already).
- ``POST /sessions/{id}/cancel``: the ``CancelResult`` (``status`` cancelled, finished or
  idle; ``reply`` the partial reply).
- ``POST /sessions/{id}/regenerate``: the new ``ChatReply``.
- ``POST /sessions/{id}/fork`` with ``{"at": SEQ, "to": "NEW"}``: the ``ForkResult``.

The caller is the token's user, passed to the session, which answers anyone but its owner
with "no such session" (404). Bodies are small and strict; nothing is written on bad input.
"""

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from pydantic_core import to_jsonable_python
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.auth import Principal
from gateway.errors import GatewayError, error_for
from models import validate_id
from models.approvals import MAX_DENY_MESSAGE_CHARS

if TYPE_CHECKING:
    from bedrock_agentcore.runtime import BedrockAgentCoreApp

    from gateway.app import Gateway

MAX_STEER_BODY = 4096
FORK_FIELDS = {"at", "to"}
ANSWER_FIELDS = {"approved", "message"}


async def _json_body(request: Request) -> Any:
    """The small JSON body of a steering route, read no further than its limit."""
    too_large = GatewayError(413, "PayloadTooLarge", f"request body is over {MAX_STEER_BODY} bytes")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_STEER_BODY:
            raise too_large
    try:
        return json.loads(body) if body.strip() else {}
    except (ValueError, UnicodeDecodeError) as err:
        raise GatewayError(400, "InvalidJson", f"body is not valid JSON: {err}") from None


def parse_fork(payload: Any) -> tuple[int, str]:
    """``{"at": SEQ, "to": "NEW"}`` -> (seq, new session id), or a 400 saying what is wrong."""
    if not isinstance(payload, dict) or set(payload) != FORK_FIELDS:
        raise GatewayError(400, "InvalidRequest", 'body must be {"at": SEQ, "to": "NEW_ID"}')
    at, to = payload["at"], payload["to"]
    if not isinstance(at, int) or isinstance(at, bool) or at < 0:
        raise GatewayError(400, "InvalidRequest", '"at" must be a message seq (0 or more)')
    if not isinstance(to, str):
        raise GatewayError(400, "InvalidRequest", '"to" must be a session id')
    return at, validate_id("session id", to)


def parse_answer(payload: Any) -> tuple[bool, str | None]:
    """``{"approved": BOOL, "message": "..."}`` -> (approved, message), or a 400."""
    if not isinstance(payload, dict) or "approved" not in payload or set(payload) - ANSWER_FIELDS:
        raise GatewayError(
            400, "InvalidRequest", 'body must be {"approved": true|false, "message": "..."}'
        )
    approved, message = payload["approved"], payload.get("message")
    if not isinstance(approved, bool):
        raise GatewayError(400, "InvalidRequest", '"approved" must be true or false')
    if message is not None and (
        not isinstance(message, str) or len(message) > MAX_DENY_MESSAGE_CHARS
    ):
        raise GatewayError(
            400, "InvalidRequest", f'"message" must be text of at most {MAX_DENY_MESSAGE_CHARS}'
        )
    return approved, message


Action = Callable[[Request, str, Principal], Awaitable[tuple[Any, int]]]


def _route(gateway: "Gateway", action: Action) -> Callable[[Request], Awaitable[Response]]:
    """A steering route: the session id checked, the caller from the token, errors in words."""

    async def route(request: Request) -> Response:
        principal: Principal = request.state.principal
        try:
            session_id = validate_id("session id", request.path_params["session_id"])
            result, status = await action(request, session_id, principal)
        except Exception as err:
            return error_for(err).response()
        return JSONResponse(to_jsonable_python(result), status_code=status)

    return route


def mount_steering(app: "BedrockAgentCoreApp", gateway: "Gateway") -> None:
    """Add the steering routes to the gateway app.

    The client is looked up per request: it connects at startup, after the routes mount.
    """

    async def cancel(request: Request, session_id: str, who: Principal) -> tuple[Any, int]:
        return await gateway.client.cancel(
            session_id, tenant_id=who.tenant_id, user_id=who.user_id
        ), 200

    async def regenerate(request: Request, session_id: str, who: Principal) -> tuple[Any, int]:
        reply = await gateway.client.regenerate(
            session_id, tenant_id=who.tenant_id, user_id=who.user_id
        )
        return reply, 200

    async def fork(request: Request, session_id: str, who: Principal) -> tuple[Any, int]:
        at, to = parse_fork(await _json_body(request))
        result = await gateway.client.fork(
            session_id, at, to, tenant_id=who.tenant_id, user_id=who.user_id
        )
        return result, 201

    async def approvals(request: Request, session_id: str, who: Principal) -> tuple[Any, int]:
        listed = await gateway.client.approvals(
            session_id, tenant_id=who.tenant_id, user_id=who.user_id
        )
        return {"session_id": session_id, "approvals": listed}, 200

    async def answer(request: Request, session_id: str, who: Principal) -> tuple[Any, int]:
        request_id = validate_id("approval request id", request.path_params["request_id"])
        approved, message = parse_answer(await _json_body(request))
        if approved:
            done = await gateway.client.approve(
                session_id, request_id, tenant_id=who.tenant_id, user_id=who.user_id
            )
        else:
            done = await gateway.client.deny(
                session_id,
                request_id,
                message=message,
                tenant_id=who.tenant_id,
                user_id=who.user_id,
            )
        return done, 200

    sessions = "/sessions/{session_id}"
    app.add_route(f"{sessions}/cancel", _route(gateway, cancel), methods=["POST"])
    app.add_route(f"{sessions}/regenerate", _route(gateway, regenerate), methods=["POST"])
    app.add_route(f"{sessions}/fork", _route(gateway, fork), methods=["POST"])
    app.add_route(f"{sessions}/approvals", _route(gateway, approvals), methods=["GET"])
    app.add_route(f"{sessions}/approvals/{{request_id}}", _route(gateway, answer), methods=["POST"])
