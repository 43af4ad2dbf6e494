"""The steering subcommands: ``convoflow cancel``, ``regenerate`` and ``fork``."""

import argparse
import sys

from cli.parser import EXIT_OK, _user, emit_json
from client.session_client import SessionClient
from models.settings import Settings


async def cancel(args: argparse.Namespace, sessions: SessionClient, settings: Settings) -> int:
    """Cancel the running turn; print what happened (and the partial reply)."""
    result = await sessions.cancel(
        args.session, tenant_id=settings.cli.tenant, user_id=_user(settings)
    )
    if args.json:
        emit_json(result)
    else:
        sys.stdout.write(f"{result.status}: {result.detail}\n")
        if result.reply is not None:
            sys.stdout.write(result.reply.reply + "\n")
    return EXIT_OK


async def regenerate(args: argparse.Namespace, sessions: SessionClient, settings: Settings) -> int:
    """Run the last user message again; print the new reply."""
    reply = await sessions.regenerate(
        args.session, tenant_id=settings.cli.tenant, user_id=_user(settings)
    )
    if args.json:
        emit_json(reply)
    else:
        sys.stdout.write(reply.reply + "\n")
    return EXIT_OK


async def fork(args: argparse.Namespace, sessions: SessionClient, settings: Settings) -> int:
    """Start ``--to`` with this session's messages up to ``--at``."""
    result = await sessions.fork(
        args.session, args.at, args.to, tenant_id=settings.cli.tenant, user_id=_user(settings)
    )
    if args.json:
        emit_json(result)
    else:
        sys.stdout.write(
            f"forked {result.forked_from} at {result.at_seq} into {result.session_id}"
            f" ({result.messages} messages)\n"
        )
    return EXIT_OK
