"""Tool-turn latency (``python -m bench tools --part latency``): a turn with one fast tool
(echo model + one trivial tool activity), against the floor.

The session's agent ``bench-tool`` has one tool, ``bench_tool``, which returns its input:
each turn is the model asking for it (echo's ``/tool`` mode), the tool activity, and the
model answering with its result: three activities one after the other. The floor is
``FloorWorkflow`` running two activities one after the other per update, in the same run on
the same server and worker. The same tool as a local activity (``ToolDefinition(local=True)``,
``bench_local_tool``) is measured too.
"""

import itertools
import statistics
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from temporalio import activity
from temporalio.api.enums.v1 import EventType

from agents import AgentDefinition, ToolDefinition
from bench.floor import FloorWorkflow, Ping
from bench.harness import (
    ProcessStack,
    history_cost,
    percentile,
    process_stack,
    progress,
    summary_ms,
)
from models import SessionConfig

GOAL = 1.2

FAST_TRANSFER: dict[str, int] = {"history.transferProcessorMaxPollRPS": 1000}
"""A server setting ``--fast-transfer`` compares: a workflow task that an activity's
completion creates is a transfer task, and the history service reads its transfer queue at
most this many times a second per shard (default 20; the dev server has one shard)."""


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


async def floor_turns(
    stack: ProcessStack, turns: int, activities: int
) -> tuple[list[float], dict[str, float]]:
    """Latencies of ``turns`` floor updates running ``activities`` activities each, and where
    the time of one activity hop went (:func:`hop_breakdown`)."""
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
    return latencies, hop_breakdown((await handle.fetch_history()).events)


# One activity hop, as the history's event times show it (ms, median over the run).
HOP_STEPS: dict[str, tuple[int, int]] = {
    "activity dispatch (scheduled → started)": (
        EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
        EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED,
    ),
    "activity run and report (started → completed)": (
        EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED,
        EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
    ),
    "next workflow task created (activity completed → scheduled)": (
        EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
        EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
    ),
    "next workflow task reaches the worker (scheduled → started)": (
        EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
        EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
    ),
    "worker runs it and reports (started → completed)": (
        EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
        EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
    ),
}


def hop_breakdown(events: Sequence[Any]) -> dict[str, float]:
    """Median gap of each :data:`HOP_STEPS` step; workflow-task steps only for the tasks an
    activity's completion created (not those an update delivered)."""
    gaps: dict[str, list[float]] = {name: [] for name in HOP_STEPS}
    after_activity = False
    for before, after in itertools.pairwise(events):
        kinds = (before.event_type, after.event_type)
        if kinds[0] == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            after_activity = True
        elif kinds[0] == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            after_activity = False
        for name, step in HOP_STEPS.items():
            workflow_task = step[1] in (
                EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
                EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
            )
            if kinds == step and (after_activity or not workflow_task):
                seconds = after.event_time.ToDatetime() - before.event_time.ToDatetime()
                gaps[name].append(seconds.total_seconds() * 1000)
    return {name: round(statistics.median(v), 2) if v else 0.0 for name, v in gaps.items()}


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


async def run(turns: int, *, fast_transfer: bool = False) -> dict[str, Any]:
    """Measure every mode in one run, on one dev server and worker (the server with
    :data:`FAST_TRANSFER` when ``fast_transfer``, else with its defaults)."""
    config = FAST_TRANSFER if fast_transfer else {}
    with tempfile.TemporaryDirectory() as data_dir:
        stack_context = process_stack(
            Path(data_dir), dynamic_config=config, agents="bench.tool_latency"
        )
        async with stack_context as stack:
            progress(f"floor: {turns} updates, two activities each")
            floor_two, hop = await floor_turns(stack, turns, 2)
            progress(f"floor: {turns} updates, one activity each")
            floor_one, _ = await floor_turns(stack, turns, 1)
            progress(f"floor: {turns} updates, three activities each")
            floor_three, _ = await floor_turns(stack, turns, 3)
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
        "server_dynamic_config": config,
        "floor_two_activities_ms": summary_ms(floor_two),
        "floor_one_activity_ms": summary_ms(floor_one),
        "tool_turn_ms": summary_ms(tool),
        "tool_turn_user_ms": summary_ms(tool_user),
        "local_tool_turn_ms": summary_ms(local),
        "plain_turn_ms": summary_ms(plain),
        "tool_turn_p50_over_floor": round(ratio, 3),
        "tool_turn_user_p50_over_floor": round(percentile(tool_user, 50) / floor_p50, 3),
        "local_tool_turn_p50_over_floor": round(percentile(local, 50) / floor_p50, 3),
        "floor_three_activities_ms": summary_ms(floor_three),
        "tool_turn_p50_over_three_activities": round(
            percentile(tool, 50) / percentile(floor_three, 50), 3
        ),
        "hop_ms": hop,
        "goal_p50_over_floor": GOAL,
        "goal_met": ratio <= GOAL,
        "local_goal_met": percentile(local, 50) / floor_p50 <= GOAL,
        "tool_turn_events": round(events / (turns + 1), 2),
        "tool_turn_bytes": round(size / (turns + 1)),
    }
