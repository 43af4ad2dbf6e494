"""Steering on a real dev server: cancel a running turn, regenerate, fork.

Slow streams come from the echo provider with ``echo_delay_ms`` (one word every 100 ms),
on a worker of its own.
"""

import asyncio
import random
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from activities.memory import SqliteMemoryStore
from client import Delta, MessageRejectedError, SessionClient, SessionNotFoundError
from models import ChatMessage, ChatReply, SessionConfig, SessionRef
from tests.conftest import make_settings
from tests.faults import figures
from tests.helpers import eventually, new_session_id
from tests.providers import TEST_PROVIDERS, RecordingModel
from worker.client import client_plugins
from worker.run import running_worker

WORDS = " ".join(f"w{i}" for i in range(60))  # 60 words: about 6 s of stream
ECHO = SessionConfig(model="echo")


@pytest.fixture(scope="module")
async def slow(
    dev_env: WorkflowEnvironment, dev_address: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[SessionClient]:
    """A SessionClient whose worker's echo waits 100 ms before each word."""
    settings = make_settings(dev_address, tmp_path_factory.mktemp("steer"), echo_delay_ms=100)
    client = await Client.connect(
        settings.connection.temporal_address, plugins=client_plugins(settings, TEST_PROVIDERS)
    )
    async with running_worker(client, settings, TEST_PROVIDERS):
        yield SessionClient(client, settings)


async def _processing(sessions: SessionClient, session_id: str) -> None:
    """Wait until the session runs a turn (it may not exist yet)."""

    async def status() -> str:
        try:
            return (await sessions.status(session_id)).status
        except SessionNotFoundError:
            return "none"

    await eventually(status, lambda s: s == "processing", interval=0.02)


async def test_cancel_keeps_the_partial_reply_and_the_next_message_runs(
    slow: SessionClient,
) -> None:
    session_id = new_session_id("cancel")
    waiting = asyncio.create_task(slow.send(session_id, WORDS, user_id="cy", config=ECHO))
    await _processing(slow, session_id)
    queued = asyncio.create_task(slow.send(session_id, "after", user_id="cy"))
    await asyncio.sleep(1.0)  # some words streamed

    result = await asyncio.wait_for(slow.cancel(session_id, user_id="cy"), timeout=10)
    reply = await asyncio.wait_for(waiting, timeout=10)

    assert result.status == "cancelled" and result.reply is not None
    assert reply.stop_reason == "cancelled" and result.reply == reply
    words = reply.reply.split()
    assert words[0] == "echo:" and 2 <= len(words) < 30, reply.reply
    assert (WORDS + " ").startswith(reply.reply.removeprefix("echo: ")), reply.reply
    assert (await asyncio.wait_for(queued, timeout=30)).reply == "echo: after"
    history = await slow.history(session_id, user_id="cy")
    assert [m.role for m in history] == ["user", "assistant", "user", "assistant"]
    assert (history[1].metadata or {})["stop_reason"] == "cancelled"
    assert history[1].message == reply.reply


async def test_cancel_during_a_streamed_turn_ends_the_stream_with_the_partial_reply(
    slow: SessionClient,
) -> None:
    session_id = new_session_id("cancel-stream")
    deltas: list[str] = []
    final: list[ChatReply] = []

    async def follow() -> None:
        async for item in slow.stream(session_id, WORDS, user_id="cy", config=ECHO):
            if isinstance(item, Delta):
                deltas.append(str(item))
            elif isinstance(item, ChatReply):
                final.append(item)

    follower = asyncio.create_task(follow())
    await eventually(lambda: asyncio.sleep(0, len(deltas)), lambda n: n >= 3)
    result = await slow.cancel(session_id, user_id="cy")
    await asyncio.wait_for(follower, timeout=10)
    assert result.status == "cancelled"
    assert final and final[0].stop_reason == "cancelled"
    assert "".join(deltas) == final[0].reply


async def test_cancel_with_nothing_running_is_a_clear_no_op(slow: SessionClient) -> None:
    session_id = new_session_id("cancel-idle")
    await slow.send(session_id, "hello", user_id="cy", config=SessionConfig(model="echo"))
    result = await slow.cancel(session_id, user_id="cy")
    assert result.status == "idle" and "nothing to cancel" in result.detail
    assert result.reply is None
    assert (await slow.send(session_id, "still fine", user_id="cy")).reply == "echo: still fine"
    assert (await slow.status(session_id)).issues == []


async def test_cancel_by_another_user_is_no_such_session(slow: SessionClient) -> None:
    session_id = new_session_id("cancel-other")
    waiting = asyncio.create_task(slow.send(session_id, WORDS, user_id="cy", config=ECHO))
    await _processing(slow, session_id)
    with pytest.raises(SessionNotFoundError, match="no such session"):
        await slow.cancel(session_id, user_id="mallory")
    with pytest.raises(SessionNotFoundError):
        await slow.cancel(new_session_id("nobody"), user_id="cy")
    reply = await asyncio.wait_for(waiting, timeout=30)
    assert reply.stop_reason == "end_turn" and reply.reply == f"echo: {WORDS}"


async def test_cancel_racing_the_end_of_the_turn_is_harmless(slow: SessionClient) -> None:
    session_id = new_session_id("cancel-race")
    config = SessionConfig(model="echo")
    outcomes: set[str] = set()
    # The session exists first: a cancel before its start would rightly be "no such session".
    await slow.send(session_id, "warm", user_id="cy", config=config)
    for attempt in range(8):
        text = "a b c"  # three words, about 300 ms
        waiting = asyncio.create_task(slow.send(session_id, text, user_id="cy", config=config))
        await asyncio.sleep(0.05 * attempt)
        result = await slow.cancel(session_id, user_id="cy")
        reply = await asyncio.wait_for(waiting, timeout=10)
        outcomes.add(result.status)
        if result.status == "cancelled":
            assert reply.stop_reason == "cancelled" and result.reply == reply
        elif result.status == "finished":
            assert reply.stop_reason == "end_turn" and result.reply == reply
        else:
            assert reply.reply == "echo: a b c"
    history = await slow.history(session_id, user_id="cy")
    assert len(history) == 18
    assert (await slow.send(session_id, "next", user_id="cy")).reply == "echo: next"
    assert "cancelled" in outcomes, outcomes
    print(f"cancel racing the end of a turn: outcomes {sorted(outcomes)}")


async def test_cancel_latency_p50_over_20_runs(slow: SessionClient) -> None:
    session_id = new_session_id("cancel-p50")
    config = SessionConfig(model="echo")
    latencies: list[float] = []
    for _ in range(20):
        waiting = asyncio.create_task(slow.send(session_id, WORDS, user_id="cy", config=config))
        await _processing(slow, session_id)
        await asyncio.sleep(0.3 + random.random())  # at any phase of the heartbeat
        started = time.perf_counter()
        result = await slow.cancel(session_id, user_id="cy")
        reply = await waiting
        latencies.append(time.perf_counter() - started)
        assert result.status == "cancelled" and reply.stop_reason == "cancelled"
    latencies.sort()
    p50, worst = latencies[len(latencies) // 2], latencies[-1]
    figures.record("cancel_turn", p50_seconds=round(p50, 3), max_seconds=round(worst, 3), runs=20)
    print(f"cancel latency p50 {p50:.3f}s max {worst:.3f}s: {[round(x, 3) for x in latencies]}")
    assert p50 < 2.0


# ---------------------------------------------------------------------- regenerate


def _last_model_input() -> list[str]:
    """The texts the recording model got in its last request, oldest first."""
    request = RecordingModel.requests[-1]
    return [block["text"] for message in request["messages"] for block in message["content"]]


async def test_regenerate_keeps_the_previous_reply_as_an_alternative(
    slow: SessionClient,
) -> None:
    session_id = new_session_id("regen")
    config = SessionConfig(model="recording", record_delay=timedelta(0))
    await slow.send(session_id, "first", user_id="rae", config=config)
    first = await slow.send(session_id, "second", user_id="rae", message_id="q-2")

    again = await slow.regenerate(session_id, user_id="rae")
    assert again.message_id == "q-2" and again.reply == "echo: second"
    assert again.reply_message_id != first.reply_message_id

    history = await slow.history(session_id, user_id="rae")
    assert [m.role for m in history] == ["user", "assistant", "user", "assistant", "assistant"]
    old, new = history[3], history[4]
    assert old.message_id == first.reply_message_id and new.message_id == again.reply_message_id
    assert (old.metadata or {})["alternative"] is True
    assert (old.metadata or {})["superseded_by"] == new.message_id
    assert (new.metadata or {})["replaces"] == old.message_id
    assert new.reply_to == old.reply_to == "q-2"

    # The regenerated turn saw only what came before the message; later turns see the new
    # reply and not the alternative.
    RecordingModel.requests.clear()
    await slow.send(session_id, "third", user_id="rae")
    seen = [
        block["text"] for m in RecordingModel.requests[-1]["messages"] for block in m["content"]
    ]
    assert seen == ["first", "echo: first", "second", "echo: second", "third"]

    # A repeat of the regenerated message id gets the current reply.
    repeat = await slow.send(session_id, "second", user_id="rae", message_id="q-2")
    assert repeat.duplicate and repeat.reply_message_id == again.reply_message_id

    # Both replies are in memory; the new one names the one it replaces.
    async def stored() -> list[ChatMessage]:
        store = SqliteMemoryStore(slow.settings.memory.memory_db_path)
        try:
            ref = SessionRef(tenant_id="default", session_id=session_id, user_id="rae")
            return await store.recent_messages(ref, 20)
        finally:
            await store.close()

    messages = await eventually(stored, lambda ms: len(ms) >= 7)
    replies = [m for m in messages if m.reply_to == "q-2"]
    assert {m.message_id for m in replies} == {old.message_id, new.message_id}
    assert any((m.metadata or {}).get("replaces") == old.message_id for m in replies)


async def test_regenerate_refusals(slow: SessionClient) -> None:
    session_id = new_session_id("regen-no")
    with pytest.raises(SessionNotFoundError):
        await slow.regenerate(session_id, user_id="rae")
    await slow.send(session_id, "mine", user_id="rae", config=ECHO)
    with pytest.raises(SessionNotFoundError, match="no such session"):
        await slow.regenerate(session_id, user_id="mallory")
    waiting = asyncio.create_task(slow.send(session_id, WORDS, user_id="rae"))
    await _processing(slow, session_id)
    with pytest.raises(MessageRejectedError) as busy:
        await slow.regenerate(session_id, user_id="rae")
    assert busy.value.kind == "SessionBusy"
    await slow.cancel(session_id, user_id="rae")
    await waiting
    # After the cancel the last message can be run again in full.
    again = await slow.regenerate(session_id, user_id="rae")
    assert again.reply == f"echo: {WORDS}" and again.stop_reason == "end_turn"
    history = await slow.history(session_id, user_id="rae")
    assert len(history) == 5 and history[-1].message_id == again.reply_message_id


# ---------------------------------------------------------------------------- fork


async def test_fork_starts_a_new_session_of_the_same_owner(slow: SessionClient) -> None:
    source = new_session_id("fork-src")
    config = SessionConfig(model="recording")
    for text in ("one", "two", "three"):
        await slow.send(source, text, user_id="fo", config=config)
    target = new_session_id("fork-new")

    result = await slow.fork(source, 3, target, user_id="fo")
    assert result.messages == 4 and result.user_id == "fo" and result.forked_from == source

    forked = await slow.history(target, user_id="fo")
    assert [m.message for m in forked] == ["one", "echo: one", "two", "echo: two"]
    assert [m.seq for m in forked] == [0, 1, 2, 3]
    assert all((m.metadata or {})["forked_from"]["session_id"] == source for m in forked)
    status = await slow.status(target)
    assert status.user_id == "fo" and status.total_messages == 4
    assert (await slow.config(target)).model == "recording"

    RecordingModel.requests.clear()
    reply = await slow.send(target, "four", user_id="fo")
    assert reply.reply == "echo: four"
    seen = [
        block["text"] for m in RecordingModel.requests[-1]["messages"] for block in m["content"]
    ]
    assert seen == ["one", "echo: one", "two", "echo: two", "four"]
    # The source is untouched.
    assert len(await slow.history(source, user_id="fo")) == 6


async def test_fork_refusals(slow: SessionClient) -> None:
    source = new_session_id("fork-no")
    await slow.send(source, "secret", user_id="fo", config=ECHO)
    stolen = new_session_id("fork-stolen")
    with pytest.raises(SessionNotFoundError, match="no such session"):
        await slow.fork(source, 1, stolen, user_id="mallory")
    with pytest.raises(SessionNotFoundError):
        await slow.history(stolen)  # nothing was started
    with pytest.raises(SessionNotFoundError):
        await slow.fork(new_session_id("missing"), 0, stolen, user_id="fo")
    with pytest.raises(MessageRejectedError) as bad:
        await slow.fork(source, 7, stolen, user_id="fo")
    assert bad.value.kind == "InvalidMessage" and "0..1" in str(bad.value)
    taken = new_session_id("fork-taken")
    await slow.send(taken, "already here", user_id="fo", config=ECHO)
    with pytest.raises(MessageRejectedError) as exists:
        await slow.fork(source, 1, taken, user_id="fo")
    assert exists.value.kind == "SessionExists"
    assert len(await slow.history(taken)) == 2


async def test_fork_of_a_session_that_continued_as_new(slow: SessionClient) -> None:
    source = new_session_id("fork-can")
    config = SessionConfig(model="echo", continue_as_new_events=100)
    for turn in range(8):
        await slow.send(source, f"turn {turn}", user_id="fo", config=config)
    await eventually(lambda: slow.status(source), lambda s: s.run >= 2 and s.status == "active")
    target = new_session_id("fork-can-new")
    result = await slow.fork(source, 9, target, user_id="fo")
    assert result.messages == 10
    forked = await slow.history(target, user_id="fo")
    assert forked[-1].message == "echo: turn 4"
    assert (await slow.send(target, "go on", user_id="fo")).reply == "echo: go on"


async def test_regenerate_in_a_fork_without_user_messages_is_refused(
    slow: SessionClient,
) -> None:
    source = new_session_id("fork-ctx")
    await slow.send(source, "hi", user_id="fo", config=ECHO, initial_context={"team": "x"})
    target = new_session_id("fork-ctx-new")
    await slow.fork(source, 0, target, user_id="fo")
    assert [m.role for m in await slow.history(target)] == ["system"]
    with pytest.raises(MessageRejectedError) as nothing:
        await slow.regenerate(target, user_id="fo")
    assert nothing.value.kind == "NothingToRegenerate"


@pytest.mark.local_model
async def test_cancel_stops_the_embedded_local_llm_mid_reply(slow: SessionClient) -> None:
    session_id = new_session_id("cancel-local")
    config = SessionConfig(model="local", system_prompt="You write long stories.")
    deltas: list[str] = []
    final: list[ChatReply] = []

    async def follow() -> None:
        prompt = "Write a very long story about a dragon who learns to fly over the sea."
        async for item in slow.stream(session_id, prompt, user_id="lu", config=config):
            if isinstance(item, Delta):
                deltas.append(str(item))
            elif isinstance(item, ChatReply):
                final.append(item)

    follower = asyncio.create_task(follow())
    await eventually(lambda: asyncio.sleep(0, len(deltas)), lambda n: n >= 5, timeout=120)
    result = await slow.cancel(session_id, user_id="lu")
    await asyncio.wait_for(follower, timeout=30)
    assert result.status == "cancelled", result
    assert final[0].stop_reason == "cancelled" and final[0].reply == "".join(deltas)
    assert final[0].reply.strip()
    again = await slow.send(session_id, "Now say hello in one word.", user_id="lu")
    assert again.reply.strip() and again.stop_reason in ("end_turn", "max_tokens")
