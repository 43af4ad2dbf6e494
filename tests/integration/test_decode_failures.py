"""An activity whose input can never be decoded fails at once instead of retrying for ever.

The SDK turns a decode failure into a plain, retryable ``ApplicationError``; with a retry
policy of unlimited attempts (as memory writes have) that was an endless loop. Our failure
converter (worker/failures.py) marks it non-retryable: one attempt, and the workflow sees it.
"""

import uuid
from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from models.settings import Settings
from worker.client import client_plugins

ATTEMPTS: list[int] = []


class Strict(BaseModel):
    count: int


@activity.defn
async def needs_a_count(value: Strict) -> int:
    ATTEMPTS.append(activity.info().attempt)
    return value.count


@workflow.defn
class SendsGarbage:
    @workflow.run
    async def run(self, payload: dict[str, Any]) -> str:
        try:
            await workflow.execute_activity(
                "needs_a_count",
                payload,
                start_to_close_timeout=timedelta(seconds=10),
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(milliseconds=100), maximum_attempts=0
                ),
            )
        except ActivityError as err:
            cause = err.cause
            assert isinstance(cause, ApplicationError)
            return f"{cause.message} non_retryable={cause.non_retryable}"
        return "decoded"


async def test_undecodable_activity_input_is_not_retried(
    dev_client: Client, dev_settings: Settings
) -> None:
    client = await Client.connect(
        dev_settings.connection.temporal_address, plugins=client_plugins(dev_settings)
    )
    queue = f"decode-{uuid.uuid4().hex[:8]}"
    ATTEMPTS.clear()
    async with Worker(
        client,
        task_queue=queue,
        workflows=[SendsGarbage],
        activities=[needs_a_count],
        workflow_runner=UnsandboxedWorkflowRunner(),  # a test workflow beside test imports
    ):
        bad_id = f"decode-{uuid.uuid4().hex[:8]}"
        outcome = await client.execute_workflow(
            SendsGarbage.run,
            {"count": "not a number"},
            id=bad_id,
            task_queue=queue,
            execution_timeout=timedelta(seconds=60),
        )
        history = await client.get_workflow_handle(bad_id).fetch_history()
        good = await client.execute_workflow(
            SendsGarbage.run,
            {"count": 3},
            id=f"decode-{uuid.uuid4().hex[:8]}",
            task_queue=queue,
            execution_timeout=timedelta(seconds=60),
        )
    assert outcome == "Failed decoding arguments non_retryable=True"
    assert good == "decoded"
    started = [
        e.activity_task_started_event_attributes.attempt
        for e in history.events
        if e.HasField("activity_task_started_event_attributes")
    ]
    assert started == [1]  # one attempt in the history, never retried
    assert ATTEMPTS == [1]  # only the good one ran; the bad one was never retried
