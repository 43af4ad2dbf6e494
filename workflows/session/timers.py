"""The session's durable timers: idle expiry and age-based trim."""

from collections.abc import Callable
from datetime import datetime, timedelta

from temporalio import workflow

from models import ChatMessage, SessionState
from workflows.session.state import RunState
from workflows.window import age_deadline, trim_older_than


async def watch_idle(run: RunState, expires_at: Callable[[], datetime]) -> None:
    """One timer per idle period, re-armed for the remainder when activity moved it;
    sets ``run.idle_due`` for the main loop, which decides."""
    while True:
        remaining = expires_at() - workflow.now()
        if remaining > timedelta(0):
            await workflow.sleep(remaining, summary="idle expiry")
            continue
        run.idle_due = True
        await workflow.wait_condition(lambda: not run.idle_due)


async def watch_age(
    state: SessionState,
    ttl: timedelta,
    trim: Callable[[list[ChatMessage], list[ChatMessage]], None],
) -> None:
    """Drop kept messages once they are older than ``ttl``."""
    while True:
        deadline = age_deadline(state.messages, ttl)
        if deadline is None:
            await workflow.wait_condition(lambda: age_deadline(state.messages, ttl) is not None)
            continue
        remaining = deadline - workflow.now()
        if remaining > timedelta(0):
            await workflow.sleep(remaining, summary="message age trim")
            continue
        trim(*trim_older_than(state.messages, workflow.now() - ttl))
