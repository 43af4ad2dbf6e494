"""A message the server dropped because the workflow task carrying it failed is sent again.

The server fails a workflow task on its own when the completion cannot be applied: most
often a continue-as-new that races a newly arrived event (``UnhandledCommand``). An update
the task carried but had not accepted is then aborted with ``WorkflowNotReady``, and nothing
was written. A stand-in session makes that happen once per message, deterministically: its
first task with a message upserts a search attribute the server does not know, which the
server refuses.
"""

import uuid

from temporalio import workflow
from temporalio.client import Client
from temporalio.common import SearchAttributeKey
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from client import SessionClient
from models import ChatMessage, ChatReply, SessionInput
from models.settings import Settings
from tests.conftest import make_settings
from workflows.inbound import SEND_MESSAGE

# Message ids whose first workflow task was made to fail, and every delivery seen. Module
# state on purpose: the stand-in runs unsandboxed so that it outlives the failed task.
FAILED_ONCE: set[str] = set()
DELIVERIES: list[str] = []
UNKNOWN_ATTRIBUTE = SearchAttributeKey.for_keyword("ConvoflowTestNotRegistered")


@workflow.defn(name="SessionWorkflow")
class FailsFirstTaskSession:
    """Answers ``send_message`` like a session; fails the first task of each message."""

    @workflow.run
    async def run(self, session: SessionInput) -> None:
        await workflow.wait_condition(lambda: False)

    @workflow.update(name=SEND_MESSAGE)
    async def send_message(self, message: ChatMessage) -> ChatReply:
        message_id = message.message_id or ""
        if not workflow.unsafe.is_replaying():  # a replay after the failure runs it again
            DELIVERIES.append(message_id)
        if message_id not in FAILED_ONCE:
            FAILED_ONCE.add(message_id)
            workflow.upsert_search_attributes([UNKNOWN_ATTRIBUTE.value_set("x")])
        info = workflow.info()
        return ChatReply(
            message_id=message_id,
            reply_message_id=f"reply-{message_id}",
            session_id=info.workflow_id,
            tenant_id="default",
            reply=f"echo: {message.message}",
        )


def _stand_in(dev_client: Client, settings: Settings) -> Worker:
    return Worker(
        dev_client,
        task_queue=settings.connection.task_queue,
        workflows=[FailsFirstTaskSession],
        workflow_runner=UnsandboxedWorkflowRunner(),
    )


async def test_send_is_delivered_again_after_the_task_carrying_it_failed(
    dev_client: Client, dev_settings: Settings
) -> None:
    settings = make_settings(dev_settings.connection.temporal_address, dev_settings.memory.data_dir)
    sessions = SessionClient(dev_client, settings)
    async with _stand_in(dev_client, settings):
        session_id = f"task-failure-{uuid.uuid4().hex[:8]}"
        first = await sessions.send(session_id, "hello", user_id="ana")
        second = await sessions.send(session_id, "again", user_id="ana")
        turn = await sessions.start_turn(session_id, "streamed", user_id="ana")
        third = await turn.reply()

    assert [first.reply, second.reply, third.reply] == [
        "echo: hello",
        "echo: again",
        "echo: streamed",
    ]
    for reply in (first, second, third):
        # Delivered twice under the same message id: once into the failed task, once after.
        assert DELIVERIES.count(reply.message_id) == 2
