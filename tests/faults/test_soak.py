"""Soak: many sessions talk while the only worker is SIGKILLed and restarted at random points.

Every message must get exactly one reply; each session's history (and the memory store) must
hold every message once, in send order, with contiguous sequence numbers; no workflow task
may fail; and every run's history must replay against the current code.

Sizes come from the environment (defaults are the CI soak, a few minutes on 2 cores):

    CONVOFLOW_SOAK_SESSIONS=20 CONVOFLOW_SOAK_TURNS=300 CONVOFLOW_SOAK_KILLS=10 \
    CONVOFLOW_SOAK_SEED=<int> CONVOFLOW_SOAK_DEADLINE=480 \
    .venv/bin/pytest -s tests/faults/test_soak.py
"""

import asyncio
import os
import random
import statistics
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest

from activities.memory import SqliteMemoryStore
from client import SessionClient
from client.errors import MessageRejectedError, TurnFailedError
from models import ChatMessage, ChatReply, SessionConfig, SessionRef
from models.settings import Settings
from tests.conftest import make_settings
from tests.faults import figures
from tests.faults.checks import replay_sessions
from tests.faults.procs import WorkerProcess
from tests.helpers import eventually
from worker.client import connect_client

SESSIONS = int(os.environ.get("CONVOFLOW_SOAK_SESSIONS", "20"))
TURNS = int(os.environ.get("CONVOFLOW_SOAK_TURNS", "300"))
KILLS = int(os.environ.get("CONVOFLOW_SOAK_KILLS", "10"))
SEED = int(os.environ.get("CONVOFLOW_SOAK_SEED", str(random.SystemRandom().randrange(10**6))))
DEADLINE = float(os.environ.get("CONVOFLOW_SOAK_DEADLINE", "480"))
SEND_TIMEOUT = 120.0  # one attempt of one send; a retry uses the same message id

# Small windows so the soak also trims and continues-as-new under fire.
CONFIG = SessionConfig(
    model_heartbeat_timeout=timedelta(seconds=2),
    model_max_attempts=50,
    max_messages=12,
    continue_as_new_events=150,
)


@dataclass
class Sent:
    """One message as the sender saw it."""

    message_id: str
    text: str
    attempts: int = 0
    seconds: float = 0.0
    replies: list[ChatReply] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@dataclass
class Soak:
    """Shared progress of the senders, read by the killer."""

    done: int = 0
    done_at_restart: int = 0
    finished: bool = False
    kill_times: list[float] = field(default_factory=list)


async def _send_until_answered(
    sessions: SessionClient, session_id: str, user: str, sent: Sent, deadline: float
) -> None:
    """Send, retrying the same message id until there is an answer (or the deadline)."""
    began = time.monotonic()
    while True:
        sent.attempts += 1
        try:
            reply = await asyncio.wait_for(
                sessions.send(
                    session_id,
                    sent.text,
                    user_id=user,
                    message_id=sent.message_id,
                    config=CONFIG,
                ),
                SEND_TIMEOUT,
            )
            sent.replies.append(reply)
            break
        except TurnFailedError as err:  # the model failed after its retries: a lost reply
            sent.errors.append(f"turn failed: {err}")
            break
        except MessageRejectedError as err:
            if err.kind == "InvalidMessage":
                raise
            sent.errors.append(f"{err.kind}: {err}")
        except Exception as err:  # the client call itself: retry with the same id
            sent.errors.append(f"{type(err).__name__}: {err}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{sent.message_id} unanswered at the deadline: {sent.errors}")
        await asyncio.sleep(0.5)
    sent.seconds = time.monotonic() - began


async def _converse(
    sessions: SessionClient,
    session_id: str,
    user: str,
    turns: int,
    log: list[Sent],
    soak: Soak,
    deadline: float,
) -> None:
    for turn in range(turns):
        sent = Sent(f"{session_id}-m{turn:03d}", f"turn {turn} of {session_id}: ünïcode ✓ {turn}")
        log.append(sent)
        await _send_until_answered(sessions, session_id, user, sent, deadline)
        soak.done += 1


async def _killer(
    worker: WorkerProcess, soak: Soak, rng: random.Random, total: int, deadline: float
) -> None:
    """SIGKILL the worker at ``KILLS`` random points spread over the run; restart it."""
    low, high = max(1, total // 20), max(2, total * 9 // 10)
    points = sorted(rng.randint(low, high) for _ in range(KILLS))
    for point in points:
        # Kill only once the restarted worker has done some work, so kills do not pile up.
        while not soak.finished and (soak.done < point or soak.done <= soak.done_at_restart):
            if time.monotonic() > deadline:
                return
            await asyncio.sleep(0.02)
        if soak.finished:
            return
        await asyncio.sleep(rng.uniform(0.0, 0.4))  # land anywhere in a turn
        await worker.kill()
        soak.kill_times.append(time.monotonic())
        await asyncio.sleep(rng.uniform(0.0, 1.0))  # nobody serving for a moment
        soak.done_at_restart = soak.done
        await worker.start()


def _check_conversation(
    messages: list[ChatMessage], log: list[Sent], what: str, *, complete: bool
) -> None:
    """User messages in send order, each followed by its one echo reply, seqs contiguous."""
    seqs = [m.seq for m in messages]
    first = seqs[0] or 0 if seqs else 0
    assert seqs == list(range(first, first + len(seqs))), f"{what}: seq gap/dup {seqs}"
    if complete:
        assert first == 0, f"{what}: starts at seq {first}"
    ids = [m.message_id for m in messages]
    assert len(ids) == len(set(ids)), f"{what}: a message id appears twice"
    expected = log[-(len(messages) // 2) :] if messages else []
    assert len(messages) % 2 == 0, f"{what}: odd message count {len(messages)}"
    if complete:
        assert len(messages) == 2 * len(log), f"{what}: {len(messages)} messages, {len(log)} sent"
    for index, sent in enumerate(expected):
        user, reply = messages[2 * index], messages[2 * index + 1]
        assert user.role == "user" and user.message_id == sent.message_id, (what, user, sent)
        assert user.message == sent.text, (what, user)
        assert reply.role == "assistant", f"{what}: {sent.message_id} got {reply.role}: {reply}"
        assert reply.reply_to == sent.message_id, (what, reply)
        assert reply.message == f"echo: {sent.text}", (what, reply)


async def _verify_session(
    sessions: SessionClient, settings: Settings, session_id: str, log: list[Sent]
) -> tuple[int, int]:
    """Check one session's history, status, memory store and runs; return (runs, replayed)."""
    history = await sessions.history(session_id)
    _check_conversation(history, log, f"{session_id} history", complete=False)
    assert history[-1].seq == 2 * len(log) - 1, (session_id, history[-1])
    status = await sessions.status(session_id)
    assert status.turns == len(log) and status.total_messages == 2 * len(log), status
    assert status.queued == 0 and status.issues == [], status

    store = SqliteMemoryStore(settings.memory.memory_db_path)
    ref = SessionRef(tenant_id="default", session_id=session_id)
    wanted = 2 * len(log)
    try:

        async def stored() -> list[ChatMessage]:
            return await store.list_messages(ref, after_seq=-1, limit=10_000)

        in_store = await eventually(
            stored, lambda got: len(got) >= wanted, timeout=180, interval=0.5
        )
    finally:
        await store.close()
    _check_conversation(in_store, log, f"{session_id} store", complete=True)

    return await replay_sessions(sessions, [session_id])


@pytest.mark.timeout(int(DEADLINE) + 300)
async def test_soak_with_worker_kills(dev_address: str, tmp_path: Path) -> None:
    assert SESSIONS >= 1 and TURNS >= SESSIONS
    rng = random.Random(SEED)
    print(f"\nsoak: {SESSIONS} sessions, {TURNS} turns, {KILLS} kills, seed {SEED}")
    queue = f"soak-{uuid.uuid4().hex[:8]}"
    data_dir = tmp_path / "data"
    settings = make_settings(dev_address, data_dir, task_queue=queue)
    client = await connect_client(settings)
    sessions = SessionClient(client, settings)
    worker = WorkerProcess(dev_address, queue, data_dir, tmp_path, echo_delay_ms=20)

    prefix = f"soak-{uuid.uuid4().hex[:6]}"
    session_ids = [f"{prefix}-{index:02d}" for index in range(SESSIONS)]
    turns = [
        TURNS // SESSIONS + (1 if index < TURNS % SESSIONS else 0) for index in range(SESSIONS)
    ]
    logs: dict[str, list[Sent]] = {session_id: [] for session_id in session_ids}
    soak = Soak()
    began = time.monotonic()
    deadline = began + DEADLINE

    await worker.start()
    try:
        killer = asyncio.create_task(_killer(worker, soak, rng, TURNS, deadline))
        try:
            await asyncio.gather(
                *(
                    _converse(sessions, sid, f"user-{i}", turns[i], logs[sid], soak, deadline)
                    for i, sid in enumerate(session_ids)
                )
            )
        finally:
            soak.finished = True
            await killer
        elapsed = time.monotonic() - began
        if not worker.running:
            await worker.start()

        # ---- every message answered exactly once, in order, nothing lost or repeated
        sent_all = [sent for log in logs.values() for sent in log]
        lost = [s.message_id for s in sent_all if not s.replies]
        assert not lost, f"unanswered: {lost[:10]}"
        first_try_duplicates = [
            s.message_id for s in sent_all if s.attempts == 1 and s.replies[0].duplicate
        ]
        assert not first_try_duplicates, first_try_duplicates
        for sent in sent_all:
            assert sent.replies[0].message_id == sent.message_id
            assert sent.replies[0].reply == f"echo: {sent.text}", sent

        runs = replayed = 0
        for session_id in session_ids:
            session_runs, session_replayed = await _verify_session(
                sessions, settings, session_id, logs[session_id]
            )
            runs += session_runs
            replayed += session_replayed
    finally:
        await worker.stop()

    kills = len(soak.kill_times)
    assert kills >= KILLS, f"only {kills} kills happened"
    delays = sorted(s.seconds for s in sent_all)
    retried = sum(1 for s in sent_all if s.attempts > 1)
    figures.record(
        "soak",
        sessions=SESSIONS,
        turns=len(sent_all),
        kills=kills,
        seed=SEED,
        lost_messages=0,
        duplicate_replies_in_history=0,
        first_try_duplicate_replies=0,
        client_retries=retried,
        max_turn_delay_s=round(delays[-1], 2),
        p50_turn_delay_s=round(statistics.median(delays), 2),
        p95_turn_delay_s=round(delays[int(len(delays) * 0.95) - 1], 2),
        worker_restart_s_max=round(max(worker.startup_seconds), 2),
        workflow_runs=runs,
        histories_replayed=replayed,
        workflow_task_failures=0,
        wall_s=round(elapsed, 1),
    )
    print(f"soak figures: {figures.FIGURES['soak']}")
