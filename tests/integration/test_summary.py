"""The running summary on a real Temporal server: written when messages leave the context,
shown in status(), pinned in the system prompt, carried across continue-as-new, restored
when a session comes back, and a failing update keeps the previous summary."""

from client import SessionClient
from models import SessionConfig, SessionStatus
from tests.helpers import eventually, new_session_id
from tests.providers import RecordingModel, SummaryModel

# A tiny budget so that a few turns push messages out of the context.
SMALL = SessionConfig(
    model="recording",
    system_prompt="Be brief.",
    context_tokens=400,
    memory_extraction="rules",
    record_delay=0,
)
FILLER = "Tell me one more thing about the weather in spring, please."


async def _talk(sessions: SessionClient, session_id: str, user: str, turns: int) -> None:
    for turn in range(turns):
        await sessions.send(session_id, f"{turn}: {FILLER}", user_id=user, config=SMALL)


def _has_summary(status: SessionStatus) -> bool:
    return status.summary is not None


async def test_summary_is_shown_and_reaches_the_model(sessions: SessionClient) -> None:
    session_id, user = new_session_id("sum"), new_session_id("u")
    await sessions.send(
        session_id, "My name is Alice and I live in Lisbon.", user_id=user, config=SMALL
    )
    await _talk(sessions, session_id, user, 10)
    status = await eventually(lambda: sessions.status(session_id), _has_summary)
    assert status.summary is not None
    assert "User's name is Alice" in status.summary.text  # the rules, with echo-like models
    assert "User lives in Lisbon" in status.summary.text
    assert status.summary.by == "rules" and status.summary.through_seq >= 1

    await sessions.send(session_id, "What is my name?", user_id=user, config=SMALL)
    request = RecordingModel.requests[-1]
    system_prompt = str(request["system_prompt"])
    assert "<conversation_summary>" in system_prompt and "Alice" in system_prompt
    # The fact itself has left the context: only the summary carries it.
    assert all("Alice" not in str(m) for m in request["messages"])
    reply = (await sessions.history(session_id))[-1]
    assert reply.metadata is not None and reply.metadata["context"]["tokens"] <= 400


async def test_summary_is_carried_across_continue_as_new_and_restored(
    sessions: SessionClient,
) -> None:
    session_id, user = new_session_id("sum-can"), new_session_id("u")
    config = SMALL.model_copy(update={"continue_as_new_events": 100})
    await sessions.send(session_id, "My name is Bob.", user_id=user, config=config)
    for turn in range(12):
        await sessions.send(session_id, f"{turn}: {FILLER}", user_id=user, config=config)
    status = await eventually(
        lambda: sessions.status(session_id), lambda s: s.run >= 2 and s.summary is not None
    )
    assert status.summary is not None and "User's name is Bob" in status.summary.text
    await sessions.send(session_id, "And my name?", user_id=user, config=config)
    assert "User's name is Bob" in str(RecordingModel.requests[-1]["system_prompt"])

    # The session ends; the same id comes back and starts from the archived summary.
    final = await eventually(lambda: sessions.status(session_id), _has_summary)
    await sessions.close(session_id, reason="done")
    await sessions.handle(session_id).result()
    await sessions.send(session_id, "I am back.", user_id=user, config=config)
    back = await sessions.status(session_id)
    assert back.run == 1 and back.summary is not None
    assert final.summary is not None and back.summary.through_seq >= final.summary.through_seq
    assert "User's name is Bob" in back.summary.text
    assert "User's name is Bob" in str(RecordingModel.requests[-1]["system_prompt"])


async def test_a_failing_summary_keeps_the_previous_one(sessions: SessionClient) -> None:
    session_id, user = new_session_id("sum-fail"), new_session_id("u")
    config = SMALL.model_copy(update={"model": "summary-model", "memory_extraction": "model"})
    SummaryModel.failing = False
    for turn in range(10):
        await sessions.send(session_id, f"{turn}: {FILLER}", user_id=user, config=config)
    first = await eventually(lambda: sessions.status(session_id), _has_summary)
    assert first.summary is not None and first.summary.by == "summary-model"
    assert first.summary.text.startswith("- summary ")
    SummaryModel.failing = True
    written = SummaryModel.written
    try:
        for turn in range(10, 20):
            reply = await sessions.send(
                session_id, f"{turn}: {FILLER}", user_id=user, config=config
            )
            assert reply.reply.startswith("echo: ")  # turns never fail with the summary
        failed = await eventually(
            lambda: sessions.status(session_id),
            lambda s: any("summary update failed" in issue for issue in s.issues),
        )
    finally:
        SummaryModel.failing = False
    assert SummaryModel.written == written  # nothing was written while it failed
    assert failed.summary is not None and failed.summary.text.startswith("- summary ")
    number = int(failed.summary.text.split()[2].rstrip(","))
    assert number <= written  # the previous summary stayed
    assert failed.summary.through_seq >= first.summary.through_seq
