"""The steering subcommands: ``convoflow approvals``, ``cancel``, ``regenerate``, ``fork``."""

import argparse
import json
import sys

from cli.parser import EXIT_OK, _user, emit_json
from client.session_client import SessionClient
from models import SessionConfig
from models.approvals import ApprovalRequest
from models.settings import Settings


def new_session_config(args: argparse.Namespace) -> SessionConfig | None:
    """What ``--require-approval`` asks of a session the command starts (None: nothing)."""
    tools = getattr(args, "require_approval", None)
    return SessionConfig(require_approval=list(dict.fromkeys(tools))) if tools else None


def approval_line(request: ApprovalRequest) -> str:
    """One request as people read it."""
    arguments = json.dumps(request.input, ensure_ascii=False, sort_keys=True)
    when = f"until {request.deadline.isoformat(timespec='seconds')}"
    state = when if request.state == "pending" else request.state
    return f"{request.id}\t{request.tool} {arguments[:200]}\t{state}\t{request.reason}"


async def approvals(args: argparse.Namespace, sessions: SessionClient, settings: Settings) -> int:
    """``approvals list|approve|deny``: read or answer the running turn's requests."""
    tenant, user = settings.cli.tenant, _user(settings)
    if args.approvals_command == "list":
        requests = await sessions.approvals(args.session, tenant_id=tenant, user_id=user)
        if args.json:
            emit_json({"session_id": args.session, "approvals": requests})
        else:
            for request in requests:
                sys.stdout.write(approval_line(request) + "\n")
            if not requests:
                sys.stdout.write("nothing waits for approval\n")
        return EXIT_OK
    if args.approvals_command == "approve":
        answered = await sessions.approve(
            args.session, args.request_id, tenant_id=tenant, user_id=user
        )
    else:
        answered = await sessions.deny(
            args.session, args.request_id, message=args.message, tenant_id=tenant, user_id=user
        )
    if args.json:
        emit_json(answered)
    else:
        sys.stdout.write(f"{answered.state}: {answered.tool} ({answered.id})\n")
    return EXIT_OK


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
