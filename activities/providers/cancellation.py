"""How a model activity learns it was cancelled, and what it answers then.

Temporal tells a running activity about a cancel only in the answer to a heartbeat. The
plugin's model activities heartbeat at half the heartbeat timeout (15 s by default), far too
rarely to stop a reply someone is watching; so while a provider streams, :func:`answer_cancel`
heartbeats every ``every`` seconds (the worker's heartbeat throttle is set to match, see
``worker/run.py``). When the session cancels the turn (``cancel_turn``), the provider's stream
is interrupted where it waits and the activity *completes* with the events so far plus a
``messageStop`` whose stop reason is ``cancelled``: the workflow waits for that answer
(``WAIT_CANCELLATION_COMPLETED``) and keeps the partial reply.

Only a cancel the workflow asked for is answered this way: a worker shutting down, a
heartbeat timeout or a pause still fail the attempt, so Temporal retries it elsewhere.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterable

from strands.types.streaming import StreamEvent
from temporalio import activity

MODEL_ACTIVITIES = frozenset({"invoke_model", "invoke_model_streaming"})
"""The plugin's model activities (memory extraction also streams a model, and is not one)."""

CANCELLED_STOP: StreamEvent = {"messageStop": {"stopReason": "cancelled"}}


def _in_model_activity() -> bool:
    return activity.in_activity() and activity.info().activity_type in MODEL_ACTIVITIES


def _cancel_was_requested() -> bool:
    """The session asked for this cancel (not a shutdown, timeout, pause or reset)."""
    details = activity.cancellation_details()
    return bool(
        details is not None
        and details.cancel_requested
        and not (details.worker_shutdown or details.paused or details.reset or details.timed_out)
    )


async def _heartbeat_every(seconds: float) -> None:
    while True:
        await asyncio.sleep(seconds)
        activity.heartbeat()


async def answer_cancel(
    events: AsyncIterable[StreamEvent], every: float
) -> AsyncIterable[StreamEvent]:
    """``events``, heartbeating every ``every`` seconds; a requested cancel ends them early
    with a well-formed ending (the open content block closed, stop reason ``cancelled``)."""
    if not _in_model_activity() or every <= 0:
        async for event in events:
            yield event
        return
    ticker = asyncio.create_task(_heartbeat_every(every / 2))  # within the throttle
    block_open = False
    try:
        try:
            async for event in events:
                if "contentBlockStart" in event or "contentBlockDelta" in event:
                    block_open = True
                elif "contentBlockStop" in event:
                    block_open = False
                yield event
            return
        except asyncio.CancelledError:
            if not _cancel_was_requested():
                raise
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()  # handled: the activity goes on to report what it has
        activity.logger.info("model call cancelled by the session; returning the partial reply")
        if block_open:
            yield {"contentBlockStop": {}}
        yield CANCELLED_STOP
    finally:
        ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticker
