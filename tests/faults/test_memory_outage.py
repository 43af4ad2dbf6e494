"""The memory store unavailable for a while: turns still answer, records catch up afterwards.

The embedded store is SQLite (WAL). Another connection takes an exclusive lock on the
database, so every write waits out the store's busy timeout (10 s) and fails with "database
is locked": the ``record_messages`` activity fails and Temporal retries it (unlimited
attempts, backoff up to a minute). Replies never wait for recording; once the lock is
released the records land, in order, with nothing missing.
"""

import asyncio
import sqlite3
import time
import uuid
from pathlib import Path

import pytest

from activities.memory import SqliteMemoryStore
from client import SessionClient
from models import ChatMessage, ChatReply, SessionConfig, SessionRef
from tests.conftest import make_settings
from tests.faults import figures
from tests.faults.checks import (
    expect_fixed,
    outcome_or_wedged,
    replay_sessions,
    task_failures,
)
from tests.helpers import assert_well_formed, eventually, new_session_id
from worker.client import connect_client
from worker.run import running_worker

OUTAGE_SECONDS = 15.0
TURNS_BEFORE = 2
TURNS_DURING = 3


@pytest.mark.timeout(600)
async def test_memory_store_locked_then_back(dev_address: str, tmp_path: Path) -> None:
    settings = make_settings(
        dev_address, tmp_path / "data", task_queue=f"memory-{uuid.uuid4().hex[:8]}"
    )
    client = await connect_client(settings)
    sessions = SessionClient(client, settings)
    config = SessionConfig(model="echo")
    session_id = new_session_id("memout")
    user = "alice"
    ref = SessionRef(tenant_id="default", session_id=session_id)

    async with running_worker(client, settings):
        reader = SqliteMemoryStore(settings.memory.memory_db_path)

        async def stored() -> list[ChatMessage]:
            return await reader.list_messages(ref, after_seq=-1, limit=1000)

        try:
            for turn in range(TURNS_BEFORE):
                await sessions.send(session_id, f"before {turn}", user_id=user, config=config)
            await eventually(stored, lambda got: len(got) == 2 * TURNS_BEFORE, timeout=60)

            lock = sqlite3.connect(settings.memory.memory_db_path, isolation_level=None)
            try:
                lock.execute("BEGIN EXCLUSIVE")
                outage_began = time.monotonic()
                latencies = []
                for turn in range(TURNS_DURING):
                    started = time.monotonic()
                    reply = await sessions.send(
                        session_id, f"during {turn}", user_id=user, config=config
                    )
                    latencies.append(time.monotonic() - started)
                    assert reply.reply == f"echo: during {turn}"

                async def outage_evidence() -> list[str]:
                    """Failed writes: a record activity retrying on the lock, or a turn whose
                    preparation (which records earlier turns in busy sessions) gave up."""
                    description = await sessions.handle(session_id).describe()
                    status = await sessions.status(session_id)
                    return [
                        *(
                            p.last_failure.message
                            for p in description.raw_description.pending_activities
                            if p.activity_type.name == "record_messages" and p.attempt >= 2
                        ),
                        *(i for i in status.issues if "preparing the turn failed" in i),
                    ]

                # The outage is real: writing has failed at least once.
                evidence = await eventually(outage_evidence, bool, timeout=90, interval=0.5)
                assert any("locked" in e or "timed out" in e for e in evidence), evidence
                assert len(await stored()) == 2 * TURNS_BEFORE  # nothing new landed
                remaining = OUTAGE_SECONDS - (time.monotonic() - outage_began)
                if remaining > 0:
                    await asyncio.sleep(remaining)
            finally:
                lock.rollback()
                lock.close()
            outage = time.monotonic() - outage_began

            total = 2 * (TURNS_BEFORE + TURNS_DURING)
            back = time.monotonic()
            in_store = await eventually(
                stored, lambda got: len(got) == total, timeout=180, interval=0.25
            )
            caught_up = time.monotonic() - back
            history = await sessions.history(session_id)
            assert_well_formed(history)
            assert [m.message_id for m in in_store] == [m.message_id for m in history]
            assert [m.seq for m in in_store] == list(range(total))

            status = await sessions.status(session_id)
            # Recording never gives up, so it never reports a failure; a turn whose recall
            # (and, for a busy session, whose recording of earlier turns) waited out the lock
            # says it answered without memories.
            assert not [i for i in status.issues if "recording" in i], status.issues
            assert all(
                "recall failed" in issue or "preparing the turn failed" in issue
                for issue in status.issues
            ), status.issues
            reply = await sessions.send(session_id, "after", user_id=user, config=config)
            assert reply.reply == "echo: after"
            await eventually(stored, lambda got: len(got) == total + 2, timeout=60)
            events = (await sessions.handle(session_id).fetch_history()).events
            assert not task_failures(events)
        finally:
            await reader.close()

    figures.record(
        "memory store outage",
        outage_s=round(outage, 1),
        turns_answered_during_outage=TURNS_DURING,
        turn_s_during_outage=[round(latency, 1) for latency in latencies],
        records_caught_up_s_after_release=round(caught_up, 1),
        issues_during_outage=len(status.issues),
        lost_messages=0,
    )

    # A fresh worker (no cached state) must replay the session's history to continue it.
    async with running_worker(client, settings):
        outcome = await outcome_or_wedged(
            sessions.handle(session_id),
            sessions.send(session_id, "after a restart", user_id=user, config=config),
        )
    if isinstance(outcome, list):
        figures.record("memory store outage", replays_after_outage="wedged (bug)")
    expect_fixed(
        not isinstance(outcome, list),
        "a fresh worker cannot continue the session (its workflow task fails): "
        f"{outcome[0] if isinstance(outcome, list) else ''}",
    )
    assert isinstance(outcome, ChatReply), outcome
    assert outcome.reply == "echo: after a restart"
    await replay_sessions(sessions, [session_id])
