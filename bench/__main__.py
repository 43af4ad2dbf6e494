"""``python -m bench NAME [options]``: run a benchmark, save bench/results/NAME.json."""

import argparse
import asyncio
import json
import os
import sys

from bench import streaming

BENCHMARKS = {"streaming": streaming}


def main() -> None:
    """Parse, run, print the result, exit hard (sdk-python#300)."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    commands = parser.add_subparsers(dest="name", required=True)
    for name, module in BENCHMARKS.items():
        module.add_arguments(commands.add_parser(name, help=module.__doc__.splitlines()[0]))
    args = parser.parse_args()
    command = "python -m bench " + " ".join(sys.argv[1:])
    result = asyncio.run(BENCHMARKS[args.name].main(args, command))
    print(json.dumps(result, indent=2))
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
