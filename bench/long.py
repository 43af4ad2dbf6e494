"""A long conversation: thousands of turns through continue-as-new, latency and history per run."""

import argparse
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import EventType

from bench.harness import percentile, process_stack, progress, save, summary_ms
from models import SessionConfig


async def run(turns: int) -> dict[str, Any]:
    """Send ``turns`` sequential turns; then read every run's history."""
    config = SessionConfig(model="echo")
    session_id = f"long-{uuid.uuid4().hex[:8]}"
    latencies: list[float] = []
    with tempfile.TemporaryDirectory() as data_dir:
        async with process_stack(Path(data_dir)) as stack:
            for turn in range(turns):
                started = time.perf_counter()
                await stack.sessions.send(
                    session_id, f"turn {turn}", user_id="long-user", config=config
                )
                latencies.append(time.perf_counter() - started)
                if (turn + 1) % 500 == 0:
                    progress(f"long: {turn + 1}/{turns} turns")
            workflow_id = stack.sessions.handle(session_id).id
            run_ids = [
                execution.run_id
                async for execution in stack.client.list_workflows(f"WorkflowId = '{workflow_id}'")
            ]
            run_ids.reverse()
            runs: list[dict[str, Any]] = []
            for run_id in run_ids:
                history = await stack.client.get_workflow_handle(
                    workflow_id, run_id=run_id
                ).fetch_history()
                turns_in_run = sum(
                    1
                    for event in history.events
                    if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
                )
                runs.append(
                    {
                        "run_id": run_id,
                        "events": len(history.events),
                        "bytes": sum(event.ByteSize() for event in history.events),
                        "turns": turns_in_run,
                    }
                )
            status = await stack.sessions.status(session_id)
    most_events = max(int(r["events"]) for r in runs)
    for entry in runs:
        entry["bytes_per_turn"] = round(entry["bytes"] / max(entry["turns"], 1))
        entry["events_per_turn"] = round(entry["events"] / max(entry["turns"], 1), 2)
    window = 50
    early = latencies[window : 2 * window]
    late = latencies[-window:]
    return {
        "turns": turns,
        "runs": len(runs),
        "run_number_reported": status.run,
        "max_events_per_run": most_events,
        "goal_max_events_per_run": 10_000,
        "events_goal_met": most_events < 10_000,
        "per_run": runs,
        "latency_ms_per_turn": [round(x * 1000, 2) for x in latencies],
        "turns_50_to_100_ms": summary_ms(early),
        "last_50_turns_ms": summary_ms(late),
        "late_over_early_p50": round(percentile(late, 50) / percentile(early, 50), 3),
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``python -m bench long``."""
    parser.add_argument("--turns", type=int, default=5000)


async def main(args: argparse.Namespace, command: str) -> dict[str, Any]:
    """Run and save."""
    result = await run(args.turns)
    save("long", result, command)
    return result
