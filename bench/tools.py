"""Tools: tool-turn latency against the floor, and the local model's tool selection.

``python -m bench tools`` runs both parts (``--part latency|selection|all``): the latency
of a turn with one fast tool against a floor of two activities per update
(``bench.tool_latency``, saved as bench/results/tools.json, or ``tools-fast-transfer``
with ``--fast-transfer``), and how often the embedded local model calls the right tool
with valid arguments (``bench.tool_selection``, saved as bench/results/tool_selection.json).
"""

import argparse
from typing import Any

from bench import tool_latency, tool_selection
from bench.harness import save

PARTS = ("latency", "selection", "all")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``python -m bench tools``."""
    parser.add_argument("--part", choices=PARTS, default="all", help="which part to run")
    parser.add_argument("--turns", type=int, default=300, help="latency: turns per mode")
    parser.add_argument(
        "--fast-transfer",
        action="store_true",
        help="latency: the dev server with a faster transfer queue (saved as"
        " tools-fast-transfer), to compare",
    )
    parser.add_argument(
        "--modes",
        default="auto,any",
        help="selection: tool choices to run, comma-separated (auto, any)",
    )


async def main(args: argparse.Namespace, command: str) -> dict[str, Any]:
    """Run the parts asked for; each saves its own result file."""
    results: dict[str, Any] = {}
    if args.part in ("latency", "all"):
        latency = await tool_latency.run(args.turns, fast_transfer=args.fast_transfer)
        save("tools-fast-transfer" if args.fast_transfer else "tools", latency, command)
        results["latency"] = latency
    if args.part in ("selection", "all"):
        modes = tool_selection.parse_modes(args.modes)
        results["selection"] = await tool_selection.main(modes, command)
    return results
