"""What every benchmark shares: a dev server, a worker, clients, timing and result files."""

import asyncio
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from client import SessionClient
from models import search_attributes as sa
from models.settings import Settings
from worker.client import client_plugins, connect_client
from worker.run import running_worker

RESULTS = Path(__file__).resolve().parent / "results"


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by linear interpolation."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summary_ms(seconds: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99/mean of durations, in milliseconds."""
    ms = [s * 1000 for s in seconds]
    return {
        "n": len(ms),
        "p50": round(percentile(ms, 50), 2),
        "p95": round(percentile(ms, 95), 2),
        "p99": round(percentile(ms, 99), 2),
        "mean": round(statistics.fmean(ms), 2) if ms else float("nan"),
    }


def machine() -> dict[str, Any]:
    """The machine the numbers come from."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        commit = ""
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "commit": commit,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def save(name: str, result: dict[str, Any], command: str) -> Path:
    """Write one benchmark's result (with machine and command) to bench/results/NAME.json."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    document = {"benchmark": name, "command": command, "machine": machine(), "result": result}
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


def progress(message: str) -> None:
    """A progress line on stderr (benchmarks take a while)."""
    sys.stderr.write(f"[{time.strftime('%H:%M:%S')}] {message}\n")
    sys.stderr.flush()


async def dev_environment(dynamic_config: dict[str, int] | None = None) -> WorkflowEnvironment:
    """An in-memory dev server with our search attributes (and ``dynamic_config`` server
    settings, for a benchmark that compares them)."""
    flags: list[str] = []
    for key, value in (dynamic_config or {}).items():
        flags += ["--dynamic-config-value", f"{key}={value}"]
    return await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(Path(sys.executable).parent / "temporal"),
        search_attributes=sa.ALL_KEYS,
        dev_server_log_level="error",
        dev_server_extra_args=flags,
    )


@dataclass
class ProcessStack:
    """A dev server, a worker subprocess (``python -m bench.worker``) and a client."""

    env: WorkflowEnvironment
    settings: Settings
    sessions: SessionClient
    worker: asyncio.subprocess.Process

    @property
    def client(self) -> Client:
        """The Temporal client (with the Strands plugin)."""
        return self.sessions.temporal


@contextlib.asynccontextmanager
async def process_stack(
    data_dir: Path, *, dynamic_config: dict[str, int] | None = None, **settings: Any
) -> AsyncIterator[ProcessStack]:
    """Start an in-memory dev server and a worker in its own process."""
    env = await dev_environment(dynamic_config)
    worker: asyncio.subprocess.Process | None = None
    try:
        values: dict[str, Any] = {
            "temporal_address": str(env.client.service_client.config.target_host),
            "task_queue": f"bench-{uuid.uuid4().hex[:6]}",
            "data_dir": data_dir,
            "model": "echo",
        }
        values.update(settings)
        config = Settings(**values)
        environment = {**os.environ, **config.to_env()}
        log = (data_dir / "worker.log").open("wb")
        worker = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.worker",
            env=environment,
            stdout=asyncio.subprocess.PIPE,
            stderr=log,
            cwd=Path(__file__).resolve().parent.parent,
        )
        assert worker.stdout is not None
        ready = await asyncio.wait_for(worker.stdout.readline(), 60)
        if ready.strip() != b"ready":
            raise RuntimeError(f"bench worker did not start; see {data_dir / 'worker.log'}")
        sessions = SessionClient(await connect_client(config), config)
        yield ProcessStack(env, config, sessions, worker)
    except Exception:
        _show_worker_log(data_dir / "worker.log")  # the data dir is often temporary
        raise
    finally:
        if worker is not None and worker.returncode is None:
            worker.terminate()
            await asyncio.wait_for(worker.wait(), 60)
        await env.shutdown()


def _show_worker_log(path: Path, lines: int = 60) -> None:
    """The end of a failed run's worker log, on stderr."""
    if path.exists():
        tail = path.read_text(errors="replace").splitlines()[-lines:]
        progress(f"the run failed; the end of {path}:\n" + "\n".join(tail))


def rss_mb(pid: int) -> float:
    """Resident memory of a process, in MB."""
    import psutil

    return float(psutil.Process(pid).memory_info().rss) / 1e6


class CpuMeter:
    """CPU seconds spent by the worker process and by the dev server, between marks."""

    def __init__(self, worker_pid: int) -> None:
        """Watch the worker ``worker_pid`` and the ``temporal`` dev server we started."""
        import psutil

        self._worker = psutil.Process(worker_pid)
        servers = [p for p in psutil.Process().children(recursive=True) if "temporal" in p.name()]
        self._server = servers[0] if servers else None
        self._start = self._read()

    def _read(self) -> tuple[float, float]:
        def used(process: Any) -> float:
            if process is None:
                return 0.0
            times = process.cpu_times()
            return float(times.user + times.system)

        return used(self._worker), used(self._server)

    def per_turn_ms(self, turns: int) -> dict[str, float]:
        """Worker and server CPU ms per turn since the last call (or construction)."""
        now = self._read()
        worker, server = (
            (b - a) * 1000 / max(turns, 1) for a, b in zip(self._start, now, strict=True)
        )
        self._start = now
        return {
            "worker_cpu_ms_per_turn": round(worker, 2),
            "server_cpu_ms_per_turn": round(server, 2),
        }


async def history_cost(
    client: Client, workflow_id: str, run_id: str | None = None
) -> tuple[int, int]:
    """(events, bytes) of one run's history."""
    history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
    return len(history.events), sum(event.ByteSize() for event in history.events)


@dataclass
class Stack:
    """A dev server, a worker on it, and clients."""

    env: WorkflowEnvironment
    client: Client
    settings: Settings
    sessions: SessionClient


@contextlib.asynccontextmanager
async def stack(data_dir: Path, **settings: Any) -> AsyncIterator[Stack]:
    """Start an in-memory dev server and one in-process worker."""
    env = await dev_environment()
    try:
        values: dict[str, Any] = {
            "temporal_address": str(env.client.service_client.config.target_host),
            "task_queue": f"bench-{uuid.uuid4().hex[:6]}",
            "data_dir": data_dir,
            "model": "echo",
        }
        values.update(settings)
        config = Settings(**values)
        client = await Client.connect(
            config.connection.temporal_address, plugins=client_plugins(config)
        )
        async with running_worker(client, config):
            yield Stack(env, client, config, SessionClient(client, config))
    finally:
        await env.shutdown()
