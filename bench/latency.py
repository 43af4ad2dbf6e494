"""Turn latency over sequential turns in one session, against the floor and a direct call.

Also the history cost per turn (events, bytes) of a session turn and of a floor round trip.
"""

import argparse
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from strands import Agent

from activities.providers import EchoModel
from bench.floor import FloorWorkflow, Ping
from bench.harness import (
    ProcessStack,
    history_cost,
    percentile,
    process_stack,
    progress,
    save,
    summary_ms,
)
from models import SessionConfig


async def floor_turns(stack: ProcessStack, turns: int, *, local: bool) -> tuple[list[float], str]:
    """Latencies of ``turns`` floor updates to one workflow; returns them and its id."""
    workflow_id = f"floor-{uuid.uuid4().hex[:8]}"
    handle = await stack.client.start_workflow(
        FloorWorkflow.run, id=workflow_id, task_queue=stack.settings.connection.task_queue
    )
    await handle.execute_update(FloorWorkflow.ping, Ping("warm up", local))
    latencies = []
    for turn in range(turns):
        started = time.perf_counter()
        await handle.execute_update(FloorWorkflow.ping, Ping(f"turn {turn}", local))
        latencies.append(time.perf_counter() - started)
    await handle.signal(FloorWorkflow.stop)
    return latencies, workflow_id


async def session_turns(
    stack: ProcessStack, turns: int, config: SessionConfig, user_id: str | None
) -> tuple[list[float], str]:
    """Latencies of ``turns`` sequential sends to one session."""
    session_id = f"latency-{uuid.uuid4().hex[:8]}"
    await stack.sessions.send(session_id, "warm up", user_id=user_id, config=config)
    latencies = []
    for turn in range(turns):
        started = time.perf_counter()
        await stack.sessions.send(session_id, f"turn {turn}", user_id=user_id)
        latencies.append(time.perf_counter() - started)
    return latencies, stack.sessions.handle(session_id).id


async def direct_turns(turns: int) -> list[float]:
    """The same Strands agent and echo model called in-process, no Temporal."""
    latencies = []
    for turn in range(turns):
        agent = Agent(model=EchoModel(), callback_handler=None)
        started = time.perf_counter()
        await agent.invoke_async(f"turn {turn}")
        latencies.append(time.perf_counter() - started)
    return latencies


async def run(turns: int) -> dict[str, Any]:
    """Measure every mode in one run, on one dev server and worker."""
    config = SessionConfig(model="echo")
    with tempfile.TemporaryDirectory() as data_dir:
        async with process_stack(Path(data_dir)) as stack:
            progress(f"floor: {turns} updates, one activity each")
            floor, floor_id = await floor_turns(stack, turns, local=False)
            progress(f"floor: {turns} updates, one local activity each")
            floor_local, _ = await floor_turns(stack, turns, local=True)
            progress(f"session: {turns} turns (user set: recall + memory extraction)")
            ours, session_id = await session_turns(stack, turns, config, "bench-user")
            progress(f"session: {turns} turns (no user: no recall)")
            anonymous, _ = await session_turns(stack, turns, config, None)
            floor_events, floor_bytes = await history_cost(stack.client, floor_id)
            # Every run of the session (it may continue-as-new along the way).
            events = size = 0
            async for run in stack.client.list_workflows(f"WorkflowId = '{session_id}'"):
                run_events, run_size = await history_cost(stack.client, session_id, run.run_id)
                events += run_events
                size += run_size
    progress(f"direct: {turns} in-process agent calls")
    direct = await direct_turns(turns)
    floor_p50 = percentile(floor, 50)
    ours_p50 = percentile(ours, 50)
    # The floor's update: accepted + activity (3) + completed + 2 workflow tasks (6) ~ 11.
    per_turn_events = events / (turns + 1)
    return {
        "turns": turns,
        "floor_activity_ms": summary_ms(floor),
        "floor_local_activity_ms": summary_ms(floor_local),
        "session_ms": summary_ms(ours),
        "session_no_user_ms": summary_ms(anonymous),
        "direct_ms": summary_ms(direct),
        "session_p50_over_floor": round(ours_p50 / floor_p50, 3),
        "session_no_user_p50_over_floor": round(percentile(anonymous, 50) / floor_p50, 3),
        "goal_p50_over_floor": 1.25,
        "goal_met": ours_p50 / floor_p50 <= 1.25,
        "session_events_per_turn": round(per_turn_events, 2),
        "session_bytes_per_turn": round(size / (turns + 1)),
        "floor_events_per_update": round(floor_events / (turns + 1), 2),
        "floor_bytes_per_update": round(floor_bytes / (turns + 1)),
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``python -m bench latency``."""
    parser.add_argument("--turns", type=int, default=500, help="sequential turns per mode")


async def main(args: argparse.Namespace, command: str) -> dict[str, Any]:
    """Run and save."""
    result = await run(args.turns)
    save("latency", result, command)
    return result
