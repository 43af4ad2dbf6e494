"""Streamed turns of the gateway: the SSE payloads of a turn's items (text deltas, restarts,
tool calls, approvals, then the reply or an error); the contract is in :mod:`gateway.app`."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from starlette.responses import Response

from client.streaming import ApprovalEvent, StreamRestart, ToolEvent, TurnEvent
from gateway.auth import Principal
from gateway.errors import error_for
from gateway.requests import Invocation, session_config
from models import ChatReply

if TYPE_CHECKING:
    from gateway.app import Gateway


def turn_payload(item: TurnEvent) -> dict[str, Any]:
    """The SSE payload of one item of a streamed turn (see :mod:`gateway.app`)."""
    if isinstance(item, ChatReply):
        return {"type": "done", **item.model_dump(mode="json")}
    if isinstance(item, StreamRestart):
        return {"type": "restart"}
    if isinstance(item, ToolEvent):
        fields = {"tool_use_id": item.tool_use_id, "name": item.name}
        if item.kind == "start":
            return {"type": "tool_start", **fields, "input": item.input}
        return {"type": "tool_end", **fields, "status": item.status, "result": item.result}
    if isinstance(item, ApprovalEvent):
        return {"type": item.kind, "request": item.request.model_dump(mode="json")}
    return {"type": "delta", "text": str(item)}


async def _payloads(
    first: "asyncio.Future[TurnEvent]",
    items: AsyncIterator[TurnEvent],
) -> AsyncIterator[dict[str, Any]]:
    """The SSE payloads of a streamed turn; a failure ends the stream with an error event."""
    try:
        yield turn_payload(await first)
        async for item in items:
            yield turn_payload(item)
    except Exception as err:
        yield error_for(err).event()
    finally:
        with contextlib.suppress(Exception):
            await items.aclose()  # type: ignore[attr-defined]


async def start_stream(
    gateway: "Gateway", principal: Principal, invocation: Invocation
) -> AsyncIterator[dict[str, Any]] | Response:
    """Start a streamed turn: a refusal is an ordinary error response (with its status);
    once the session accepted the message, the SSE payloads of its reply."""
    try:
        turn = await gateway.client.start_turn(
            invocation.session_id,
            invocation.prompt,
            tenant_id=principal.tenant_id,
            user_id=principal.user_id,
            message_id=invocation.message_id,
            config=session_config(invocation, gateway.settings.gateway.gateway_agents),
        )
    except Exception as err:
        return error_for(err).response()
    gateway.remember_owner(principal, invocation.session_id)
    items = turn.events().__aiter__()
    first: asyncio.Future[TurnEvent] = asyncio.ensure_future(_next(items))
    return _payloads(first, items)


async def _next(
    items: AsyncIterator[TurnEvent],
) -> TurnEvent:
    return await items.__anext__()
