"""The web UI's routes on the gateway app: the chat page, ``GET /sessions`` and AG-UI.

- ``GET /`` the chat page, ``GET /ui/...`` its static files (public: they hold no data);
- ``GET /sessions[?limit=N]`` the caller's own sessions, newest first;
- ``POST /ag-ui`` an AG-UI run over Server-Sent Events, ``/ag-ui/ws`` the same over a
  WebSocket (send one ``RunAgentInput`` as JSON, receive the events, the server closes).

Every data route sits behind the gateway's guard exactly like ``/invocations``: the same
bearer token, rate limit, body and prompt limits and turns-per-session gate (``/ag-ui`` is a
turn route of the guard with its own body parser); owners are checked by the session itself.
"""

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from ag_ui.core import BaseEvent
from bedrock_agentcore.runtime import BedrockAgentCoreApp
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

from client.listing import SessionInfo
from gateway import (
    Gateway,
    GatewayError,
    Invocation,
    error_for,
    start_stream,
)
from gateway.auth import Principal
from gateway.requests import json_body
from models.limits import parse_count
from webui.agui import encode_json, encode_sse, error_event, parse_run_input, run_events
from webui.interrupts import answer_interrupts, resumed_payloads

log = logging.getLogger("convoflow.webui")

AG_UI = "/ag-ui"
AG_UI_WS = "/ag-ui/ws"
MAX_SESSIONS = 100
DEFAULT_SESSIONS = 50
PREVIEW_CHARS = 160
PREVIEW_QUERIES = 8
# The page loads only its own files and talks only to its own origin.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def mount_web_ui(app: BedrockAgentCoreApp, gateway: Gateway) -> None:
    """Add the page, ``/sessions`` and the AG-UI transports to the gateway ``app``."""
    gateway.turn_parsers[AG_UI] = parse_run_input
    gateway.guarded_paths.add(AG_UI_WS)
    page = resources.files("webui").joinpath("static/index.html").read_text("utf-8")

    async def index(request: Request) -> Response:
        return HTMLResponse(page, headers=PAGE_HEADERS)

    async def sessions(request: Request) -> Response:
        principal: Principal = request.state.principal
        try:
            limit = _limit(request.query_params.get("limit"))
            found = await list_own_sessions(gateway, principal, limit)
        except Exception as err:
            return error_for(err).response()
        return JSONResponse(
            {
                "tenant_id": principal.tenant_id,
                "user_id": principal.user_id,
                "namespace": gateway.settings.connection.namespace,
                "temporal_ui_url": gateway.settings.gateway.temporal_ui_url.rstrip("/"),
                "sessions": found,
            }
        )

    async def ag_ui(request: Request) -> Response:
        principal: Principal = request.state.principal
        invocation: Invocation = request.state.invocation
        started = await start_run(gateway, principal, invocation)
        if isinstance(started, Response):
            return started
        return StreamingResponse(_sse(started), media_type="text/event-stream", headers=SSE_HEADERS)

    async def ag_ui_ws(websocket: WebSocket) -> None:
        await serve_websocket(gateway, websocket)

    app.add_route("/", index, methods=["GET"])
    app.add_route("/sessions", sessions, methods=["GET"])
    app.add_route(AG_UI, ag_ui, methods=["POST"])
    app.router.add_websocket_route(AG_UI_WS, ag_ui_ws)
    app.mount("/ui", StaticFiles(packages=[("webui", "static")]), name="webui")


def _limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_SESSIONS
    try:
        limit = parse_count(raw)
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_SESSIONS:
        raise GatewayError(400, "InvalidRequest", f"limit must be 1-{MAX_SESSIONS}")
    return limit


async def list_own_sessions(
    gateway: Gateway, principal: Principal, limit: int
) -> list[dict[str, Any]]:
    """The caller's sessions (by the user search attribute), newest activity first.

    Ownerless sessions and other users' never appear. Running sessions carry their last
    message (a history query); finished ones only what the search attributes keep.
    """
    if not gateway.settings.worker.search_attributes:
        return []  # without the attributes no session can be tied to its user
    client = gateway.client
    infos = await client.list_sessions(
        tenant_id=principal.tenant_id,
        running_only=False,
        limit=limit,
        user_id=principal.user_id,
    )
    infos = [info for info in infos if info.user_id == principal.user_id]
    infos.sort(key=_newest, reverse=True)
    gate = asyncio.Semaphore(PREVIEW_QUERIES)

    async def row(info: SessionInfo) -> dict[str, Any]:
        last: dict[str, Any] | None = None
        if info.close_time is None:
            async with gate:
                try:
                    messages = await client.history(
                        info.session_id,
                        tenant_id=principal.tenant_id,
                        limit=1,
                        user_id=principal.user_id,
                    )
                except Exception as err:
                    log.info("no preview for %s: %s", info.session_id, err)
                    messages = []
            if messages:
                message = messages[-1]
                last = {"role": message.role, "text": message.message[:PREVIEW_CHARS]}
        when = info.last_activity or info.close_time or info.start_time
        return {
            "session_id": info.session_id,
            "workflow_id": info.workflow_id,
            "status": info.status,
            "running": info.close_time is None,
            "message_count": info.message_count,
            "last_activity": when.isoformat() if when else None,
            "last_message": last,
        }

    return list(await asyncio.gather(*(row(info) for info in infos)))


def _newest(info: SessionInfo) -> datetime:
    return info.last_activity or info.close_time or info.start_time or EPOCH


async def start_run(
    gateway: Gateway, principal: Principal, invocation: Invocation
) -> AsyncIterator[BaseEvent] | Response:
    """Start an AG-UI run: its events, or the error response if the turn was refused."""
    try:
        await gateway.check_reuse(principal, invocation.session_id)
        if invocation.resume:  # answers to approvals: the paused turn goes on
            session_id, answers = invocation.session_id, invocation.resume
            await answer_interrupts(gateway, principal, session_id, answers)
            resumed = resumed_payloads(gateway, principal, session_id, answers)
            return run_events(gateway, principal, invocation, resumed)
        started = await start_stream(gateway, principal, invocation)
    except Exception as err:
        return error_for(err).response()
    if isinstance(started, Response):
        return started
    return run_events(gateway, principal, invocation, started)


async def _sse(events: AsyncIterator[BaseEvent]) -> AsyncIterator[str]:
    async for event in events:
        yield encode_sse(event)


async def serve_websocket(gateway: Gateway, websocket: WebSocket) -> None:
    """One AG-UI run over a WebSocket: a ``RunAgentInput`` in, its events out, then close.

    The guard has checked the token and the rate at the handshake; the input gets the same
    checks as ``POST /ag-ui`` (size, fields, prompt length, turns per session). A refusal
    is one ``RUN_ERROR`` whose ``code`` is the gateway's error code.
    """
    principal: Principal = websocket.state.principal
    await websocket.accept()
    try:
        text = await websocket.receive_text()
    except (WebSocketDisconnect, KeyError):
        return
    turn_key: str | None = None
    try:
        try:
            invocation = _admit(gateway, text)
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
            await websocket.send_text(encode_json(error_event(err)))
            await websocket.close(code=1008)
            return
        started = await start_run(gateway, principal, invocation)
        if isinstance(started, Response):
            refusal = json.loads(bytes(started.body))["error"]
            error = GatewayError(started.status_code, refusal["code"], refusal["message"])
            await websocket.send_text(encode_json(error_event(error)))
            await websocket.close(code=1008)
            return
        async for event in started:
            await websocket.send_text(encode_json(event))
        await websocket.close()
    except WebSocketDisconnect:
        return
    finally:
        if turn_key is not None:
            gateway.gate.leave(turn_key)


def _admit(gateway: Gateway, text: str) -> Invocation:
    """Check one WebSocket input as the guard checks a ``POST /ag-ui`` body."""
    settings = gateway.settings
    if len(text.encode("utf-8")) > settings.gateway.gateway_max_body_bytes:
        raise GatewayError(
            413,
            "PayloadTooLarge",
            f"request body is over {settings.gateway.gateway_max_body_bytes} bytes",
        )
    payload = json_body(text)
    return parse_run_input(payload, None, settings.gateway.gateway_max_prompt_chars)
