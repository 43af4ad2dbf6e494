"""A turn with one fast tool (echo model + one trivial tool activity), against the floor.

The session's agent ``bench-tool`` has one tool, ``bench_tool``, which returns its input:
each turn is the model asking for it (echo's ``/tool`` mode), the tool activity, and the
model answering with its result: three activities one after the other. The floor is
``FloorWorkflow`` running two activities one after the other per update, in the same run on
the same server and worker. The same tool as a local activity (``ToolDefinition(local=True)``,
``bench_local_tool``) is measured too.
"""

import argparse
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from temporalio import activity

from agents import AgentDefinition, ToolDefinition
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

GOAL = 1.2


@activity.defn(name="bench_tool")
async def bench_tool(text: str) -> str:
    """Return ``text`` (the trivial tool)."""
    return text


@activity.defn(name="bench_local_tool")
async def bench_local_tool(text: str) -> str:
    """Return ``text`` (the trivial tool, run as a local activity)."""
    return text


BENCH_AGENT = AgentDefinition(
    name="bench-tool", tools=[bench_tool, ToolDefinition(bench_local_tool, local=True)]
)


async def floor_turns(stack: ProcessStack, turns: int, activities: int) -> list[float]:
    """Latencies of ``turns`` floor updates running ``activities`` activities each."""
    handle = await stack.client.start_workflow(
        FloorWorkflow.run,
        id=f"floor-{uuid.uuid4().hex[:8]}",
        task_queue=stack.settings.connection.task_queue,
    )
    await handle.execute_update(FloorWorkflow.ping, Ping("warm up", activities=activities))
    latencies = []
    for turn in range(turns):
        started = time.perf_counter()
        await handle.execute_update(FloorWorkflow.ping, Ping(f"turn {turn}", activities=activities))
        latencies.append(time.perf_counter() - started)
    await handle.signal(FloorWorkflow.stop)
    return latencies


async def session_turns(
    stack: ProcessStack, turns: int, *, tool: str | None, user_id: str | None
) -> tuple[list[float], str]:
    """Latencies of ``turns`` sequential turns (calling ``tool``, or none) in one session."""
    session_id = f"tools-{uuid.uuid4().hex[:8]}"
    config = SessionConfig(model="echo", agent="bench-tool")

    def text(turn: int | str) -> str:
        return f'/tool {tool} {{"text": "turn {turn}"}}' if tool else f"turn {turn}"

    first = await stack.sessions.send(session_id, text("warm"), user_id=user_id, config=config)
    assert first.reply == "echo: turn warm", first.reply
    latencies = []
    for turn in range(turns):
        started = time.perf_counter()
        await stack.sessions.send(session_id, text(turn), user_id=user_id)
        latencies.append(time.perf_counter() - started)
    return latencies, stack.sessions.handle(session_id).id


async def run(turns: int) -> dict[str, Any]:
    """Measure every mode in one run, on one dev server and worker."""
    with tempfile.TemporaryDirectory() as data_dir:
        async with process_stack(Path(data_dir), agents="bench.tools") as stack:
            progress(f"floor: {turns} updates, two activities each")
            floor_two = await floor_turns(stack, turns, 2)
            progress(f"floor: {turns} updates, one activity each")
            floor_one = await floor_turns(stack, turns, 1)
            progress(f"session: {turns} turns with one tool call (no user)")
            tool, tool_id = await session_turns(stack, turns, tool="bench_tool", user_id=None)
            progress(f"session: {turns} turns with one tool call (user set: recall + memory)")
            tool_user, _ = await session_turns(
                stack, turns, tool="bench_tool", user_id="bench-user"
            )
            progress(f"session: {turns} turns with one local tool call (no user)")
            local, _ = await session_turns(stack, turns, tool="bench_local_tool", user_id=None)
            progress(f"session: {turns} turns without a tool (no user)")
            plain, _ = await session_turns(stack, turns, tool=None, user_id=None)
            events = size = 0  # every run of the session (it continues as new on the way)
            async for past in stack.client.list_workflows(f"WorkflowId = '{tool_id}'"):
                run_events, run_size = await history_cost(stack.client, tool_id, past.run_id)
                events, size = events + run_events, size + run_size
    floor_p50 = percentile(floor_two, 50)
    ratio = percentile(tool, 50) / floor_p50
    return {
        "turns": turns,
        "floor_two_activities_ms": summary_ms(floor_two),
        "floor_one_activity_ms": summary_ms(floor_one),
        "tool_turn_ms": summary_ms(tool),
        "tool_turn_user_ms": summary_ms(tool_user),
        "local_tool_turn_ms": summary_ms(local),
        "plain_turn_ms": summary_ms(plain),
        "tool_turn_p50_over_floor": round(ratio, 3),
        "tool_turn_user_p50_over_floor": round(percentile(tool_user, 50) / floor_p50, 3),
        "local_tool_turn_p50_over_floor": round(percentile(local, 50) / floor_p50, 3),
        "tool_turn_p50_over_three_activities": round(
            percentile(tool, 50) / (percentile(floor_one, 50) * 3), 3
        ),
        "goal_p50_over_floor": GOAL,
        "goal_met": ratio <= GOAL,
        "local_goal_met": percentile(local, 50) / floor_p50 <= GOAL,
        "tool_turn_events": round(events / (turns + 1), 2),
        "tool_turn_bytes": round(size / (turns + 1)),
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``python -m bench tools``."""
    parser.add_argument("--turns", type=int, default=300, help="sequential turns per mode")


async def main(args: argparse.Namespace, command: str) -> dict[str, Any]:
    """Run and save."""
    result = await run(args.turns)
    save("tools", result, command)
    return result
