"""A worker process for benchmarks: the session workflow and the floor, as users would run it.

``python -m bench.worker`` reads ``CONVOFLOW_*`` settings from the environment; benchmarks
start it as a subprocess so its memory can be measured on its own.
"""

import asyncio
import os
import signal
import sys

from temporalio.worker import Worker

from activities.memory import MemoryActivities
from activities.providers import model_factories
from bench.floor import FloorWorkflow, floor_echo
from models.settings import Settings
from worker.client import connect_client
from worker.run import open_memory_store
from workflows.session import SessionWorkflow


async def serve() -> None:
    """Run until SIGTERM/SIGINT."""
    settings = Settings()
    client = await connect_client(settings)
    store = open_memory_store(settings)
    memory = MemoryActivities(store, model_factories(settings))
    worker = Worker(
        client,
        task_queue=settings.task_queue,
        workflows=[SessionWorkflow, FloorWorkflow],
        activities=[*memory.all(), floor_echo],
        max_concurrent_workflow_tasks=settings.max_concurrent_workflow_tasks,
        max_concurrent_activities=settings.max_concurrent_activities,
        max_cached_workflows=settings.max_cached_workflows,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with worker:
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        await stop.wait()
    await store.close()


if __name__ == "__main__":
    asyncio.run(serve())
    sys.stdout.flush()
    os._exit(0)
