"""Token streaming through the session's workflow stream."""

import time

from client import Delta, SessionClient, StreamRestart
from models import ChatReply, SessionConfig
from tests.helpers import new_session_id

SLOW = SessionConfig(model="slow-echo")


async def collect(
    stream: "object",
) -> tuple[list[tuple[float, Delta]], ChatReply, list[StreamRestart]]:
    deltas: list[tuple[float, Delta]] = []
    restarts: list[StreamRestart] = []
    final: ChatReply | None = None
    async for item in stream:  # type: ignore[attr-defined]
        if isinstance(item, Delta):
            deltas.append((time.monotonic(), item))
        elif isinstance(item, StreamRestart):
            restarts.append(item)
        else:
            final = item
    assert final is not None
    return deltas, final, restarts


async def test_deltas_arrive_before_the_turn_completes(sessions: SessionClient) -> None:
    session_id = new_session_id("stream")
    text = "one two three four five six seven eight nine ten eleven twelve"
    started = time.monotonic()
    deltas, final, restarts = await collect(sessions.stream(session_id, text, config=SLOW))
    finished = time.monotonic()
    assert restarts == []
    assert "".join(d for _, d in deltas) == final.reply == f"echo: {text}"
    assert len(deltas) >= 3, "expected the reply in several pieces"
    first_at = deltas[0][0]
    # 13 tokens at 50 ms each: the first delta must come well before the end.
    assert first_at - started < (finished - started) - 0.2
    offsets = [d.offset for _, d in deltas]
    assert offsets == sorted(offsets)
    history = await sessions.history(session_id)
    assert history[-1].message == final.reply


async def test_unstreamed_turns_publish_nothing(sessions: SessionClient) -> None:
    session_id = new_session_id("nostream")
    await sessions.send(session_id, "quiet turn")
    offset = await sessions.handle(session_id).query("__temporal_workflow_stream_offset")
    assert offset == 0


async def test_late_subscriber_resumes_without_loss_or_repeat(sessions: SessionClient) -> None:
    session_id = new_session_id("resume")
    text = " ".join(f"w{i}" for i in range(30))
    stream = sessions.stream(session_id, text, message_id="long-1", config=SLOW)
    first: list[Delta] = []
    async for item in stream:
        assert isinstance(item, Delta)
        first.append(item)
        if len(first) == 3:
            break
    await stream.aclose()  # type: ignore[attr-defined]  # the client "disconnects" mid-turn

    rest, final, _ = await collect(
        sessions.resume(session_id, "long-1", after_offset=first[-1].offset)
    )
    assert "".join(first) + "".join(d for _, d in rest) == final.reply == f"echo: {text}"


async def test_streamed_duplicate_gets_full_reply(sessions: SessionClient) -> None:
    session_id = new_session_id("stream-dup")
    _, first, _ = await collect(sessions.stream(session_id, "hello", message_id="d-1"))
    deltas, again, _ = await collect(sessions.stream(session_id, "hello", message_id="d-1"))
    assert "".join(d for _, d in deltas) == again.reply == first.reply
