"""Memory extraction is best effort: a model that never finishes extracting can delay
nothing that matters (recording, continue-as-new, close)."""

import asyncio
from datetime import timedelta

from activities.memory import SqliteMemoryStore
from client import SessionClient
from models import SessionConfig, SessionRef
from tests.helpers import new_session_id
from tests.providers import ExtractionHangingModel

HANGING = SessionConfig(
    model="extraction-hangs",
    memory_extraction="model",
    record_delay=timedelta(milliseconds=200),
)


async def test_hanging_extraction_never_blocks_recording_or_close(
    sessions: SessionClient,
) -> None:
    session_id = new_session_id("extract-hang")
    before = ExtractionHangingModel.extractions
    await sessions.send(session_id, "I live in Lisbon", user_id="ana", config=HANGING)
    await sessions.send(session_id, "I prefer tea", user_id="ana")

    # The close drains, records and archives within bounded time, whatever extraction does.
    summary = await asyncio.wait_for(sessions.close(session_id, reason="done"), timeout=60)
    assert summary is not None
    assert summary.status == "closed" and summary.turns == 2
    assert ExtractionHangingModel.extractions > before  # extraction did run (and hang)

    store = SqliteMemoryStore(sessions.settings.memory.memory_db_path)
    try:
        ref = SessionRef(tenant_id="default", session_id=session_id)
        recorded = [m.message for m in await store.recent_messages(ref, 10)]
        assert recorded == [
            "I live in Lisbon",
            "echo: I live in Lisbon",
            "I prefer tea",
            "echo: I prefer tea",
        ]
        assert await store.session_summary(ref) == summary
    finally:
        await store.close()


async def test_hanging_extraction_does_not_hold_up_continue_as_new(
    sessions: SessionClient,
) -> None:
    session_id = new_session_id("extract-can")
    config = HANGING.model_copy(update={"continue_as_new_events": 100})
    for turn in range(12):
        await asyncio.wait_for(
            sessions.send(session_id, f"turn {turn}", user_id="ana", config=config), timeout=30
        )
    status = await sessions.status(session_id)
    assert status.run >= 2 and status.turns == 12
