"""Throughput: concurrent sessions, turns per second, against the floor at the same concurrency."""

import argparse
import asyncio
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench.floor import FloorWorkflow, Ping
from bench.harness import CpuMeter, ProcessStack, process_stack, progress, save
from models import SessionConfig


async def floor_rate(stack: ProcessStack, concurrency: int, turns: int) -> float:
    """Turns/s of ``concurrency`` floor workflows doing ``turns`` updates each."""
    handles = [
        await stack.client.start_workflow(
            FloorWorkflow.run,
            id=f"floor-{uuid.uuid4().hex[:8]}",
            task_queue=stack.settings.connection.task_queue,
        )
        for _ in range(concurrency)
    ]
    await asyncio.gather(*(h.execute_update(FloorWorkflow.ping, Ping("warm")) for h in handles))

    async def lane(handle: Any) -> None:
        for turn in range(turns):
            await handle.execute_update(FloorWorkflow.ping, Ping(f"turn {turn}"))

    started = time.perf_counter()
    await asyncio.gather(*(lane(h) for h in handles))
    elapsed = time.perf_counter() - started
    await asyncio.gather(*(h.signal(FloorWorkflow.stop) for h in handles))
    return concurrency * turns / elapsed


async def session_rate(stack: ProcessStack, concurrency: int, turns: int) -> float:
    """Turns/s of ``concurrency`` sessions doing ``turns`` sequential sends each."""
    config = SessionConfig(model="echo")
    ids = [f"tput-{uuid.uuid4().hex[:8]}" for _ in range(concurrency)]
    await asyncio.gather(
        *(stack.sessions.send(s, "warm", user_id="bench-user", config=config) for s in ids)
    )

    async def lane(session_id: str) -> None:
        for turn in range(turns):
            await stack.sessions.send(session_id, f"turn {turn}", user_id="bench-user")

    started = time.perf_counter()
    await asyncio.gather(*(lane(s) for s in ids))
    elapsed = time.perf_counter() - started
    return concurrency * turns / elapsed


async def run(levels: list[int], turns: int) -> dict[str, Any]:
    """Measure each concurrency level, floor first, on one dev server and worker."""
    results: dict[str, Any] = {"turns_per_session": turns, "levels": {}}
    with tempfile.TemporaryDirectory() as data_dir:
        async with process_stack(Path(data_dir)) as stack:
            for level in levels:
                progress(f"throughput: floor at {level} concurrent workflows")
                cpu = CpuMeter(stack.worker.pid)
                floor = await floor_rate(stack, level, turns)
                floor_cpu = cpu.per_turn_ms(level * (turns + 1))
                progress(f"throughput: {level} concurrent sessions")
                ours = await session_rate(stack, level, turns)
                session_cpu = cpu.per_turn_ms(level * (turns + 1))
                results["levels"][str(level)] = {
                    "floor_cpu": floor_cpu,
                    "session_cpu": session_cpu,
                    "floor_turns_per_s": round(floor, 1),
                    "session_turns_per_s": round(ours, 1),
                    "ratio": round(ours / floor, 3),
                    "goal_ratio": 0.8,
                    "goal_met": ours / floor >= 0.8,
                }
    return results


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``python -m bench throughput``."""
    parser.add_argument("--levels", default="50,200", help="concurrency levels")
    parser.add_argument("--turns", type=int, default=10, help="turns per session")


async def main(args: argparse.Namespace, command: str) -> dict[str, Any]:
    """Run and save."""
    result = await run([int(x) for x in args.levels.split(",")], args.turns)
    save("throughput", result, command)
    return result
