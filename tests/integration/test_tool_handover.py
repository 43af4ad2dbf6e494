"""A turn with several tool calls that crosses the continue-as-new threshold finishes in its
run; the next run starts after it, with the turn's tool calls in the carried history."""

from temporalio.api.enums.v1 import EventType

from client import SessionClient
from models import SessionConfig
from tests.helpers import assert_well_formed, new_session_id
from workflows.tool_calls import kept_tool_calls


async def test_tool_calls_crossing_the_threshold_finish_before_the_hand_over(
    sessions: SessionClient,
) -> None:
    session_id = new_session_id("tool-can")
    config = SessionConfig(agent="tester", model="echo", continue_as_new_events=100)
    texts = [
        "\n".join(f'/tool echo_args {{"text": "t{turn}-{n}"}}' for n in range(5))
        for turn in range(3)
    ]
    replies = [(await sessions.send(session_id, text, config=config)).reply for text in texts]
    for turn, reply in enumerate(replies):
        assert reply == "echo: " + " | ".join(f"t{turn}-{n}" for n in range(5))

    handle = sessions.handle(session_id)
    runs = [r async for r in sessions.temporal.list_workflows(f"WorkflowId = '{handle.id}'")]
    assert len(runs) >= 2
    first = await sessions.temporal.get_workflow_handle(
        handle.id, run_id=runs[-1].run_id
    ).fetch_history()
    kinds = [event.event_type for event in first.events]
    assert kinds[-1] == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
    assert len(first.events) > 100  # the turn went past the threshold ...
    scheduled = [
        event.activity_task_scheduled_event_attributes.activity_type.name
        for event in first.events
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]
    completed = kinds.count(EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED)
    assert scheduled.count("echo_args") % 5 == 0  # ... and ran every call in its run
    assert completed == len(scheduled)

    history = await sessions.history(session_id)
    assert_well_formed(history)
    replies_kept = [m for m in history if m.role == "assistant"]
    assert [len(kept_tool_calls(m)) for m in replies_kept] == [5] * len(replies_kept)
    status = await sessions.status(session_id)
    assert status.turns == 3 and status.run == len(runs) and status.issues == []
