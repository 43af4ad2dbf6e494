"""Steering on a real dev server: cancel a running turn, regenerate, fork.

Slow streams come from the echo provider with ``echo_delay_ms`` (one word every 100 ms),
on a worker of its own.
"""

import asyncio
import random
import time
from collections.abc import AsyncIterator

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from client import Delta, SessionClient, SessionNotFoundError
from models import ChatReply, SessionConfig
from tests.conftest import make_settings
from tests.faults import figures
from tests.helpers import eventually, new_session_id
from tests.providers import TEST_PROVIDERS
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
        settings.temporal_address, plugins=client_plugins(settings, TEST_PROVIDERS)
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
    assert len(history) == 16
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
