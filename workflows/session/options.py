"""Timeouts, retry policies, limits and error helpers shared by the session's parts."""

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.exceptions import TimeoutError as TemporalTimeoutError

from models import Refusal, SessionConfig

# Patches (workflow.patched): behaviour added after 0.1.0's histories were recorded.
CANCEL_CLOSES_PATCH = "cancel-closes"
"""A cancellation request ends the session like a close (drain, record, archive)."""
WATCH_HISTORY_PATCH = "watch-history"
"""Every wake-up checks the history's size, not only the end of a turn."""
ISSUE_ATTRIBUTES_PATCH = "issue-attributes"
"""Issues are counted in search attributes (ConvoflowIssueCount, ConvoflowLastIssueAt)."""
STEERING_PATCH = "steer-turns"
"""The model call runs in its own task (cancel_turn) and waits for a cancel to be answered."""
UPGRADE_ON_CONTINUE_PATCH = "upgrade-on-continue"
"""A pinned session whose deployment's current version changed continues-as-new onto it."""
SUMMARY_PATCH = "running-summary"
"""Messages that leave the context are folded into a running summary (an activity); a
session that comes back reads the summary it was archived with (a local activity)."""
AGENTS_PATCH = "agents"
"""A session whose agent has tools or MCP servers gives them to the model."""
APPROVALS_PATCH = "approvals"
"""Tool calls the agent or session marks wait for a person's approval (HumanInTheLoop)."""

CANCELLED = "cancelled"
"""The reason a session cancelled from Temporal ends with."""

MAX_ISSUES = 20
MAX_OUTCOMES = 200

# Local activities on the turn's path (recall, preparation, restore): short and few tries,
# a failure only means "without memories".
LOCAL_TIMEOUT = timedelta(seconds=10)
LOCAL_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200), maximum_attempts=2)

# Memory writes retry until they land: trimmed messages must reach the store.
MEMORY_TIMEOUT = timedelta(seconds=30)
MEMORY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=0,
)
LOOKUP_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=5)

# Mining for memories is best effort: its own timeout and a bounded number of tries, so it
# can never hold up recording, continue-as-new or close.
EXTRACTION_TIMEOUT = timedelta(minutes=2)
EXTRACTION_RETRY = RetryPolicy(initial_interval=timedelta(seconds=2), maximum_attempts=2)
# A busy session mines its messages in batches of this many (an idle one at once).
EXTRACTION_BATCH = 10
# How long an ending session waits for its last extraction before giving up on it.
EXTRACTION_GRACE = timedelta(seconds=10)

# The running summary is best effort too: a bounded time and few tries, never on a turn's path.
SUMMARY_TIMEOUT = timedelta(minutes=2)
SUMMARY_RETRY = RetryPolicy(initial_interval=timedelta(seconds=2), maximum_attempts=2)
# An update starts once this many messages have left the context (a model call per batch).
SUMMARY_BATCH = 6

# How a local activity that failed or timed out surfaces (live: the first two; on replay a
# timeout comes back as TimeoutError, which must take the same path).
LOCAL_ACTIVITY_ERRORS = (ActivityError, ApplicationError, TemporalTimeoutError)


def history_is_long(config: SessionConfig) -> bool:
    """Past the session's event or byte threshold, or the server suggests continuing as
    new: well before any server limit (by default 50 MB or 51,200 events terminate a run)."""
    info = workflow.info()
    return (
        info.is_continue_as_new_suggested()
        or info.get_current_history_length() >= config.continue_as_new_events
        or info.get_current_history_size() >= config.continue_as_new_bytes
    )


def cancelling() -> bool:
    """The workflow is being cancelled (its main task was told to stop).

    Temporal turns the cancellation of an activity the task awaited into an
    ``ActivityError``; this tells it apart from an activity that failed on its own.
    """
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def refusal(kind: Refusal, message: str) -> ApplicationError:
    """The error an update raises for ``kind``: its type is the refusal's name."""
    return ApplicationError(message, type=kind.value, non_retryable=True)


def root_message(error: BaseException) -> str:
    """The innermost cause's message: what actually went wrong."""
    while error.__cause__ is not None:
        error = error.__cause__
    return str(error) or type(error).__name__
