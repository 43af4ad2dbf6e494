"""Scale-out: several ``convoflow worker`` processes on one task queue, one SIGKILLed mid-run.

Every session sends its turns one after another while the workers share the task queue;
once a fraction of all turns are answered, one worker is killed (no graceful shutdown). The
others take its sessions over: its workflow tasks come back after the sticky timeout, its
model calls after their heartbeat timeout. Each turn's worker is read from the history (the
identity on the ``invoke_model`` activity that answered it), and every session's messages
are checked: each sent message exactly once, answered once, in order.
"""

import argparse
import asyncio
import collections
import contextlib
import os
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import EventType, TimeoutType
from temporalio.client import Client

from bench.harness import dev_environment, progress, save, summary_ms
from client import SessionClient
from models import ChatMessage, SessionConfig
from models.settings import Settings
from worker.client import connect_client

READY_LINE = b"worker polling task queue"
ROOT = Path(__file__).resolve().parent.parent
# A killed worker's model calls retry elsewhere after this (the default is 30 s).
HEARTBEAT = timedelta(seconds=2)


@dataclass
class Fleet:
    """Worker processes on one task queue; ``names`` maps each identity to its index."""

    processes: list[asyncio.subprocess.Process] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)

    def identity(self, index: int) -> str:
        """The SDK's default worker identity of worker ``index`` (``pid@host``)."""
        return f"{self.processes[index].pid}@{os.uname().nodename}"

    def index_of(self) -> dict[str, int]:
        """Identity -> worker index."""
        return {self.identity(i): i for i in range(len(self.processes))}

    async def kill(self, index: int) -> None:
        """SIGKILL worker ``index`` and reap it."""
        process = self.processes[index]
        if process.returncode is None:
            process.send_signal(signal.SIGKILL)
        await process.wait()


@contextlib.asynccontextmanager
async def worker_fleet(
    count: int, environment: dict[str, str], log_dir: Path
) -> AsyncIterator[Fleet]:
    """Start ``count`` ``convoflow worker`` processes; SIGTERM the survivors on exit."""
    fleet = Fleet()
    try:
        for index in range(count):
            log = log_dir / f"worker-{index}.log"
            with log.open("wb") as out:
                process = await asyncio.create_subprocess_exec(
                    *(sys.executable, "-m", "cli.main", "worker"),
                    env={**os.environ, **environment},
                    stdout=out,
                    stderr=out,
                    stdin=asyncio.subprocess.DEVNULL,
                    cwd=ROOT,
                )
            fleet.processes.append(process)
            fleet.logs.append(log)
        deadline = time.monotonic() + 90
        for process, log in zip(fleet.processes, fleet.logs, strict=True):
            while READY_LINE not in log.read_bytes():
                if process.returncode is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"worker did not start; see {log}")
                await asyncio.sleep(0.1)
        yield fleet
    finally:
        for process in fleet.processes:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
        for process in fleet.processes:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), 30)
            if process.returncode is None:
                process.kill()
                await process.wait()


def worker_environment(settings: Settings, tuning: dict[str, str]) -> dict[str, str]:
    """The ``CONVOFLOW_*`` environment of the fleet (``tuning``: extra variables)."""
    return {
        "CONVOFLOW_TEMPORAL_ADDRESS": settings.connection.temporal_address,
        "CONVOFLOW_TASK_QUEUE": settings.connection.task_queue,
        "CONVOFLOW_DATA_DIR": str(settings.memory.data_dir),
        "CONVOFLOW_MODEL": "echo",
        "CONVOFLOW_ECHO_DELAY_MS": str(settings.providers.echo_delay_ms),
        **tuning,
    }


@dataclass
class Served:
    """What one session's histories say about who served it."""

    calls: list[tuple[str, int]] = field(default_factory=list)
    """(worker identity, attempt) of every answered model call, in order."""
    task_timeouts: collections.Counter[str] = field(default_factory=collections.Counter)
    """Workflow tasks that timed out, by kind (a killed worker's sticky or running tasks)."""


async def served_by(client: Client, workflow_id: str) -> Served:
    """Who answered each model call of ``workflow_id``, and its timed-out tasks, all runs."""
    served = Served()
    calls = served.calls
    run_id: str | None = None
    description = await client.get_workflow_handle(workflow_id).describe()
    run_id = description.run_id
    while run_id:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        scheduled = {
            event.event_id: event.activity_task_scheduled_event_attributes.activity_type.name
            for event in history.events
            if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        }
        started = {
            event.event_id: event.activity_task_started_event_attributes
            for event in history.events
            if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
        }
        for event in history.events:
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
                kind = event.workflow_task_timed_out_event_attributes.timeout_type
                served.task_timeouts[TimeoutType.Name(kind).removeprefix("TIMEOUT_TYPE_")] += 1
            if event.event_type != EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
                continue
            done = event.activity_task_completed_event_attributes
            if scheduled.get(done.scheduled_event_id) == "invoke_model":
                attributes = started[done.started_event_id]
                calls.append((attributes.identity, attributes.attempt))
        first = history.events[0].workflow_execution_started_event_attributes
        run_id = first.continued_execution_run_id or None
    return served


def check_conversation(messages: Sequence[ChatMessage], sent: Sequence[str]) -> tuple[int, int]:
    """(lost, duplicated) user messages of one session, against what was sent."""
    users = [m.message for m in messages if m.role == "user"]
    counts = collections.Counter(users)
    lost = sum(1 for text in sent if counts[text] == 0)
    duplicated = sum(n - 1 for n in counts.values() if n > 1)
    replies = collections.Counter(m.reply_to for m in messages if m.role != "user")
    duplicated += sum(n - 1 for n in replies.values() if n > 1)
    lost += sum(1 for m in messages if m.role == "user" and replies[m.message_id] == 0)
    return lost, duplicated


async def run_sessions(
    sessions: SessionClient,
    count: int,
    turns: int,
    *,
    kill_at: float | None,
    kill: Any,
) -> dict[str, Any]:
    """``count`` sessions of ``turns`` sequential turns; ``kill()`` once ``kill_at`` of
    all turns are answered. Returns latencies, timings and the session ids."""
    config = SessionConfig(model="echo", model_heartbeat_timeout=HEARTBEAT)
    ids = [f"scale-{uuid.uuid4().hex[:8]}" for _ in range(count)]
    total = count * turns
    answered = 0
    done: dict[str, int] = dict.fromkeys(ids, 0)
    done_at_kill: dict[str, int] = {}
    killed = asyncio.Event()
    latencies: list[float] = []
    after_kill: list[float] = []
    kill_time: list[float] = []

    async def lane(session_id: str) -> None:
        nonlocal answered
        for turn in range(turns):
            began = time.perf_counter()
            await sessions.send(
                session_id,
                f"turn {turn}",
                message_id=f"{session_id}-t{turn}",
                user_id="bench-user",
                config=config,
            )
            took = time.perf_counter() - began
            latencies.append(took)
            if killed.is_set():
                after_kill.append(took)
            answered += 1
            done[session_id] += 1
            if kill_at is not None and not killed.is_set() and answered >= kill_at * total:
                killed.set()
                kill_time.append(time.perf_counter())
                done_at_kill.update(done)
                await kill()

    started = time.perf_counter()
    await asyncio.gather(*(lane(s) for s in ids))
    elapsed = time.perf_counter() - started
    return {
        "ids": ids,
        "done_at_kill": done_at_kill,
        "elapsed_s": elapsed,
        "latency": summary_ms(latencies),
        "latency_after_kill": summary_ms(after_kill) if after_kill else None,
        "killed_after_s": round(kill_time[0] - started, 2) if kill_time else None,
    }


async def verify(
    sessions: SessionClient,
    ids: Sequence[str],
    turns: int,
    fleet: Fleet,
    done_at_kill: dict[str, int],
) -> dict[str, Any]:
    """Per-worker turn counts from the histories, the sessions worker-0 was serving when
    it died and how many of them the others finished, lost and duplicated messages."""
    names = fleet.index_of()
    per_worker: collections.Counter[str] = collections.Counter()
    timeouts: collections.Counter[str] = collections.Counter()
    retried = lost = duplicated = on_killed = taken_over = moved = 0
    for session_id in ids:
        handle = sessions.handle(session_id)
        workers = []
        served = await served_by(sessions.temporal, handle.id)
        timeouts.update(served.task_timeouts)
        for identity, attempt in served.calls:
            workers.append(f"worker-{names.get(identity, identity)}")
            retried += attempt > 1
        per_worker.update(workers)
        moved += len(set(workers)) > 1
        # Sessions worker-0 was serving when it died (its last answered turn ran there) with
        # turns still to come: every one of those must have been answered elsewhere.
        before = done_at_kill.get(session_id, turns)
        if 0 < before < turns and workers[before - 1] == "worker-0":
            on_killed += 1
            taken_over += len(workers) == turns and "worker-0" not in workers[before + 1 :]
        messages = await sessions.history(session_id)
        missing, repeated = check_conversation(messages, [f"turn {t}" for t in range(turns)])
        lost, duplicated = lost + missing, duplicated + repeated
    return {
        "turns_per_worker": dict(sorted(per_worker.items())),
        "model_calls": sum(per_worker.values()),
        "model_calls_retried": retried,
        "workflow_task_timeouts": dict(timeouts),
        "sessions_on_worker_0_at_kill": on_killed,
        "sessions_continued_elsewhere": taken_over,
        "sessions_on_several_workers": moved,
        "lost": lost,
        "duplicated": duplicated,
    }


async def run(
    workers: int,
    count: int,
    turns: int,
    *,
    kill_at: float | None,
    echo_delay_ms: float,
    tuning: dict[str, str],
) -> dict[str, Any]:
    """One run on a fresh dev server; the result figures."""
    env = await dev_environment()
    try:
        with tempfile.TemporaryDirectory() as data_dir:
            settings = Settings(
                temporal_address=str(env.client.service_client.config.target_host),
                task_queue=f"scale-{uuid.uuid4().hex[:6]}",
                data_dir=Path(data_dir),
                model="echo",
                echo_delay_ms=echo_delay_ms,
            )
            environment = worker_environment(settings, tuning)
            async with worker_fleet(workers, environment, Path(data_dir)) as fleet:
                sessions = SessionClient(await connect_client(settings), settings)
                progress(f"scaleout: {count} sessions x {turns} turns on {workers} workers")
                timing = await run_sessions(
                    sessions, count, turns, kill_at=kill_at, kill=lambda: fleet.kill(0)
                )
                ids, at_kill = timing.pop("ids"), timing.pop("done_at_kill")
                checked = await verify(sessions, ids, turns, fleet, at_kill)
    finally:
        await env.shutdown()
    elapsed = timing.pop("elapsed_s")
    return {
        "workers": workers,
        "sessions": count,
        "turns_per_session": turns,
        "killed": "worker-0" if kill_at is not None else None,
        "tuning": tuning,
        "turns_per_s": round(count * turns / elapsed, 1),
        "elapsed_s": round(elapsed, 2),
        **timing,
        **checked,
    }


TUNING_FLAGS = {
    "max_cached_workflows": "CONVOFLOW_MAX_CACHED_WORKFLOWS",
    "workflow_pollers": "CONVOFLOW_WORKFLOW_TASK_POLLERS",
    "activity_pollers": "CONVOFLOW_ACTIVITY_TASK_POLLERS",
    "sticky_ratio": "CONVOFLOW_NONSTICKY_TO_STICKY_POLL_RATIO",
    "sticky_timeout": "CONVOFLOW_STICKY_SCHEDULE_TO_START_SECONDS",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``python -m bench scaleout``."""
    parser.add_argument("--workers", type=int, default=3, help="worker processes")
    parser.add_argument("--sessions", type=int, default=200, help="concurrent sessions")
    parser.add_argument("--turns", type=int, default=5, help="turns per session")
    parser.add_argument(
        "--kill-at", type=float, default=0.3, help="kill worker-0 after this share of turns"
    )
    parser.add_argument("--no-kill", action="store_true", help="kill no worker")
    parser.add_argument("--echo-delay-ms", type=float, default=5.0, help="echo pacing")
    parser.add_argument("--save-as", default="scaleout", help="result file name")
    for flag in TUNING_FLAGS:
        parser.add_argument(f"--{flag.replace('_', '-')}", help=f"worker {flag} (its default)")


async def main(args: argparse.Namespace, command: str) -> dict[str, Any]:
    """Run and save."""
    tuning = {
        variable: str(getattr(args, flag))
        for flag, variable in TUNING_FLAGS.items()
        if getattr(args, flag) is not None
    }
    result = await run(
        args.workers,
        args.sessions,
        args.turns,
        kill_at=None if args.no_kill else args.kill_at,
        echo_delay_ms=args.echo_delay_ms,
        tuning=tuning,
    )
    save(args.save_as, result, command)
    return result
