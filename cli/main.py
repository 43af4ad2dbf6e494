"""The ``convoflow`` command line: dev stack, worker, and session commands.

Data commands take ``--json`` and then print exactly one JSON document (errors included).
Exit codes: 0 ok, 1 failure (turn failed, not found, Temporal unreachable), 2 bad input.
"""

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from agents import AgentDefinitionError
from cli.commands import (
    _chat,
    _close,
    _codec_keygen,
    _codec_server,
    _gateway,
    _history,
    _memory,
    _replay,
    _send,
    _sessions,
    _status,
    _submit,
    _token,
)
from cli.dev import run_dev
from cli.parser import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    UsageError,
    _report_error,
    build_parser,
    settings_from,
)
from cli.steering import approvals, cancel, fork, regenerate
from client.errors import (
    ConvoflowError,
    MessageRejectedError,
    SessionNotFoundError,
    TurnFailedError,
)
from client.session_client import SessionClient
from models import InvalidIdError
from models.settings import Settings
from worker.client import connect_client
from worker.codec import CodecConfigError
from worker.deployment import DeploymentConfigError, deployment_version
from worker.dev_server import DevServerError
from worker.run import load_worker_agents, run_worker


async def _worker(settings: Settings) -> int:
    deployment_version(settings)  # a half-configured deployment fails before connecting
    client = await connect_client(settings, metrics=True)
    await run_worker(client, settings)
    return EXIT_OK


async def run_command(args: argparse.Namespace) -> int:
    """Run the parsed command; translate errors into messages and exit codes."""
    try:
        settings = settings_from(args)
        if args.command in ("dev", "worker", "replay"):
            load_worker_agents(settings)  # a bad definition stops here, in one line
        if args.command == "dev":
            return await run_dev(args, settings)
        if args.command == "worker":
            return await _worker(settings)
        if args.command == "replay":
            return await _replay(args, settings)
        if args.command == "gateway":
            return await _gateway(args, settings)
        if args.command == "token":
            return _token(args, settings)
        if args.command == "codec-keygen":
            return _codec_keygen(args)
        if args.command == "codec-server":
            return await _codec_server(args, settings)
        if args.command == "memory":
            return await _memory(args, settings)
        handlers = {
            "send": _send,
            "submit": _submit,
            "history": _history,
            "status": _status,
            "close": _close,
            "sessions": _sessions,
            "chat": _chat,
            "cancel": cancel,
            "approvals": approvals,
            "regenerate": regenerate,
            "fork": fork,
        }
        sessions = await SessionClient.connect(settings)
        return await handlers[args.command](args, sessions, settings)
    except (
        MessageRejectedError,
        InvalidIdError,
        UsageError,
        ValidationError,
        CodecConfigError,
        DeploymentConfigError,
        AgentDefinitionError,
    ) as err:
        kind = err.kind if isinstance(err, MessageRejectedError) else type(err).__name__
        _report_error(args, kind, str(err))
        return EXIT_BAD_INPUT
    except (TurnFailedError, SessionNotFoundError, ConvoflowError, DevServerError) as err:
        _report_error(args, type(err).__name__, str(err))
        return EXIT_FAILED
    except RuntimeError as err:
        if "connect" in str(err).lower():
            address = (
                getattr(args, "temporal_address", None) or Settings().connection.temporal_address
            )
            _report_error(args, "ConnectionError", f"cannot reach Temporal at {address}: {err}")
            return EXIT_FAILED
        raise


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``convoflow`` console script."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose or args.command == "worker" else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        code = asyncio.run(run_command(args))
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    sys.stdout.flush()
    sys.stderr.flush()
    # Exit hard: the interpreter can abort at exit after Temporal work (sdk-python#300).
    os._exit(code)


if __name__ == "__main__":
    main()
