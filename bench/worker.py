"""A worker process for benchmarks: the session workflow and the floor, as users would run it.

``python -m bench.worker`` reads ``CONVOFLOW_*`` settings from the environment; benchmarks
start it as a subprocess so its memory can be measured on its own.
"""

import asyncio
import os
import sys
from pathlib import Path

from bench.floor import FloorWorkflow, floor_echo
from bench.profiling import AllThreads
from models.settings import Settings
from worker.client import connect_client
from worker.lifecycle import stop_signals
from worker.run import build_worker, open_memory_store

PROFILE_ENV = "CONVOFLOW_BENCH_PROFILE"
"""With this set to a path, the worker profiles itself (every thread) and writes it there."""


async def serve() -> None:
    """Run until SIGTERM/SIGINT."""
    profile_path = os.environ.get(PROFILE_ENV)
    profiler = AllThreads() if profile_path else None
    if profiler is not None:
        profiler.start()
    settings = Settings()
    client = await connect_client(settings)
    store = open_memory_store(settings)
    worker = build_worker(
        client,
        settings,
        store,
        extra_workflows=[FloorWorkflow],
        extra_activities=[floor_echo],
    )
    async with stop_signals() as stop, worker:
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        await stop.wait()
    await store.close()
    if profiler is not None and profile_path:
        profiler.dump(Path(profile_path))


if __name__ == "__main__":
    asyncio.run(serve())
    sys.stdout.flush()
    os._exit(0)
