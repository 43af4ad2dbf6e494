"""Profile: where the worker's CPU goes per session turn under concurrent load.

The worker (``python -m bench.worker``) profiles every thread with ``cProfile`` on CPU
time while ``--sessions`` sessions each send ``--turns`` turns back to back (the throughput
benchmark's session half). Figures are CPU ms per turn (profiling adds overhead: compare
the shares, not the absolute numbers, with the throughput benchmark).
"""

import argparse
import os
import pstats
import tempfile
from pathlib import Path
from typing import Any

from bench.harness import process_stack, progress, save
from bench.throughput import session_rate
from bench.worker import PROFILE_ENV

# Where a function's own time goes: the first matching fragment of its file path.
GROUPS: list[tuple[str, str]] = [
    ("temporalio/strands_agents", "temporalio-strands-agents plugin"),
    ("temporalio/worker/_workflow_instance", "SDK: workflow instance (activation, commands)"),
    ("temporalio/worker", "SDK: worker (polling, activations, activities)"),
    ("temporalio/converter", "SDK: payload conversion"),
    ("temporalio/bridge", "SDK: bridge to the Rust core"),
    ("temporalio", "SDK: other"),
    ("google/protobuf", "protobuf"),
    ("strands/", "Strands agent loop"),
    ("pydantic", "pydantic validation and serialisation"),
    ("sqlite3", "SQLite (memory store)"),
    ("/workflows/", "convoflow: session workflow"),
    ("/activities/", "convoflow: activities (memory, providers)"),
    ("/models/", "convoflow: models"),
    ("/worker/", "convoflow: worker (converter, codec)"),
    ("uuid", "uuid (ids)"),
    ("asyncio", "asyncio event loop"),
    ("concurrent/futures", "thread pool"),
    ("threading", "threads"),
]


def _group(filename: str, function: str) -> str:
    where = filename.replace("\\", "/")
    if where == "~":  # a builtin: name it by what it is
        where = function
    for fragment, name in GROUPS:
        if fragment in where:
            return name
    return "other (stdlib, builtins)"


# Blocking calls: a thread parked in them is waiting, yet cProfile still charges it some
# time (the pool threads' queue wait), so they are reported apart from the CPU figures.
BLOCKING = ("SimpleQueue' objects", "acquire", "epoll", "select", "sleep", "wait")


def summarise(stats: pstats.Stats, turns: int, top: int = 15) -> dict[str, Any]:
    """CPU ms per turn by group and the functions with the most own time."""
    everything: dict[tuple[str, int, str], tuple[Any, ...]] = stats.stats  # type: ignore[attr-defined]
    raw = {k: v for k, v in everything.items() if not any(b in k[2] for b in BLOCKING)}
    waiting = sum(v[2] for k, v in everything.items() if k not in raw)
    total = sum(entry[2] for entry in raw.values())
    groups: dict[str, float] = {}
    for (filename, _, function), entry in raw.items():
        name = _group(filename, function)
        groups[name] = groups.get(name, 0.0) + entry[2]
    functions = sorted(raw.items(), key=lambda item: item[1][2], reverse=True)[:top]
    per_turn = 1000.0 / turns
    return {
        "turns": turns,
        "cpu_ms_per_turn": round(total * per_turn, 2),
        "blocking_ms_per_turn": round(waiting * per_turn, 2),
        "groups_ms_per_turn": {
            name: round(seconds * per_turn, 2)
            for name, seconds in sorted(groups.items(), key=lambda item: -item[1])
        },
        "top_functions": [
            {
                "function": f"{Path(filename).name}:{line} {function}",
                "own_ms_per_turn": round(entry[2] * per_turn, 3),
                "calls_per_turn": round(entry[1] / turns, 1),
            }
            for (filename, line, function), entry in functions
        ],
    }


async def run(sessions: int, turns: int) -> dict[str, Any]:
    """Profile the worker while the sessions run; return the summary."""
    with tempfile.TemporaryDirectory() as data_dir:
        path = Path(data_dir) / "worker.prof"
        os.environ[PROFILE_ENV] = str(path)
        try:
            async with process_stack(Path(data_dir)) as stack:
                progress(f"profile: {sessions} sessions x {turns} turns")
                rate = await session_rate(stack, sessions, turns)
        finally:
            del os.environ[PROFILE_ENV]
        # The warm-up turn of each session is profiled too.
        summary = summarise(pstats.Stats(str(path)), sessions * (turns + 1))
    summary["sessions"] = sessions
    summary["turns_per_s_while_profiled"] = round(rate, 1)
    return summary


def section(r: dict[str, Any]) -> list[str]:
    """The BENCHMARKS.md section."""
    lines = [
        "## Where a session turn's worker CPU goes (profile)",
        "",
        f"{r['sessions']} sessions x {r['turns'] // r['sessions'] - 1} turns (+1 warm-up each),"
        f" every worker thread under cProfile on CPU time: {r['cpu_ms_per_turn']} ms per turn"
        " (profiling inflates this; the shares are what counts).",
        "",
        "| where | CPU ms per turn | share |",
        "| --- | --- | --- |",
    ]
    total = r["cpu_ms_per_turn"] or 1.0
    for name, ms in r["groups_ms_per_turn"].items():
        if ms >= 0.05:
            lines.append(f"| {name} | {ms} | {round(100 * ms / total)}% |")
    lines += ["", "Functions with the most own time:", ""]
    lines += ["| function | own ms per turn | calls per turn |", "| --- | --- | --- |"]
    for row in r["top_functions"]:
        lines.append(
            f"| `{row['function']}` | {row['own_ms_per_turn']} | {row['calls_per_turn']} |"
        )
    return lines


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``python -m bench profile``."""
    parser.add_argument("--sessions", type=int, default=50, help="concurrent sessions")
    parser.add_argument("--turns", type=int, default=10, help="turns per session")


async def main(args: argparse.Namespace, command: str) -> dict[str, Any]:
    """Run and save."""
    result = await run(args.sessions, args.turns)
    save("profile", result, command)
    return result
