"""Session start: update-with-start to a new session until its first reply."""

import argparse
import asyncio
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench.harness import ProcessStack, process_stack, progress, save, summary_ms
from models import SessionConfig

CONFIG = SessionConfig(model="echo")


async def first_reply(stack: ProcessStack) -> float:
    """Seconds from sending to a new session until its reply."""
    started = time.perf_counter()
    await stack.sessions.send(f"start-{uuid.uuid4().hex[:10]}", "hello", user_id="u", config=CONFIG)
    return time.perf_counter() - started


async def run(sequential: int, concurrent: int) -> dict[str, Any]:
    """Sequential starts, then a burst of concurrent starts."""
    with tempfile.TemporaryDirectory() as data_dir:
        async with process_stack(Path(data_dir)) as stack:
            await first_reply(stack)
            progress(f"start: {sequential} sequential new sessions")
            one_by_one = [await first_reply(stack) for _ in range(sequential)]
            progress(f"start: {concurrent} concurrent new sessions")
            started = time.perf_counter()
            burst = await asyncio.gather(*(first_reply(stack) for _ in range(concurrent)))
            burst_total = time.perf_counter() - started
    return {
        "sequential_ms": summary_ms(one_by_one),
        "concurrent": concurrent,
        "concurrent_ms": summary_ms(list(burst)),
        "concurrent_all_done_ms": round(burst_total * 1000, 1),
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``python -m bench start``."""
    parser.add_argument("--sequential", type=int, default=100)
    parser.add_argument("--concurrent", type=int, default=50)


async def main(args: argparse.Namespace, command: str) -> dict[str, Any]:
    """Run and save."""
    result = await run(args.sequential, args.concurrent)
    save("start", result, command)
    return result
