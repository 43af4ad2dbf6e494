"""Steering routes of the gateway: cancel the running turn, regenerate, fork.

- ``POST /sessions/{id}/cancel``: the ``CancelResult`` (``status`` cancelled, finished or
  idle; ``reply`` the partial reply).
- ``POST /sessions/{id}/regenerate``: the new ``ChatReply``.
- ``POST /sessions/{id}/fork`` with ``{"at": SEQ, "to": "NEW"}``: the ``ForkResult``.

The caller is the token's user, passed to the session, which answers anyone but its owner
with "no such session" (404). Bodies are small and strict; nothing is written on bad input.
"""

import json
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.auth import Principal
from gateway.errors import GatewayError, error_for
from models import validate_id

if TYPE_CHECKING:
    from bedrock_agentcore.runtime import BedrockAgentCoreApp

    from gateway.app import Gateway

MAX_STEER_BODY = 1024
FORK_FIELDS = {"at", "to"}


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


def mount_steering(app: "BedrockAgentCoreApp", gateway: "Gateway") -> None:
    """Add the steering routes to the gateway app."""

    async def cancel(request: Request) -> Response:
        principal: Principal = request.state.principal
        try:
            session_id = validate_id("session id", request.path_params["session_id"])
            result = await gateway.client.cancel(
                session_id, tenant_id=principal.tenant_id, user_id=principal.user_id
            )
        except Exception as err:
            return error_for(err).response()
        return JSONResponse(result.model_dump(mode="json"))

    async def regenerate(request: Request) -> Response:
        principal: Principal = request.state.principal
        try:
            session_id = validate_id("session id", request.path_params["session_id"])
            reply = await gateway.client.regenerate(
                session_id, tenant_id=principal.tenant_id, user_id=principal.user_id
            )
        except Exception as err:
            return error_for(err).response()
        return JSONResponse(reply.model_dump(mode="json"))

    async def fork(request: Request) -> Response:
        principal: Principal = request.state.principal
        try:
            session_id = validate_id("session id", request.path_params["session_id"])
            at, to = parse_fork(await _json_body(request))
            result = await gateway.client.fork(
                session_id, at, to, tenant_id=principal.tenant_id, user_id=principal.user_id
            )
        except Exception as err:
            return error_for(err).response()
        return JSONResponse(result.model_dump(mode="json"), status_code=201)

    app.add_route("/sessions/{session_id}/cancel", cancel, methods=["POST"])
    app.add_route("/sessions/{session_id}/regenerate", regenerate, methods=["POST"])
    app.add_route("/sessions/{session_id}/fork", fork, methods=["POST"])
