"""``python -m bench NAME [options]``: run a benchmark, save bench/results/NAME.json.

``python -m bench all`` runs every benchmark and then ``report``, which rewrites
docs/BENCHMARKS.md and its plots; ``--quick`` is a ~3-minute smoke run with small counts whose
results go to bench/results-quick/ (the documented results are left alone).
"""

import argparse
import asyncio
import json
import os
import sys
from types import ModuleType
from typing import Any

from bench import (
    context,
    harness,
    idle,
    latency,
    long,
    page,
    profile,
    recall,
    report,
    scaleout,
    start,
    steering,
    streaming,
    throughput,
    tools,
)

BENCHMARKS: dict[str, ModuleType] = {
    "latency": latency,
    "throughput": throughput,
    "profile": profile,
    "start": start,
    "idle": idle,
    "long": long,
    "streaming": streaming,
    "recall": recall,
    "scaleout": scaleout,
    "context": context,
    "tools": tools,
    "steering": steering,
    "page": page,
    "report": report,
}

# Arguments of each benchmark for `all` (full) and `all --quick`.
FULL: dict[str, list[str]] = {
    "latency": ["--turns", "500"],
    "throughput": ["--levels", "50,200", "--turns", "10"],
    "start": ["--sequential", "100", "--concurrent", "50"],
    "idle": ["--sessions", "10000", "--probes", "100", "--cache", "1000"],
    "long": ["--turns", "5000"],
    "streaming": ["--rounds", "3"],
    "recall": ["--records", "10000", "--queries", "200", "--turns", "100"],
    "scaleout": ["--workers", "3", "--sessions", "200", "--turns", "5"],
    "profile": ["--sessions", "50", "--turns", "10"],
    "tools": ["--turns", "300", "--modes", "auto,any"],
    "steering": ["--runs", "20"],
}
QUICK: dict[str, list[str]] = {
    "latency": ["--turns", "100"],
    "throughput": ["--levels", "50,200", "--turns", "3"],
    "start": ["--sequential", "20", "--concurrent", "50"],
    "idle": ["--sessions", "1000", "--probes", "30", "--cache", "200"],
    "long": ["--turns", "600"],
    "streaming": ["--rounds", "1"],
    "recall": ["--records", "10000", "--queries", "50", "--turns", "30"],
    "scaleout": ["--workers", "3", "--sessions", "50", "--turns", "3"],
    "tools": ["--turns", "50", "--modes", "any"],
    "steering": ["--runs", "5"],
}


def parser() -> argparse.ArgumentParser:
    """Subcommands: every benchmark, ``report`` and ``all``."""
    top = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    commands = top.add_subparsers(dest="name", required=True)
    for name, module in BENCHMARKS.items():
        module.add_arguments(
            commands.add_parser(name, help=(module.__doc__ or name).splitlines()[0])
        )
    every = commands.add_parser("all", help="every benchmark, then the report")
    every.add_argument("--quick", action="store_true", help="small counts (~3 minutes)")
    return top


async def run_all(quick: bool) -> dict[str, Any]:
    """Each benchmark in turn with the `all` arguments, then the report."""
    plan = QUICK if quick else FULL
    if quick:
        # Quick numbers are a smoke run: keep them away from the documented results.
        harness.RESULTS = harness.RESULTS.parent / "results-quick"
    results: dict[str, Any] = {}
    for name, arguments in plan.items():
        args = parser().parse_args([name, *arguments])
        command = "python -m bench " + " ".join([name, *arguments])
        results[name] = await BENCHMARKS[name].main(args, command)
    if not quick:
        await report.main(argparse.Namespace(), "python -m bench report")
    return results


def main() -> None:
    """Parse, run, print the result, exit hard (sdk-python#300)."""
    args = parser().parse_args()
    if args.name == "all":
        result = asyncio.run(run_all(args.quick))
    else:
        command = "python -m bench " + " ".join(sys.argv[1:])
        result = asyncio.run(BENCHMARKS[args.name].main(args, command))
    print(json.dumps(result, indent=2)[:4000])
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
