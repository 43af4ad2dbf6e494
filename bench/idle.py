"""Many idle sessions: worker memory with the sticky cache bounded, and cold vs warm turns."""

import argparse
import asyncio
import random
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench.harness import (
    ProcessStack,
    percentile,
    process_stack,
    progress,
    rss_mb,
    save,
    summary_ms,
)
from models import SessionConfig

CONFIG = SessionConfig(model="echo")


async def open_sessions(stack: ProcessStack, count: int, parallel: int) -> list[str]:
    """Open ``count`` sessions with one turn each, ``parallel`` at a time."""
    ids = [f"idle-{uuid.uuid4().hex[:10]}" for _ in range(count)]
    gate = asyncio.Semaphore(parallel)

    async def one(session_id: str) -> None:
        async with gate:
            await stack.sessions.send(session_id, "hello", user_id="idle-user", config=CONFIG)

    for start in range(0, count, 1000):
        await asyncio.gather(*(one(s) for s in ids[start : start + 1000]))
        progress(f"idle: {min(start + 1000, count)}/{count} sessions open")
    return ids


async def run(count: int, probes: int, cache: int) -> dict[str, Any]:
    """Open sessions, measure RSS, then cold and warm turn latency."""
    with tempfile.TemporaryDirectory() as data_dir:
        async with process_stack(Path(data_dir), max_cached_workflows=cache) as stack:
            baseline = rss_mb(stack.worker.pid)
            ids = await open_sessions(stack, count, 100)
            await asyncio.sleep(2)
            after_open = rss_mb(stack.worker.pid)
            rng = random.Random(7)
            cold: list[float] = []
            warm: list[float] = []
            progress(f"idle: {probes} turns to random idle sessions (cold, then warm)")
            for session_id in rng.sample(ids, probes):
                for bucket in (cold, warm):
                    started = time.perf_counter()
                    await stack.sessions.send(session_id, "are you there?", user_id="idle-user")
                    bucket.append(time.perf_counter() - started)
            peak = rss_mb(stack.worker.pid)
    ratio = percentile(cold, 50) / percentile(warm, 50)
    return {
        "sessions": count,
        "max_cached_workflows": cache,
        "worker_rss_mb": {
            "start": round(baseline, 1),
            "after_open": round(after_open, 1),
            "after_probes": round(peak, 1),
        },
        "goal_rss_mb": 400,
        "rss_goal_met": peak <= 400,
        "cold_turn_ms": summary_ms(cold),
        "warm_turn_ms": summary_ms(warm),
        "cold_over_warm_p50": round(ratio, 3),
        "goal_cold_over_warm": 2.0,
        "cold_goal_met": ratio <= 2.0,
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``python -m bench idle``."""
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--probes", type=int, default=100)
    parser.add_argument("--cache", type=int, default=1000, help="worker sticky cache size")


async def main(args: argparse.Namespace, command: str) -> dict[str, Any]:
    """Run and save."""
    result = await run(args.sessions, args.probes, args.cache)
    save("idle", result, command)
    return result
