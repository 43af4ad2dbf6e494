"""Following a streamed turn: text deltas from the session's workflow stream, then the reply.

The update's result is authoritative. Deltas come from the turn's topic
(``models.stream.turn_topic``); a retried model attempt restarts at ``messageStart``, which
is surfaced as :class:`StreamRestart`. If the stream falls behind or was truncated, the
missing tail is filled in from the reply, so the deltas always join to the reply. Tool calls
of the turn come as :class:`ToolEvent` items (text the model wrote before calling a tool is
not part of the reply: a :class:`StreamRestart` drops it), and a call waiting for a person's
approval as :class:`ApprovalEvent` items (``approval_required``, then ``approval_answered``).
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from temporalio.client import Client
from temporalio.contrib.workflow_streams import WorkflowStreamClient

from models import ChatReply
from models.approvals import ApprovalRequest
from models.stream import (
    APPROVAL_ANSWERED,
    APPROVAL_REQUIRED,
    TOOL_END,
    TOOL_START,
    TURN_END,
    turn_topic,
)

# After the reply is known, how long to wait for the stream's tail before filling it in.
TAIL_GRACE_SECONDS = 2.0
POLL_COOLDOWN = timedelta(milliseconds=20)


class Delta(str):
    """A piece of reply text; ``offset`` is its position in the session's stream."""

    offset: int

    def __new__(cls, text: str, offset: int) -> "Delta":
        """Make a delta of ``text`` read at stream ``offset``."""
        delta = super().__new__(cls, text)
        delta.offset = offset
        return delta


@dataclass(frozen=True)
class StreamRestart:
    """Discard the text received so far for this turn: the model attempt was retried
    (``reason="retry"``), or the model called a tool after it (``reason="tool"``)."""

    offset: int
    reason: Literal["retry", "tool"] = "retry"


@dataclass(frozen=True)
class ToolEvent:
    """A tool call of the turn started (``kind="start"``, with its ``input``) or ended
    (``kind="end"``, with ``status`` and the start of its ``result``)."""

    kind: Literal["start", "end"]
    tool_use_id: str
    name: str
    offset: int
    input: dict[str, Any] | None = None
    status: str | None = None
    result: str | None = None


@dataclass(frozen=True)
class ApprovalEvent:
    """A tool call of the turn waits for approval (``kind="approval_required"``) or was
    answered (``kind="approval_answered"``: ``request.state`` says how)."""

    kind: Literal["approval_required", "approval_answered"]
    request: ApprovalRequest
    offset: int


TurnEvent = Delta | StreamRestart | ToolEvent | ApprovalEvent | ChatReply
"""What following a streamed turn yields."""


def approval_event(event: Any, offset: int) -> ApprovalEvent | None:
    """The :class:`ApprovalEvent` a stream item is, if it is one."""
    if not isinstance(event, dict):
        return None
    for key, kind in (
        (APPROVAL_REQUIRED, "approval_required"),
        (APPROVAL_ANSWERED, "approval_answered"),
    ):
        fields = event.get(key)
        if isinstance(fields, dict):
            request = ApprovalRequest.model_validate(fields)
            if kind == "approval_required":
                return ApprovalEvent("approval_required", request, offset)
            return ApprovalEvent("approval_answered", request, offset)
    return None


def tool_event(event: Any, offset: int) -> ToolEvent | None:
    """The :class:`ToolEvent` a stream item is, if it is one."""
    if not isinstance(event, dict):
        return None
    for key, kind in ((TOOL_START, "start"), (TOOL_END, "end")):
        fields = event.get(key)
        if isinstance(fields, dict):
            given = fields.get("input")
            return ToolEvent(
                kind="start" if kind == "start" else "end",
                tool_use_id=str(fields.get("toolUseId", "")),
                name=str(fields.get("name", "")),
                offset=offset,
                input=given if isinstance(given, dict) else None,
                status=str(fields["status"]) if "status" in fields else None,
                result=str(fields["result"]) if "result" in fields else None,
            )
    return None


def delta_text(event: Any) -> str | None:
    """The text of a Strands ``contentBlockDelta`` stream event, if it is one."""
    if not isinstance(event, dict):
        return None
    delta = event.get("contentBlockDelta", {}).get("delta", {})
    text = delta.get("text") if isinstance(delta, dict) else None
    return text if isinstance(text, str) else None


async def follow_turn(
    client: Client,
    workflow_id: str,
    message_id: str,
    reply: Awaitable[ChatReply],
    seen_through: int = -1,
) -> AsyncIterator[TurnEvent]:
    """Yield the turn's deltas (and tool events) as they arrive, then its ``ChatReply``
    (errors propagate).

    Items at offsets up to ``seen_through`` were delivered before (a resumed stream): they
    are read to rebuild the text so far but not yielded again.
    """
    stream = WorkflowStreamClient.create(client, workflow_id)
    items = stream.subscribe(
        [turn_topic(message_id)], from_offset=0, poll_cooldown=POLL_COOLDOWN
    ).__aiter__()
    reply_task: asyncio.Task[ChatReply] = asyncio.ensure_future(reply)
    text = ""
    last_offset = seen_through
    next_item: asyncio.Task[Any] | None = None
    try:
        while True:
            next_item = asyncio.ensure_future(items.__anext__())
            waiting: set[asyncio.Future[Any]] = {next_item, reply_task}
            done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            if next_item not in done:
                if reply_task.exception() is not None:
                    break  # refused or failed: nothing more will be streamed
                # The reply is in; give the stream a moment to deliver its tail.
                done, _ = await asyncio.wait({next_item}, timeout=TAIL_GRACE_SECONDS)
                if not done:
                    break
            try:
                item = next_item.result()
            except StopAsyncIteration:
                break
            except Exception:
                if reply_task.done():
                    break
                raise
            next_item = None
            event = item.data
            replayed = item.offset <= seen_through
            last_offset = max(last_offset, item.offset)
            if isinstance(event, dict) and TURN_END in event:
                break
            approval = approval_event(event, item.offset)
            if approval is not None:
                if not replayed:
                    yield approval
                continue
            tool = tool_event(event, item.offset)
            if tool is not None:
                if text:  # words before a tool call are not the reply
                    text = ""
                    if not replayed:
                        yield StreamRestart(item.offset, "tool")
                if not replayed:
                    yield tool
                continue
            if isinstance(event, dict) and "messageStart" in event and text:
                text = ""
                if not replayed:
                    yield StreamRestart(item.offset)
                continue
            piece = delta_text(event)
            if piece:
                text += piece
                if not replayed:
                    yield Delta(piece, item.offset)
    except BaseException:
        # The caller stopped listening (or streaming broke): stop waiting for the reply.
        reply_task.cancel()
        with contextlib.suppress(BaseException):
            await reply_task
        raise
    finally:
        if next_item is not None and not next_item.done():
            next_item.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await next_item
        await items.aclose()  # type: ignore[attr-defined]
    final = await reply_task
    if final.reply != text:
        if final.reply.startswith(text):
            yield Delta(final.reply[len(text) :], last_offset)
        else:
            yield StreamRestart(last_offset)
            yield Delta(final.reply, last_offset)
    yield final
