"""Checks shared by the fault tests: failed workflow tasks, and replaying every run."""

import asyncio
import time
from collections.abc import Awaitable, Iterable
from typing import Any, TypeVar

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowHandle, WorkflowHistory

from client import SessionClient
from tests.faults import figures
from worker.replay import replay_histories


def task_failures(events: Iterable[HistoryEvent]) -> list[HistoryEvent]:
    """The WorkflowTaskFailed events among ``events``."""
    return [e for e in events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED]


async def all_runs(client: Client, workflow_id: str) -> list[WorkflowHistory]:
    """The histories of every run of ``workflow_id`` (continue-as-new makes several)."""
    histories = []
    async for execution in client.list_workflows(f"WorkflowId = '{workflow_id}'"):
        handle = client.get_workflow_handle(workflow_id, run_id=execution.run_id)
        histories.append(await handle.fetch_history())
    return histories


async def replay_sessions(
    sessions: SessionClient, session_ids: Iterable[str], tenant_id: str = "default"
) -> tuple[int, int]:
    """Replay every run of the sessions against the current code; assert none failed a task
    or fails to replay. Return (runs, replayed)."""
    runs = replayed = 0
    for session_id in session_ids:
        histories = await all_runs(sessions.temporal, sessions.handle(session_id, tenant_id).id)
        runs += len(histories)
        for history in histories:
            failed: Any = task_failures(history.events)
            assert not failed, (session_id, failed[0])
        outcomes = await replay_histories(
            [(f"{session_id}#{i}", h) for i, h in enumerate(histories)], sessions.settings
        )
        assert all(outcome.ok for outcome in outcomes), outcomes
        replayed += len(outcomes)
    figures.count("histories replayed (fault tests)", "histories", replayed)
    return runs, replayed


T = TypeVar("T")


async def outcome_or_wedged(
    handle: WorkflowHandle[Any, Any], call: Awaitable[T], *, timeout: float = 60
) -> T | BaseException | list[str]:
    """Await ``call`` (e.g. a send to the session behind ``handle``); if instead the session's
    workflow task keeps failing, terminate it and return the failure messages."""
    task = asyncio.ensure_future(call)
    deadline = time.monotonic() + timeout
    while not task.done() and time.monotonic() < deadline:
        failed = task_failures((await handle.fetch_history()).events)
        if failed:
            task.cancel()
            await terminate_wedged(handle)
            attributes = [e.workflow_task_failed_event_attributes.failure for e in failed]
            return [f.cause.message or f.message for f in attributes]
        await asyncio.sleep(0.2)
    try:
        return await asyncio.wait_for(task, 5)
    except Exception as err:
        return err


async def terminate_wedged(handle: WorkflowHandle[Any, Any]) -> None:
    """Terminate a session whose workflow task keeps failing, then let the worker go quiet.

    The pause matters: the worker formats each failed task's traceback (Python 3.11's
    traceback module calls ``ast.parse``) on its own thread, and pytest formatting a test
    failure at the same moment can hit CPython's thread-unsafe AST recursion counter
    ("SystemError: AST constructor recursion depth mismatch", cpython gh-106905).
    """
    await handle.terminate(reason="wedged by a failing workflow task (test cleanup)")
    await asyncio.sleep(1.5)


# For ``xfail(raises=KNOWN_BUG)`` tests: only a failure raised by :func:`expect_fixed` is the
# expected one; any other failure in the test stays a real failure.
KNOWN_BUG = pytest.fail.Exception


def expect_fixed(holds: bool, message: str) -> None:
    """Fail with ``message`` (and no traceback) unless a known bug's fix ``holds``.

    No traceback is formatted on purpose: pytest parsing source for it while the worker
    thread formats a failed workflow task's traceback can crash the run (cpython gh-106905,
    see :func:`terminate_wedged`), and these tests fail on every run until the bug is fixed.
    """
    if not holds:
        pytest.fail(message[:2000], pytrace=False)
